// What the caller may do and see.  The hook runs before PostgreSQL's own permission
// checks: a role that may not run a statement must get PostgreSQL's "must be owner"
// or "permission denied", not the guard's verdict (which would also tell it sizes and
// lock holders of tables it has no privilege on).  The checks are the ones the server
// makes for each statement (ownership, or the ACL bit it tests), read without raising
// an error when the object is gone: a vanished object is PostgreSQL's to report.
//
// The answers must not err towards "may not": a statement the caller may run after
// all would run unjudged.  Where the server's rule is finer than what is checked here
// (column privileges, say), the answer is "may run", and the statement is judged.
// test/t/privileges.sh runs a probe of every statement family as roles without
// privileges, with the guard on and off, and compares what PostgreSQL says.
#include "analysis/analysis.hpp"

namespace schema_guard::analysis {
namespace {

constexpr AclMode kAnyTablePrivilege = ACL_SELECT | ACL_INSERT | ACL_UPDATE | ACL_DELETE | ACL_TRUNCATE |
                                       ACL_REFERENCES | ACL_TRIGGER;

bool IsCaller(Oid role) { return has_privs_of_role(GetUserId(), role); }  // superusers are everyone

// Ownership as pg_class_ownercheck() decides it (superusers own everything).
bool OwnsRelation(Oid relid) {
  if (!OidIsValid(relid)) return true;  // missing: PostgreSQL says so
  HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (tup == nullptr) return true;
  const Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup))->relowner;
  ReleaseSysCache(tup);
  return IsCaller(owner);
}

bool OwnsNamespace(Oid nsp) {
  HeapTuple tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nsp));
  if (tup == nullptr) return true;
  const Oid owner = reinterpret_cast<Form_pg_namespace>(GETSTRUCT(tup))->nspowner;
  ReleaseSysCache(tup);
  return IsCaller(owner);
}

bool OwnsType(Oid typid) {
  HeapTuple tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
  if (tup == nullptr) return true;
  const Oid owner = reinterpret_cast<Form_pg_type>(GETSTRUCT(tup))->typowner;
  ReleaseSysCache(tup);
  return IsCaller(owner);
}

bool HasTablePrivilege(Oid relid, AclMode mode) {
  if (!OidIsValid(relid)) return true;
  // any of the mode's privileges (pg_class_aclcheck is pg_class_aclmask with ACLMASK_ANY)
  bool missing = false;
  const AclResult result = pg_class_aclcheck_ext(relid, GetUserId(), mode, &missing);
  return missing || result == ACLCHECK_OK;
}

// The ACL checks on schemas, tablespaces and databases raise an error for a row that
// is gone: look first (a row dropped in between is a race PostgreSQL reports itself).
bool HasNamespaceCreate(Oid nsp, Oid role) {
  if (!OidIsValid(nsp) || !SearchSysCacheExists1(NAMESPACEOID, ObjectIdGetDatum(nsp))) return true;
  return SG_NAMESPACE_ACLCHECK(nsp, role, ACL_CREATE) == ACLCHECK_OK;
}

// CREATE on a tablespace other than the database's default (which everyone may use).
bool HasTablespaceCreate(Oid spc) {
  if (!OidIsValid(spc) || spc == MyDatabaseTableSpace ||
      !SearchSysCacheExists1(TABLESPACEOID, ObjectIdGetDatum(spc)))
    return true;
  return SG_TABLESPACE_ACLCHECK(spc, GetUserId(), ACL_CREATE) == ACLCHECK_OK;
}

bool HasTablespaceCreate(const char *name) {
  return name == nullptr || HasTablespaceCreate(get_tablespace_oid(name, true));
}

bool Owns(const RangeVar *rv) { return rv == nullptr || OwnsRelation(LookupRelation(rv)); }

// VACUUM, CLUSTER, REINDEX, REFRESH MATERIALIZED VIEW: the table's owner up to 16,
// the MAINTAIN privilege from 17 (pg_compat.hpp).
bool MayMaintain(Oid relid) {
  if (SG_MAINTAIN_PRIVILEGE != 0) return HasTablePrivilege(relid, SG_MAINTAIN_PRIVILEGE);
  return OwnsRelation(relid);
}

// The schema a new relation named rv is created in (RangeVarGetCreationNamespace()
// without its errors: InvalidOid when PostgreSQL will complain, or for a temporary one).
Oid CreationNamespace(const RangeVar *rv) {
  if (rv == nullptr || rv->relpersistence == RELPERSISTENCE_TEMP) return InvalidOid;
  if (rv->schemaname != nullptr) return get_namespace_oid(rv->schemaname, true);
  List *path = fetch_search_path(false);
  const Oid first = path != NIL ? linitial_oid(path) : InvalidOid;
  return OidIsValid(first) && !isAnyTempNamespace(first) ? first : InvalidOid;
}

// checkFkeyPermissions(): REFERENCES on the referenced table, or on each referenced
// column (a column grant counts as "may": the statement is judged).
bool MayReference(const RangeVar *pktable) {
  const Oid relid = LookupRelation(pktable);
  if (HasTablePrivilege(relid, ACL_REFERENCES)) return true;
  return pg_attribute_aclcheck_all(relid, GetUserId(), ACL_REFERENCES, ACLMASK_ANY) == ACLCHECK_OK;
}

bool MayReferenceAll(List *constraints) {
  ListCell *lc;
  foreach (lc, constraints) {
    auto *con = static_cast<Node *>(lfirst(lc));
    if (IsA(con, Constraint) && reinterpret_cast<Constraint *>(con)->contype == CONSTR_FOREIGN &&
        !MayReference(reinterpret_cast<Constraint *>(con)->pktable))
      return false;
  }
  return true;
}

// ATExecChangeOwner(): a member of the new owner, which must be allowed to create in
// the table's schema (nothing is checked when the owner does not change).
bool MayChangeOwner(Oid relid, RoleSpec *newowner) {
  const Oid role = get_rolespec_oid(newowner, true);
  if (!OidIsValid(role) || !OidIsValid(relid) || superuser()) return true;
  HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (tup == nullptr) return true;
  const auto *form = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup));
  const Oid owner = form->relowner;
  const Oid nsp = form->relnamespace;
  ReleaseSysCache(tup);
  if (owner == role) return true;
  return is_member_of_role(GetUserId(), role) && HasNamespaceCreate(nsp, role);
}

// Subcommands whose recursion to partitions and inheritance children checks the
// caller's ownership of each (ATSimpleRecursion(), ATPrepAlterColumnType(), and the
// recursion of ATExecAddColumn(), ATAddCheckConstraint()).  DROP COLUMN only on a
// partitioned table: ATExecDropColumn() recurses into the children whose column is not
// also their own, which a partition's never is, but an inheritance child's may be.
bool RecursionChecksOwnership(const AlterTableCmd *cmd, char relkind) {
  switch (cmd->subtype) {
    case AT_DropColumn:
      return relkind == RELKIND_PARTITIONED_TABLE;
    case AT_AddColumn:
    case AT_ColumnDefault:
    case AT_DropNotNull:
    case AT_SetNotNull:
    case AT_SetStatistics:
    case AT_SetStorage:
    case AT_AlterColumnType:
    case AT_DropExpression:
      return true;
    case AT_AddConstraint:
      return cmd->def != nullptr && IsA(cmd->def, Constraint) &&
             reinterpret_cast<Constraint *>(cmd->def)->contype == CONSTR_CHECK &&
             !reinterpret_cast<Constraint *>(cmd->def)->is_no_inherit;
    default:
      return false;
  }
}

// Does the constraint list build an index (UNIQUE, PRIMARY KEY, EXCLUDE)?
bool BuildsIndex(List *constraints) {
  ListCell *lc;
  foreach (lc, constraints) {
    auto *con = static_cast<Node *>(lfirst(lc));
    if (!IsA(con, Constraint)) continue;
    const ConstrType t = reinterpret_cast<Constraint *>(con)->contype;
    if ((t == CONSTR_UNIQUE || t == CONSTR_PRIMARY || t == CONSTR_EXCLUSION) &&
        reinterpret_cast<Constraint *>(con)->indexname == nullptr)
      return true;
  }
  return false;
}

// The key column names of a new index, or NIL when it has an expression (unknown).
List *KeyColumnNames(List *index_params) {
  List *names = NIL;
  ListCell *lc;
  foreach (lc, index_params) {
    auto *elem = static_cast<IndexElem *>(lfirst(lc));
    if (!IsA(elem, IndexElem) || elem->name == nullptr) return NIL;
    names = lappend(names, elem->name);
  }
  return names;
}

// The key columns of ADD UNIQUE / PRIMARY KEY (NIL for EXCLUDE: unknown).
List *ConstraintKeyNames(const Constraint *con) {
  if (con->contype == CONSTR_EXCLUSION) return NIL;
  List *names = NIL;
  ListCell *lc;
  foreach (lc, con->keys) names = lappend(names, strVal(lfirst(lc)));
  return names;
}

// Could DefineIndex() attach an index `table` already has instead of creating one?
// An index on exactly these plain columns may match (CompareIndexInfo() also compares
// operator classes, collations and more); with the columns unknown, any index may.
bool MayAttachExistingIndex(Oid table, List *key_names) {
  Relation rel = RelationIdGetRelation(table);
  if (rel == nullptr) return true;
  List *indexes = RelationGetIndexList(rel);
  RelationClose(rel);
  if (key_names == NIL) return indexes != NIL;
  ListCell *lc;
  foreach (lc, indexes) {
    HeapTuple tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
    if (tup == nullptr) continue;
    const auto *idx = reinterpret_cast<Form_pg_index>(GETSTRUCT(tup));
    bool match = idx->indnkeyatts == list_length(key_names) && heap_attisnull(tup, Anum_pg_index_indexprs, nullptr) &&
                 heap_attisnull(tup, Anum_pg_index_indpred, nullptr);
    for (int i = 0; match && i < idx->indnkeyatts; i++) {
      const char *name = get_attname(table, idx->indkey.values[i], true);
      match = name != nullptr && strcmp(name, static_cast<const char *>(list_nth(key_names, i))) == 0;
    }
    ReleaseSysCache(tup);
    if (match) return true;
  }
  return false;
}

// DefineIndex() with check_rights: CREATE on the table's schema, and, building on a
// partitioned table, on the schema of every partition an index is created on (not
// where one that matches is attached).  key_names: KeyColumnNames(), NIL if unknown.
bool MayCreateIndexOn(Oid relid, bool recurse, List *key_names) {
  if (!OidIsValid(relid)) return true;
  // (inheritance children of a plain table get no index)
  List *tables = recurse && get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE ? InheritanceTree(relid)
                                                                                 : list_make1_oid(relid);
  ListCell *lc;
  foreach (lc, tables) {
    const Oid table = lfirst_oid(lc);
    const Oid nsp = get_rel_namespace(table);
    if (!OidIsValid(nsp) || HasNamespaceCreate(nsp, GetUserId())) continue;
    if (table == relid || !MayAttachExistingIndex(table, key_names)) return false;
  }
  return true;
}

// Every relation in the list owned by the caller.
bool OwnsAll(List *relids) {
  ListCell *lc;
  foreach (lc, relids)
    if (!OwnsRelation(lfirst_oid(lc))) return false;
  return true;
}

bool MayAlterTable(const AlterTableStmt *stmt) {
  if (!Owns(stmt->relation)) return false;  // ATSimplePermissions(): must be owner
  const Oid relid = LookupRelation(stmt->relation);
  bool children_checked = false;
  ListCell *lc;
  foreach (lc, stmt->cmds) {
    auto *cmd = static_cast<AlterTableCmd *>(lfirst(lc));
    if (!children_checked && stmt->relation != nullptr && stmt->relation->inh && OidIsValid(relid) &&
        RecursionChecksOwnership(cmd, get_rel_relkind(relid))) {
      children_checked = true;
      if (!OwnsAll(InheritanceTree(relid))) return false;
    }
    // ALTER TYPE ... ADD / DROP / ALTER ATTRIBUTE ... CASCADE: ATTypedTableRecursion()
    // checks the owner of every typed table (without CASCADE their existence is the error)
    if (stmt->objtype == OBJECT_TYPE && cmd->behavior == DROP_CASCADE && OidIsValid(relid) &&
        RecursionChecksOwnership(cmd, RELKIND_COMPOSITE_TYPE) && get_rel_relkind(relid) == RELKIND_COMPOSITE_TYPE &&
        !OwnsAll(TypedTables(relid)))
      return false;
    switch (cmd->subtype) {
      case AT_AttachPartition:  // the attached table must be owned too
        if (cmd->def != nullptr && IsA(cmd->def, PartitionCmd) &&
            !Owns(reinterpret_cast<PartitionCmd *>(cmd->def)->name))
          return false;
        break;
      case AT_AddInherit:  // ATExecAddInherit(): the parent must be owned too
        if (cmd->def != nullptr && IsA(cmd->def, RangeVar) && !Owns(reinterpret_cast<RangeVar *>(cmd->def)))
          return false;
        break;
      case AT_AddConstraint:  // REFERENCES; UNIQUE, PRIMARY KEY, EXCLUDE build an index
        if (cmd->def != nullptr && !MayReferenceAll(list_make1(cmd->def))) return false;
        if (cmd->def != nullptr && BuildsIndex(list_make1(cmd->def)) &&
            (!MayCreateIndexOn(relid, stmt->relation->inh,
                               ConstraintKeyNames(reinterpret_cast<Constraint *>(cmd->def))) ||
             !HasTablespaceCreate(reinterpret_cast<Constraint *>(cmd->def)->indexspace)))
          return false;
        break;
      case AT_AddColumn:  // ADD COLUMN ... REFERENCES / UNIQUE / PRIMARY KEY
        if (cmd->def != nullptr && IsA(cmd->def, ColumnDef)) {
          List *constraints = reinterpret_cast<ColumnDef *>(cmd->def)->constraints;
          if (!MayReferenceAll(constraints)) return false;
          if (BuildsIndex(constraints) &&
              !MayCreateIndexOn(relid, stmt->relation->inh, list_make1(reinterpret_cast<ColumnDef *>(cmd->def)->colname)))
            return false;
        }
        break;
      case AT_SetTableSpace:  // ATPrepSetTableSpace(): CREATE on the tablespace
        if (!HasTablespaceCreate(cmd->name)) return false;
        break;
      case AT_ChangeOwner:
        if (!MayChangeOwner(LookupRelation(stmt->relation), cmd->newowner)) return false;
        break;
      default:
        break;
    }
  }
  return true;
}

// An object's owner and schema, read from its catalog row as object_ownercheck()
// (16+) reads the owner, but without an error when the row is gone (dropped
// concurrently: PostgreSQL's to report).  False when there is no row.
bool ReadOwnerAndNamespace(const ObjectAddress &a, Oid *owner, Oid *nsp) {
  *owner = InvalidOid;
  *nsp = InvalidOid;
  if (!is_objectclass_supported(a.classId)) return false;
  const AttrNumber owner_att = get_object_attnum_owner(a.classId);
  const AttrNumber nsp_att = get_object_attnum_namespace(a.classId);
  Relation catalog = table_open(a.classId, AccessShareLock);
  HeapTuple tup = get_catalog_object_by_oid(catalog, get_object_attnum_oid(a.classId), a.objectId);
  if (tup != nullptr) {
    bool isnull = true;
    Datum d;
    if (owner_att != InvalidAttrNumber) {
      d = heap_getattr(tup, owner_att, RelationGetDescr(catalog), &isnull);
      if (!isnull) *owner = DatumGetObjectId(d);
    }
    if (nsp_att != InvalidAttrNumber) {
      d = heap_getattr(tup, nsp_att, RelationGetDescr(catalog), &isnull);
      if (!isnull) *nsp = DatumGetObjectId(d);
    }
    heap_freetuple(tup);
  }
  table_close(catalog, AccessShareLock);
  return tup != nullptr;
}

// The two types of a cast or the type of a transform (check_object_ownership():
// owning one of them is owning the cast).
bool OwnsCastOrTransform(const ObjectAddress &a) {
  Relation catalog = table_open(a.classId, AccessShareLock);
  HeapTuple tup = get_catalog_object_by_oid(catalog, get_object_attnum_oid(a.classId), a.objectId);
  bool owns = true;
  if (tup != nullptr) {
    if (a.classId == CastRelationId) {
      const auto *cast = reinterpret_cast<Form_pg_cast>(GETSTRUCT(tup));
      owns = OwnsType(cast->castsource) || OwnsType(cast->casttarget);
    } else {
      owns = OwnsType(reinterpret_cast<Form_pg_transform>(GETSTRUCT(tup))->trftype);
    }
    heap_freetuple(tup);
  }
  table_close(catalog, AccessShareLock);
  return owns;
}

// RemoveObjects(): the owner of the object's schema may drop it; otherwise
// check_object_ownership() decides.
bool MayRemoveObject(const ObjectAddress &a) {
  switch (a.classId) {
    case CastRelationId:
    case TransformRelationId:
      return OwnsCastOrTransform(a);
    case TSParserRelationId:
    case TSTemplateRelationId:
    case AccessMethodRelationId:
      return superuser();  // "owned" by superusers
    default:
      break;
  }
  Oid owner, nsp;
  if (!ReadOwnerAndNamespace(a, &owner, &nsp)) return true;  // gone, or no such catalog: PostgreSQL says so
  if (OidIsValid(nsp) && OwnsNamespace(nsp)) return true;
  return !OidIsValid(owner) || IsCaller(owner);
}

// DROP OWNED / REASSIGN OWNED: the caller must have the privileges of every role named.
bool MemberOfAll(List *roles) {
  ListCell *lc;
  foreach (lc, roles) {
    const Oid role = get_rolespec_oid(static_cast<RoleSpec *>(lfirst(lc)), true);
    if (OidIsValid(role) && !IsCaller(role)) return false;
  }
  return true;
}

bool MayDrop(const DropStmt *stmt) {
  ListCell *lc;
  switch (stmt->removeType) {
    case OBJECT_TABLE:
    case OBJECT_INDEX:
    case OBJECT_VIEW:
    case OBJECT_MATVIEW:
    case OBJECT_SEQUENCE:
    case OBJECT_FOREIGN_TABLE:
      foreach (lc, stmt->objects) {
        const Oid relid = LookupRelation(makeRangeVarFromNameList(static_cast<List *>(lfirst(lc))));
        // RangeVarCallbackForDropRelation(): the owner of the relation or of its schema
        if (OidIsValid(relid) && !OwnsRelation(relid) && !OwnsNamespace(get_rel_namespace(relid))) return false;
      }
      return true;
    case OBJECT_TRIGGER:
    case OBJECT_POLICY:
    case OBJECT_RULE:
      // check_object_ownership(): the owner of the table
      foreach (lc, stmt->objects) {
        List *names = static_cast<List *>(lfirst(lc));
        if (list_length(names) < 2) continue;
        if (!Owns(makeRangeVarFromNameList(list_truncate(list_copy(names), list_length(names) - 1)))) return false;
      }
      return true;
    default:
      // Types, domains, schemas, functions, procedures, aggregates, operators,
      // collations, extensions ...: resolved as the analysis resolves them.
      foreach (lc, stmt->objects) {
        const ObjectAddress a = ResolveDropTarget(stmt->removeType, static_cast<Node *>(lfirst(lc)));
        if (OidIsValid(a.objectId) && !MayRemoveObject(a)) return false;
      }
      return true;
  }
}

// AlterTableMoveAll(): CREATE on the new tablespace, then ownership of every relation
// it would move; the first one not owned is an error (nothing is skipped).
bool MayMoveAll(const AlterTableMoveAllStmt *stmt) {
  if (stmt->objtype != OBJECT_TABLE && stmt->objtype != OBJECT_INDEX && stmt->objtype != OBJECT_MATVIEW) return true;
  Oid from = get_tablespace_oid(stmt->orig_tablespacename, true);
  const Oid to = get_tablespace_oid(stmt->new_tablespacename, true);
  if (!OidIsValid(from) || !OidIsValid(to)) return true;
  if (!HasTablespaceCreate(to)) return false;
  if (from == MyDatabaseTableSpace) from = InvalidOid;
  if (from == (to == MyDatabaseTableSpace ? InvalidOid : to)) return true;
  List *roles = NIL;
  ListCell *lc;
  foreach (lc, stmt->roles) roles = lappend_oid(roles, get_rolespec_oid(static_cast<RoleSpec *>(lfirst(lc)), true));
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_class_reltablespace, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(from));
  Relation classRel = table_open(RelationRelationId, AccessShareLock);
  SysScanDesc scan = systable_beginscan(classRel, InvalidOid, false, nullptr, 1, &key);
  bool may = true;
  HeapTuple tup;
  while (may && HeapTupleIsValid(tup = systable_getnext(scan))) {
    auto *form = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup));
    if (IsCatalogNamespace(form->relnamespace) || form->relisshared || isAnyTempNamespace(form->relnamespace) ||
        IsToastNamespace(form->relnamespace))
      continue;
    const char k = form->relkind;
    if ((stmt->objtype == OBJECT_TABLE && k != RELKIND_RELATION && k != RELKIND_PARTITIONED_TABLE) ||
        (stmt->objtype == OBJECT_INDEX && k != RELKIND_INDEX && k != RELKIND_PARTITIONED_INDEX) ||
        (stmt->objtype == OBJECT_MATVIEW && k != RELKIND_MATVIEW))
      continue;
    if (roles != NIL && !list_member_oid(roles, form->relowner)) continue;
    may = IsCaller(form->relowner);
  }
  systable_endscan(scan);
  table_close(classRel, AccessShareLock);
  return may;
}

// DefineRelation(): CREATE on the schema, the parents of PARTITION OF / INHERITS
// owned (MergeAttributes()), REFERENCES on every referenced table.
bool MayCreateTable(const CreateStmt *stmt) {
  if (!HasNamespaceCreate(CreationNamespace(stmt->relation), GetUserId())) return false;
  ListCell *lc;
  foreach (lc, stmt->inhRelations)
    if (!Owns(static_cast<RangeVar *>(lfirst(lc)))) return false;
  if (!MayReferenceAll(stmt->constraints)) return false;
  foreach (lc, stmt->tableElts)
    if (IsA(lfirst(lc), ColumnDef) && !MayReferenceAll(static_cast<ColumnDef *>(lfirst(lc))->constraints))
      return false;
  return true;
}

// CreateTrigger(): TRIGGER on the table (and on the FROM table of a constraint
// trigger), EXECUTE on the function.
bool MayCreateTrigger(const CreateTrigStmt *stmt) {
  if (!HasTablePrivilege(LookupRelation(stmt->relation), ACL_TRIGGER)) return false;
  if (stmt->constrrel != nullptr && !HasTablePrivilege(LookupRelation(stmt->constrrel), ACL_TRIGGER)) return false;
  const Oid func = LookupFuncName(stmt->funcname, 0, nullptr, true);
  if (!OidIsValid(func) || !SearchSysCacheExists1(PROCOID, ObjectIdGetDatum(func))) return true;
  return SG_PROC_ACLCHECK(func, GetUserId(), ACL_EXECUTE) == ACLCHECK_OK;
}

}  // namespace

bool CallerMayInspect(Oid relid) {
  return OwnsRelation(relid) || HasTablePrivilege(relid, kAnyTablePrivilege);
}

bool CallerMayVacuum(Oid relid) {
  // vacuum_is_relation_owner() (vacuum_is_permitted_for_relation() from 16), without
  // its WARNING: the table's owner (MAINTAIN from 17), or the database's owner for a
  // table that is not shared.
  if (MayMaintain(relid)) return true;
  HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (tup == nullptr) return true;
  const bool shared = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup))->relisshared;
  ReleaseSysCache(tup);
  return !shared && SG_DATABASE_OWNERCHECK(MyDatabaseId, GetUserId());
}

bool CallerMayMaintain(Oid relid) { return MayMaintain(relid); }

bool CallerMayRun(Node *parsetree) {
  ListCell *lc;
  switch (nodeTag(parsetree)) {
    case T_AlterTableStmt: return MayAlterTable(reinterpret_cast<AlterTableStmt *>(parsetree));
    case T_AlterTableMoveAllStmt: return MayMoveAll(reinterpret_cast<AlterTableMoveAllStmt *>(parsetree));
    case T_IndexStmt: {
      auto *stmt = reinterpret_cast<IndexStmt *>(parsetree);
      // DefineIndex(): the table's owner; CREATE on its schema (on a partitioned
      // table, on each partition's) and on a tablespace named
      if (stmt->concurrent) return true;  // not judged
      const Oid relid = LookupRelation(stmt->relation);
      return OwnsRelation(relid) && MayCreateIndexOn(relid, stmt->relation->inh, KeyColumnNames(stmt->indexParams)) &&
             HasTablespaceCreate(stmt->tableSpace);
    }
    case T_RefreshMatViewStmt: return MayMaintain(LookupRelation(reinterpret_cast<RefreshMatViewStmt *>(parsetree)->relation));
    case SG_T_CLUSTER_STMT: {
      const RangeVar *rv = SG_CLUSTER_RELATION(reinterpret_cast<SgClusterStmt *>(parsetree));
      return rv == nullptr || MayMaintain(LookupRelation(rv));  // CLUSTER alone: only what the caller may
    }
    case T_ReindexStmt: {
      auto *stmt = reinterpret_cast<ReindexStmt *>(parsetree);
      // ExecReindex(): CREATE on the TABLESPACE given (the last one, as for any option),
      // checked before the relation's owner
      const char *tablespace = nullptr;
      foreach (lc, stmt->params)
        if (strcmp(static_cast<DefElem *>(lfirst(lc))->defname, "tablespace") == 0)
          tablespace = defGetString(static_cast<DefElem *>(lfirst(lc)));
      if (!HasTablespaceCreate(tablespace)) return false;
      switch (stmt->kind) {
        case REINDEX_OBJECT_INDEX: {
          // RangeVarCallbackForReindexIndex(): the index's owner is its table's owner;
          // MAINTAIN is asked of the table (17+).
          const Oid index = LookupRelation(stmt->relation);
          if (!OidIsValid(index)) return true;
          const Oid table = IndexGetRelation(index, true);
          return MayMaintain(OidIsValid(table) ? table : index);
        }
        case REINDEX_OBJECT_TABLE: return MayMaintain(LookupRelation(stmt->relation));
        case REINDEX_OBJECT_SCHEMA: {
          const Oid nsp = get_namespace_oid(stmt->name, true);
          return !OidIsValid(nsp) || OwnsNamespace(nsp);
        }
        default: return SG_DATABASE_OWNERCHECK(MyDatabaseId, GetUserId());
      }
    }
    case T_RenameStmt: {
      auto *stmt = reinterpret_cast<RenameStmt *>(parsetree);
      switch (stmt->renameType) {
        case OBJECT_SCHEMA: {
          // RenameSchema(): the schema's owner, with CREATE on the database
          const Oid nsp = stmt->subname ? get_namespace_oid(stmt->subname, true) : InvalidOid;
          if (!OidIsValid(nsp)) return true;
          return OwnsNamespace(nsp) && SG_DATABASE_ACLCHECK(MyDatabaseId, GetUserId(), ACL_CREATE) == ACLCHECK_OK;
        }
        case OBJECT_TABLE:
        case OBJECT_VIEW:
        case OBJECT_MATVIEW:
        case OBJECT_FOREIGN_TABLE:
        case OBJECT_SEQUENCE:
        case OBJECT_INDEX: {
          // RangeVarCallbackForAlterRelation(): the owner, with CREATE on the schema
          const Oid relid = LookupRelation(stmt->relation);
          if (!OidIsValid(relid)) return true;
          return OwnsRelation(relid) && HasNamespaceCreate(get_rel_namespace(relid), GetUserId());
        }
        case OBJECT_ATTRIBUTE: {
          // RENAME ATTRIBUTE ... CASCADE: renameatt_check() on every typed table too
          if (!Owns(stmt->relation)) return false;
          const Oid typrel = LookupRelation(stmt->relation);
          return stmt->behavior != DROP_CASCADE || !OidIsValid(typrel) || OwnsAll(TypedTables(typrel));
        }
        case OBJECT_COLUMN: {
          // renameatt(): the owner of the table and (renameatt_check() in the recursion)
          // of every partition and inheritance child
          const Oid relid = LookupRelation(stmt->relation);
          if (!OidIsValid(relid)) return true;
          return OwnsRelation(relid) && (!stmt->relation->inh || OwnsAll(InheritanceTree(relid)));
        }
        default:
          // constraints, triggers, rules: the table's owner
          return Owns(stmt->relation);
      }
    }
    case T_AlterObjectSchemaStmt: {
      // AlterTableNamespace(): the owner, with CREATE on the new schema
      auto *stmt = reinterpret_cast<AlterObjectSchemaStmt *>(parsetree);
      if (!Owns(stmt->relation)) return false;
      return stmt->relation == nullptr || stmt->newschema == nullptr ||
             HasNamespaceCreate(get_namespace_oid(stmt->newschema, true), GetUserId());
    }
    case T_AlterObjectDependsStmt:  // check_object_ownership() of the index, view or trigger's table
      return Owns(reinterpret_cast<AlterObjectDependsStmt *>(parsetree)->relation);
    case T_DropStmt: return MayDrop(reinterpret_cast<DropStmt *>(parsetree));
    case T_TruncateStmt:
      // truncate_check_perms() on the named tables (not their children); CASCADE:
      // CallerMayRunAnalyzed()
      foreach (lc, reinterpret_cast<TruncateStmt *>(parsetree)->relations)
        if (!HasTablePrivilege(LookupRelation(static_cast<RangeVar *>(lfirst(lc))), ACL_TRUNCATE)) return false;
      return true;
    case T_AlterDomainStmt: {
      TypeName *tn = makeTypeNameFromNameList(reinterpret_cast<AlterDomainStmt *>(parsetree)->typeName);
      const Oid domain = LookupTypeNameOid(nullptr, tn, true);
      return !OidIsValid(domain) || OwnsType(domain);
    }
    case T_CreateStmt:
    case T_CreateForeignTableStmt:  // a CreateStmt with server options
      return MayCreateTable(reinterpret_cast<CreateStmt *>(parsetree));
    case T_CreateTrigStmt: return MayCreateTrigger(reinterpret_cast<CreateTrigStmt *>(parsetree));
    case T_CreateSchemaStmt: {
      // CreateSchemaCommand(): CREATE on the database, membership in the new owner; the
      // elements then run as that owner (checked here when it is the caller)
      auto *stmt = reinterpret_cast<CreateSchemaStmt *>(parsetree);
      if (SG_DATABASE_ACLCHECK(MyDatabaseId, GetUserId(), ACL_CREATE) != ACLCHECK_OK) return false;
      if (stmt->authrole != nullptr) {
        const Oid owner = get_rolespec_oid(stmt->authrole, true);
        if (!OidIsValid(owner)) return true;  // PostgreSQL reports the missing role
        if (!is_member_of_role(GetUserId(), owner)) return false;
        if (owner != GetUserId()) return true;
      }
      foreach (lc, CreateSchemaElements(stmt))
        if (IsJudgedStatement(static_cast<Node *>(lfirst(lc))) && !CallerMayRun(static_cast<Node *>(lfirst(lc))))
          return false;
      return true;
    }
    case T_CreatePolicyStmt: return Owns(reinterpret_cast<CreatePolicyStmt *>(parsetree)->table);
    case T_AlterPolicyStmt: return Owns(reinterpret_cast<AlterPolicyStmt *>(parsetree)->table);
    case T_DropOwnedStmt: return MemberOfAll(reinterpret_cast<DropOwnedStmt *>(parsetree)->roles);
    case T_ReassignOwnedStmt: {
      auto *stmt = reinterpret_cast<ReassignOwnedStmt *>(parsetree);
      if (!MemberOfAll(stmt->roles)) return false;
      const Oid newrole = get_rolespec_oid(stmt->newrole, true);
      return !OidIsValid(newrole) || IsCaller(newrole);
    }
    case T_ViewStmt: {
      // CREATE OR REPLACE VIEW of an existing view: its owner, with CREATE on the schema
      auto *stmt = reinterpret_cast<ViewStmt *>(parsetree);
      return Owns(stmt->view) && HasNamespaceCreate(CreationNamespace(stmt->view), GetUserId());
    }
    case T_RuleStmt: return Owns(reinterpret_cast<RuleStmt *>(parsetree)->relation);
    case T_AlterSeqStmt: return Owns(reinterpret_cast<AlterSeqStmt *>(parsetree)->sequence);
    case T_LockStmt: {
      // LockTableAclCheck() on the named tables (their children are not checked)
      auto *stmt = reinterpret_cast<LockStmt *>(parsetree);
      foreach (lc, stmt->relations)
        if (!HasTablePrivilege(LookupRelation(static_cast<RangeVar *>(lfirst(lc))), SgLockTablePrivileges(stmt->mode)))
          return false;
      return true;
    }
    default:
      // VACUUM skips (with a WARNING) the tables the caller may not vacuum: the
      // analysis leaves them out (CallerMayVacuum()).
      return true;
  }
}

bool CallerMayRunAnalyzed(Node *parsetree, const StatementAnalysis &analysis) {
  if (!IsA(parsetree, TruncateStmt)) return true;
  // ExecuteTruncateGuts(): every table CASCADE adds needs TRUNCATE too.
  ListCell *lc;
  foreach (lc, analysis.findings) {
    const auto *f = static_cast<const Finding *>(lfirst(lc));
    if (f->rule == policy::RuleId::Truncate && !HasTablePrivilege(f->relid, ACL_TRUNCATE)) return false;
  }
  return true;
}

}  // namespace schema_guard::analysis
