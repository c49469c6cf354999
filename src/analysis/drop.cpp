// DROP (every object type), DROP OWNED and REASSIGN OWNED: which relations the
// statement drops, whose columns it drops and which tables it locks, found the way
// dependency.c findDependentObjects() walks pg_depend, with the relation locks the
// deletion routines take (heap_drop_with_catalog, index_drop, RemoveConstraintById,
// RemoveTriggerById, RemovePolicyById, RemoveRewriteRuleById, RemoveAttrDefaultById
// all open their table ACCESS EXCLUSIVE; AcquireDeletionLock locks every relation and
// every table whose column is dropped ACCESS EXCLUSIVE).  Nothing is locked here:
// the walk reads pg_depend through the catalog indexes under the catalog's own
// ACCESS SHARE lock.
#include "analysis/analysis.hpp"
#include "analysis/statement_catalog.hpp"
#include "boundary.hpp"

namespace schema_guard::analysis {
namespace {

using policy::RuleId;

// How an object was reached (dependency.c DEPFLAG_*).
enum ReachFlags : uint8 {
  kOriginal = 1 << 0,  // named by the statement
  kNormal = 1 << 1,    // a normal dependency: dropped only with CASCADE
  kAlong = 1 << 2,     // auto, internal, partition or extension member: always dropped
  kReverse = 1 << 3,   // the owner of an internal part (or extension member) that is dropped
};

struct Reached {
  ObjectAddress address;
  uint8 flags;
  int via;  // index of the object it was reached from, -1 for the original ones
};

// Hostile catalogs (millions of dependent objects) must not make the hook slow:
// beyond this many objects the walk stops and says so.
constexpr int kMaxObjects = 20000;

struct DropWalk {
  Reached *objects;
  int count;
  int capacity;
  bool truncated;
};

int FindReached(const DropWalk *walk, const ObjectAddress &a) {
  for (int i = 0; i < walk->count; i++) {
    const ObjectAddress &o = walk->objects[i].address;
    if (o.classId == a.classId && o.objectId == a.objectId && o.objectSubId == a.objectSubId) return i;
  }
  return -1;
}

// Is `a` already part of a whole relation the walk drops (a column of a dropped table)?
bool InsideDroppedRelation(const DropWalk *walk, const ObjectAddress &a) {
  if (a.classId != RelationRelationId || a.objectSubId == 0) return false;
  ObjectAddress whole = a;
  whole.objectSubId = 0;
  return FindReached(walk, whole) >= 0;
}

void Reach(DropWalk *walk, const ObjectAddress &a, uint8 flag, int via) {
  const int found = FindReached(walk, a);
  if (found >= 0) {
    walk->objects[found].flags |= flag;
    return;
  }
  if (walk->count >= kMaxObjects) {
    walk->truncated = true;
    return;
  }
  if (walk->count == walk->capacity) {
    walk->capacity *= 2;
    walk->objects = static_cast<Reached *>(repalloc(walk->objects, sizeof(Reached) * walk->capacity));
  }
  walk->objects[walk->count++] = {a, flag, via};
}

DropWalk NewWalk() {
  DropWalk walk = {static_cast<Reached *>(palloc(sizeof(Reached) * 16)), 0, 16, false};
  return walk;
}

// Breadth-first over pg_depend: every object that depends on a reached one.
void WalkDependents(DropWalk *walk) {
  Relation depRel = table_open(DependRelationId, AccessShareLock);
  for (int i = 0; i < walk->count && !walk->truncated; i++) {
    const ObjectAddress object = walk->objects[i].address;
    // An object reached through a dependency that is an internal part of another
    // (a generated column's expression, a constraint's index) or a member of an
    // extension takes its owner along: findDependentObjects() turns the request
    // into a deletion of the owning object.
    if (!(walk->objects[i].flags & kOriginal)) {
      ScanKeyData okey[3];
      ScanKeyInit(&okey[0], Anum_pg_depend_classid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(object.classId));
      ScanKeyInit(&okey[1], Anum_pg_depend_objid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(object.objectId));
      ScanKeyInit(&okey[2], Anum_pg_depend_objsubid, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(object.objectSubId));
      SysScanDesc oscan = systable_beginscan(depRel, DependDependerIndexId, true, nullptr, 3, okey);
      HeapTuple otup;
      while (HeapTupleIsValid(otup = systable_getnext(oscan))) {
        auto *dep = reinterpret_cast<Form_pg_depend>(GETSTRUCT(otup));
        if (dep->deptype != DEPENDENCY_INTERNAL && dep->deptype != DEPENDENCY_EXTENSION) continue;
        const ObjectAddress owner = {dep->refclassid, dep->refobjid, dep->refobjsubid};
        if (!InsideDroppedRelation(walk, owner)) Reach(walk, owner, kReverse, i);
      }
      systable_endscan(oscan);
    }
    ForEachDependent(depRel, object, [walk, &object, i](const FormData_pg_depend &dep) {
      const ObjectAddress dependent = {dep.classid, dep.objid, dep.objsubid};
      // A relation's own columns depend on nothing; its sub-objects are reached whole.
      if (dependent.classId == object.classId && dependent.objectId == object.objectId) return;
      if (InsideDroppedRelation(walk, dependent)) return;
      uint8 flag;
      switch (dep.deptype) {
        case DEPENDENCY_NORMAL: flag = kNormal; break;
        case DEPENDENCY_AUTO:
        case DEPENDENCY_AUTO_EXTENSION:
        case DEPENDENCY_INTERNAL:
        case DEPENDENCY_PARTITION_PRI:
        case DEPENDENCY_PARTITION_SEC:
        case DEPENDENCY_EXTENSION: flag = kAlong; break;
        default: return;
      }
      Reach(walk, dependent, flag, i);
    });
  }
  table_close(depRel, AccessShareLock);
}

// RESTRICT fails when an object is reached neither as an original nor through an
// auto, internal, partition or extension dependency (reportDependentObjects()).
bool RestrictFails(const DropWalk *walk) {
  for (int i = 0; i < walk->count; i++)
    if (!(walk->objects[i].flags & (kOriginal | kAlong))) return true;
  return false;
}

bool IsDropped(const DropWalk *walk, Oid relid) {
  const ObjectAddress whole = {RelationRelationId, relid, 0};
  return FindReached(walk, whole) >= 0;
}

// The table a non-relation object belongs to, locked ACCESS EXCLUSIVE when the
// object is removed (InvalidOid for objects that lock no relation).
Oid OwningTable(const ObjectAddress &a) {
  Oid relid = InvalidOid;
  HeapTuple tup = nullptr;
  if (a.classId == ConstraintRelationId) {
    tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(a.objectId));
    if (tup != nullptr) relid = reinterpret_cast<Form_pg_constraint>(GETSTRUCT(tup))->conrelid;
  } else if (a.classId == TriggerRelationId || a.classId == PolicyRelationId ||
             a.classId == RewriteRelationId || a.classId == AttrDefaultRelationId) {
    // No syscache by OID for these: read the row through its OID index.
    Oid indexoid;
    AttrNumber oidcol, relcol;
    switch (a.classId) {
      case TriggerRelationId: indexoid = TriggerOidIndexId; oidcol = Anum_pg_trigger_oid; relcol = Anum_pg_trigger_tgrelid; break;
      case PolicyRelationId: indexoid = PolicyOidIndexId; oidcol = Anum_pg_policy_oid; relcol = Anum_pg_policy_polrelid; break;
      case RewriteRelationId: indexoid = RewriteOidIndexId; oidcol = Anum_pg_rewrite_oid; relcol = Anum_pg_rewrite_ev_class; break;
      default: indexoid = AttrDefaultOidIndexId; oidcol = Anum_pg_attrdef_oid; relcol = Anum_pg_attrdef_adrelid; break;
    }
    ScanKeyData key;
    ScanKeyInit(&key, oidcol, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(a.objectId));
    Relation catalog = table_open(a.classId, AccessShareLock);
    SysScanDesc scan = systable_beginscan(catalog, indexoid, true, nullptr, 1, &key);
    HeapTuple row = systable_getnext(scan);
    if (HeapTupleIsValid(row)) {
      bool isnull;
      const Datum d = heap_getattr(row, relcol, RelationGetDescr(catalog), &isnull);
      if (!isnull) relid = DatumGetObjectId(d);
    }
    systable_endscan(scan);
    table_close(catalog, AccessShareLock);
    return relid;
  }
  if (tup != nullptr) ReleaseSysCache(tup);
  return relid;
}

const char *ObjectText(const ObjectAddress &a) {
  const char *text = getObjectDescription(&a, true);
  return text != nullptr ? text : "an object";
}

// Lock a relation others can see.
void LockVisible(StatementAnalysis *out, Oid relid, LOCKMODE lock) {
  if (OidIsValid(relid) && !IsExemptRelation(relid)) AddLockTarget(out, relid, lock);
}

// Turn the walk into lock targets and findings.  command: e.g. "DROP TYPE".
// judge_originals: false when the caller judges the named objects itself (ALTER
// TABLE ... DROP COLUMN / CONSTRAINT), so only their dependents are added here.
void JudgeWalk(const DropWalk *walk, const char *command, StatementAnalysis *out, bool judge_originals = true) {
  for (int i = 0; i < walk->count; i++) {
    const Reached &r = walk->objects[i];
    const ObjectAddress &a = r.address;
    if (!judge_originals && (r.flags & kOriginal)) continue;
    // Described only for a finding: most reached objects (a table's row type, TOAST
    // table, defaults, indexes) make none, and a description reads the catalog.
    auto cascade_reason = [walk, &r]() -> const char * {
      return r.via >= 0 ? psprintf("It is dropped with %s, which it depends on.",
                                   ObjectText(walk->objects[r.via].address))
                        : nullptr;
    };
    if (a.classId == RelationRelationId && a.objectSubId != 0) {
      // A column dropped by the CASCADE (its type, default function, sequence ...).
      if (IsDropped(walk, a.objectId) || IsExemptRelation(a.objectId)) continue;
      const char *colname = get_attname(a.objectId, static_cast<AttrNumber>(a.objectSubId), true);
      if (colname == nullptr) continue;
      AddLockTarget(out, a.objectId, AccessExclusiveLock);
      AddFinding(out, RuleId::DropColumn, a.objectId, AccessExclusiveLock, kBreaks,
                 psprintf("column %s", quote_identifier(colname)), cascade_reason());
      continue;
    }
    if (a.classId == RelationRelationId) {
      const char relkind = get_rel_relkind(a.objectId);
      switch (relkind) {
        case RELKIND_INDEX:
        case RELKIND_PARTITIONED_INDEX: {
          // index_drop() locks the table ACCESS EXCLUSIVE (unless CONCURRENTLY).
          const Oid table = IndexGetRelation(a.objectId, true);
          if (OidIsValid(table) && !IsDropped(walk, table)) LockVisible(out, table, AccessExclusiveLock);
          break;
        }
        case RELKIND_RELATION:
        case RELKIND_PARTITIONED_TABLE:
        case RELKIND_MATVIEW:
        case RELKIND_VIEW:
        case RELKIND_FOREIGN_TABLE:
        case RELKIND_SEQUENCE: {
          if (IsExemptRelation(a.objectId)) break;
          AddLockTarget(out, a.objectId, AccessExclusiveLock);
          if (relkind == RELKIND_RELATION || relkind == RELKIND_PARTITIONED_TABLE)
            AddFinding(out, RuleId::DropTable, a.objectId, AccessExclusiveLock, kBreaks, command, cascade_reason());
          // heap_drop_with_catalog(): dropping a partition locks its parent and the
          // default partition, whose partition constraint changes.
          if (get_rel_relispartition(a.objectId)) {
            const Oid parent = get_partition_parent(a.objectId, true);
            if (OidIsValid(parent) && !IsDropped(walk, parent)) {
              LockVisible(out, parent, AccessExclusiveLock);
              const Oid def = get_default_partition_oid(parent);
              if (OidIsValid(def) && def != a.objectId && !IsDropped(walk, def))
                LockVisible(out, def, AccessExclusiveLock);
            }
          }
          break;
        }
        default:
          break;
      }
      continue;
    }
    const Oid table = OwningTable(a);
    if (OidIsValid(table) && !IsDropped(walk, table)) {
      LockVisible(out, table, AccessExclusiveLock);
      // A foreign key's triggers live on the referenced table too; they are reached
      // in the walk as internal parts of the constraint and lock it there.
    }
  }
}

// Resolve a DROP's object names to addresses without locking anything.  Relations
// and objects on a relation (trigger, policy, rule) are looked up directly: the
// server's get_object_address() would open the relation.
struct ResolveArgs {
  ObjectType type;
  Node *object;
  ObjectAddress result;
};

void ResolveObject(void *arg) {
  auto *p = static_cast<ResolveArgs *>(arg);
  Relation rel = nullptr;
  p->result = get_object_address(p->type, p->object, &rel, AccessShareLock, true);
  if (rel != nullptr) relation_close(rel, NoLock);
}

}  // namespace

ObjectAddress ResolveDropTarget(ObjectType type, Node *object) {
  ObjectAddress none = {InvalidOid, InvalidOid, 0};
  switch (type) {
    case OBJECT_TABLE:
    case OBJECT_VIEW:
    case OBJECT_MATVIEW:
    case OBJECT_FOREIGN_TABLE:
    case OBJECT_SEQUENCE:
    case OBJECT_INDEX: {
      if (!IsA(object, List)) return none;
      RangeVar *rv = makeRangeVarFromNameList(castNode(List, object));
      const Oid relid = LookupRelation(rv);
      if (!OidIsValid(relid)) return none;
      // RemoveRelations() refuses a relation of another kind (DROP VIEW of a table).
      const char kind = get_rel_relkind(relid);
      const bool fits =
          (type == OBJECT_TABLE && (kind == RELKIND_RELATION || kind == RELKIND_PARTITIONED_TABLE)) ||
          (type == OBJECT_VIEW && kind == RELKIND_VIEW) || (type == OBJECT_MATVIEW && kind == RELKIND_MATVIEW) ||
          (type == OBJECT_FOREIGN_TABLE && kind == RELKIND_FOREIGN_TABLE) ||
          (type == OBJECT_SEQUENCE && kind == RELKIND_SEQUENCE) ||
          (type == OBJECT_INDEX && (kind == RELKIND_INDEX || kind == RELKIND_PARTITIONED_INDEX));
      if (!fits) return none;
      ObjectAddress a = {RelationRelationId, relid, 0};
      return a;
    }
    case OBJECT_TRIGGER:
    case OBJECT_POLICY:
    case OBJECT_RULE: {
      if (!IsA(object, List) || list_length(castNode(List, object)) < 2) return none;
      List *names = castNode(List, object);
      RangeVar *rv = makeRangeVarFromNameList(list_truncate(list_copy(names), list_length(names) - 1));
      const Oid relid = LookupRelation(rv);
      if (!OidIsValid(relid)) return none;
      const char *name = strVal(llast(names));
      ObjectAddress a = {InvalidOid, InvalidOid, 0};
      if (type == OBJECT_TRIGGER) {
        a.classId = TriggerRelationId;
        a.objectId = get_trigger_oid(relid, name, true);
      } else if (type == OBJECT_POLICY) {
        a.classId = PolicyRelationId;
        a.objectId = get_relation_policy_oid(relid, name, true);
      } else {
        a.classId = RewriteRelationId;
        a.objectId = get_rewrite_oid(relid, name, true);
      }
      return OidIsValid(a.objectId) ? a : none;
    }
    case OBJECT_TYPE:
    case OBJECT_DOMAIN: {
      if (!IsA(object, TypeName)) return none;
      const Oid type = LookupTypeNameOid(nullptr, castNode(TypeName, object), true);
      ObjectAddress a = {TypeRelationId, type, 0};
      return OidIsValid(type) ? a : none;
    }
    case OBJECT_SCHEMA: {
      if (!IsA(object, String)) return none;
      ObjectAddress a = {NamespaceRelationId, get_namespace_oid(strVal(object), true), 0};
      return OidIsValid(a.objectId) ? a : none;
    }
    case OBJECT_EXTENSION: {
      if (!IsA(object, String)) return none;
      ObjectAddress a = {ExtensionRelationId, get_extension_oid(strVal(object), true), 0};
      return OidIsValid(a.objectId) ? a : none;
    }
    default: {
      // Functions, collations, operator classes ...: get_object_address() locks the
      // object itself (not a relation) in ACCESS SHARE mode; the subtransaction is
      // rolled back, which releases it.
      ResolveArgs args = {type, object, none};
      if (!TryInSubtransaction(ResolveObject, &args)) return none;
      return args.result;
    }
  }
}

namespace {

const char *DropCommand(ObjectType type, bool cascade) {
  const char *name;
  switch (type) {
    case OBJECT_TABLE: name = "DROP TABLE"; break;
    case OBJECT_VIEW: name = "DROP VIEW"; break;
    case OBJECT_MATVIEW: name = "DROP MATERIALIZED VIEW"; break;
    case OBJECT_FOREIGN_TABLE: name = "DROP FOREIGN TABLE"; break;
    case OBJECT_SEQUENCE: name = "DROP SEQUENCE"; break;
    case OBJECT_INDEX: name = "DROP INDEX"; break;
    case OBJECT_TRIGGER: name = "DROP TRIGGER"; break;
    case OBJECT_POLICY: name = "DROP POLICY"; break;
    case OBJECT_RULE: name = "DROP RULE"; break;
    case OBJECT_TYPE: name = "DROP TYPE"; break;
    case OBJECT_DOMAIN: name = "DROP DOMAIN"; break;
    case OBJECT_SCHEMA: name = "DROP SCHEMA"; break;
    case OBJECT_FUNCTION: name = "DROP FUNCTION"; break;
    case OBJECT_PROCEDURE: name = "DROP PROCEDURE"; break;
    case OBJECT_ROUTINE: name = "DROP ROUTINE"; break;
    case OBJECT_EXTENSION: name = "DROP EXTENSION"; break;
    case OBJECT_COLLATION: name = "DROP COLLATION"; break;
    case OBJECT_OPCLASS: name = "DROP OPERATOR CLASS"; break;
    case OBJECT_OPFAMILY: name = "DROP OPERATOR FAMILY"; break;
    case OBJECT_OPERATOR: name = "DROP OPERATOR"; break;
    case OBJECT_AGGREGATE: name = "DROP AGGREGATE"; break;
    case OBJECT_FOREIGN_SERVER: name = "DROP SERVER"; break;
    default: name = "DROP"; break;
  }
  return cascade ? psprintf("%s ... CASCADE", name) : name;
}

// DROP INDEX (not CONCURRENTLY) of one index: its own rule, on the index's table.
void JudgeDropIndex(Oid indexoid, const char *name, StatementAnalysis *out) {
  const Oid relid = IndexGetRelation(indexoid, true);
  if (!OidIsValid(relid) || IsExemptRelation(relid)) return;
  AddLockTarget(out, relid, AccessExclusiveLock);
  AddFinding(out, RuleId::DropIndexBlocking, relid, AccessExclusiveLock, 0,
             psprintf("DROP INDEX %s", quote_identifier(name)));
}

}  // namespace

void AnalyzeDrop(DropStmt *stmt, StatementAnalysis *out) {
  // DROP INDEX CONCURRENTLY takes SHARE UPDATE EXCLUSIVE and waits for readers instead.
  if (stmt->removeType == OBJECT_INDEX && stmt->concurrent) return;
  const bool cascade = stmt->behavior == DROP_CASCADE;
  const char *command = DropCommand(stmt->removeType, cascade);
  out->command = DropCommand(stmt->removeType, false);
  DropWalk walk = NewWalk();
  ListCell *lc;
  foreach (lc, stmt->objects) {
    Node *object = static_cast<Node *>(lfirst(lc));
    const ObjectAddress a = ResolveDropTarget(stmt->removeType, object);
    if (!OidIsValid(a.objectId)) continue;  // missing: IF EXISTS skips it, or PostgreSQL reports it
    if (stmt->removeType == OBJECT_INDEX)
      JudgeDropIndex(a.objectId, strVal(llast(castNode(List, object))), out);
    Reach(&walk, a, kOriginal, -1);
  }
  if (walk.count == 0) return;
  WalkDependents(&walk);
  // Without CASCADE PostgreSQL refuses when something else depends on the objects;
  // it has locked the named relations by then, and judged are those locks only.
  if (!cascade && RestrictFails(&walk)) {
    DropWalk named = NewWalk();
    for (int i = 0; i < walk.count; i++)
      if (walk.objects[i].flags & kOriginal) Reach(&named, walk.objects[i].address, kOriginal, -1);
    JudgeWalk(&named, command, out);
    return;
  }
  JudgeWalk(&walk, command, out);
}

void JudgeDependentsOfDrop(const ObjectAddress &object, bool cascade, const char *command, StatementAnalysis *out) {
  DropWalk walk = NewWalk();
  Reach(&walk, object, kOriginal, -1);
  WalkDependents(&walk);
  if (!cascade && RestrictFails(&walk)) return;  // PostgreSQL refuses
  JudgeWalk(&walk, command, out, false);
}

namespace {

// Calls fn for each pg_shdepend row of this database that references one of roles
// (DROP OWNED and REASSIGN OWNED walk the same rows, as shdepDropOwned() and
// shdepReassignOwned() do).  Roles that no longer exist are skipped.
void ForEachSharedDependency(List *roles, void (*fn)(const FormData_pg_shdepend *sdep, void *arg), void *arg) {
  Relation sdepRel = table_open(SharedDependRelationId, AccessShareLock);
  ListCell *lc;
  foreach (lc, roles) {
    const Oid roleid = get_rolespec_oid(static_cast<RoleSpec *>(lfirst(lc)), true);
    if (!OidIsValid(roleid)) continue;
    ScanKeyData key[2];
    ScanKeyInit(&key[0], Anum_pg_shdepend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
                ObjectIdGetDatum(AuthIdRelationId));
    ScanKeyInit(&key[1], Anum_pg_shdepend_refobjid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(roleid));
    SysScanDesc scan = systable_beginscan(sdepRel, SharedDependReferenceIndexId, true, nullptr, 2, key);
    HeapTuple tup;
    while (HeapTupleIsValid(tup = systable_getnext(scan))) {
      const auto *sdep = reinterpret_cast<Form_pg_shdepend>(GETSTRUCT(tup));
      if (sdep->dbid == MyDatabaseId) fn(sdep, arg);
    }
    systable_endscan(scan);
  }
  table_close(sdepRel, AccessShareLock);
}

struct DropOwnedScan {
  DropWalk *walk;
  List *policy_tables;
};

void CollectDropOwned(const FormData_pg_shdepend *sdep, void *arg) {
  auto *scan = static_cast<DropOwnedScan *>(arg);
  ObjectAddress a = {sdep->classid, sdep->objid, sdep->objsubid};
  if (sdep->deptype == SHARED_DEPENDENCY_OWNER) {
    Reach(scan->walk, a, kOriginal, -1);
  } else if (sdep->deptype == SHARED_DEPENDENCY_POLICY) {
    // RemoveRoleFromObjectPolicy() rewrites or drops the policy: ACCESS EXCLUSIVE on its table.
    const Oid table = OwningTable(a);
    if (OidIsValid(table)) scan->policy_tables = list_append_unique_oid(scan->policy_tables, table);
  }
}

void LockOwnedRelation(const FormData_pg_shdepend *sdep, void *arg) {
  if (sdep->deptype == SHARED_DEPENDENCY_OWNER && sdep->classid == RelationRelationId)
    LockVisible(static_cast<StatementAnalysis *>(arg), sdep->objid, AccessExclusiveLock);
}

}  // namespace

void AnalyzeDropOwned(DropOwnedStmt *stmt, StatementAnalysis *out) {
  out->command = "DROP OWNED";
  DropWalk walk = NewWalk();
  DropOwnedScan scan = {&walk, NIL};
  ForEachSharedDependency(stmt->roles, CollectDropOwned, &scan);
  ListCell *lc;
  foreach (lc, scan.policy_tables) LockVisible(out, lfirst_oid(lc), AccessExclusiveLock);
  if (walk.count == 0) return;
  WalkDependents(&walk);
  const bool cascade = stmt->behavior == DROP_CASCADE;
  if (!cascade && RestrictFails(&walk)) return;  // refused before anything is dropped
  JudgeWalk(&walk, cascade ? "DROP OWNED ... CASCADE" : "DROP OWNED", out);
}

void AnalyzeReassignOwned(ReassignOwnedStmt *stmt, StatementAnalysis *out) {
  // shdepReassignOwned(): ATExecChangeOwner(..., AccessExclusiveLock) on every owned
  // relation of this database.
  out->command = "REASSIGN OWNED";
  ForEachSharedDependency(stmt->roles, LockOwnedRelation, out);
}

}  // namespace schema_guard::analysis
