// Catalog facts the analyzers need, read without heavyweight locks.
#include "analysis/analysis.hpp"
#include "boundary.hpp"
#include "citus/citus.hpp"

namespace schema_guard::analysis {

Oid LookupRelation(const RangeVar *rv) {
  if (rv == nullptr) return InvalidOid;
  // RangeVarGetRelid() raises "permission denied for schema" even when told the
  // relation may be missing; a schema the caller may not use is PostgreSQL's to
  // report (with its error position), and what is in it is not the caller's to judge.
  if (rv->schemaname != nullptr && rv->catalogname == nullptr && strcmp(rv->schemaname, "pg_temp") != 0) {
    const Oid nsp = get_namespace_oid(rv->schemaname, true);
    if (!OidIsValid(nsp) || SG_NAMESPACE_ACLCHECK(nsp, GetUserId(), ACL_USAGE) != ACLCHECK_OK) return InvalidOid;
  }
  return RangeVarGetRelid(rv, NoLock, true);
}

namespace {
const char *exempt_schemas = nullptr;
SetupPassTest setup_pass_test = nullptr;
}  // namespace

bool IsExemptSchema(Oid nsp) {
  if (exempt_schemas == nullptr || *exempt_schemas == '\0') return false;
  const char *name = get_namespace_name(nsp);
  if (name == nullptr) return false;
  for (const char *p = exempt_schemas; *p != '\0'; p += strlen(p) + 1)
    if (strcmp(p, name) == 0)
      // The name alone is anybody's to take (CREATE on the database suffices to
      // create or rename a schema); an extension's membership is not.
      return OidIsValid(getExtensionOfObject(NamespaceRelationId, nsp));
  return false;
}

void SetExemptSchemas(const char *names) { exempt_schemas = names; }

void SetSetupPassTest(SetupPassTest test) { setup_pass_test = test; }

bool IsExemptRelation(Oid relid) {
  // The relcache entry knows the subtransaction that created the relation; it is
  // reached without a lock (nothing here changes the entry).
  Relation rel = RelationIdGetRelation(relid);
  if (rel == nullptr) return false;
  const bool exempt = rel->rd_createSubid != InvalidSubTransactionId ||
                      rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP;
  const Oid nsp = rel->rd_rel->relnamespace;
  RelationClose(rel);
  // Citus's metadata catalogs are locked and changed by Citus itself.
  if (exempt || IsExemptSchema(nsp) || (nsp == PG_CATALOG_NAMESPACE && citus::IsCitusCatalog(relid))) return true;
  return setup_pass_test != nullptr && setup_pass_test(relid);
}

namespace {
// GetDefaultOpClass() reads every operator class of the access method and tests binary
// coercion to each (some 100,000 instructions for btree); ALTER COLUMN TYPE asks it
// for every key column of every index on the column, and again for the new type.
struct DefaultOpclassEntry {
  Oid type, am, opclass;
};
constexpr int kDefaultOpclassEntries = 16;
DefaultOpclassEntry default_opclasses[kDefaultOpclassEntries];
int ndefault_opclasses = 0;
int next_default_opclass = 0;  // replaced next when full
bool default_opclass_callbacks = false;

extern "C" void ForgetDefaultOpclasses(Datum arg, SgSysCacheId cacheid, uint32 hashvalue) {
  ndefault_opclasses = 0;
  next_default_opclass = 0;
}
}  // namespace

Oid DefaultOpclass(Oid type, Oid am) {
  if (!default_opclass_callbacks) {
    CacheRegisterSyscacheCallback(CLAOID, ForgetDefaultOpclasses, (Datum)0);
    CacheRegisterSyscacheCallback(CASTSOURCETARGET, ForgetDefaultOpclasses, (Datum)0);
    CacheRegisterSyscacheCallback(TYPEOID, ForgetDefaultOpclasses, (Datum)0);
    default_opclass_callbacks = true;
  }
  for (int i = 0; i < ndefault_opclasses; i++)
    if (default_opclasses[i].type == type && default_opclasses[i].am == am) return default_opclasses[i].opclass;
  const Oid opclass = GetDefaultOpClass(type, am);
  int slot;
  if (ndefault_opclasses < kDefaultOpclassEntries) {
    slot = ndefault_opclasses++;
  } else {
    slot = next_default_opclass;
    next_default_opclass = (next_default_opclass + 1) % kDefaultOpclassEntries;
  }
  default_opclasses[slot] = {type, am, opclass};
  return opclass;
}

List *InheritanceTree(Oid relid) {
  // find_all_inheritors() raises "cache lookup failed" when a member is dropped
  // while it walks (has_subclass()); pg_inherits read directly just misses it.
  List *tree = list_make1_oid(relid);
  Relation pg_inherits = table_open(InheritsRelationId, AccessShareLock);
  ListCell *lc;
  foreach (lc, tree) {  // the list grows while it is walked: breadth first
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_inherits_inhparent, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(lfirst_oid(lc)));
    SysScanDesc scan = systable_beginscan(pg_inherits, InheritsParentIndexId, true, nullptr, 1, &key);
    HeapTuple tuple;
    while (HeapTupleIsValid(tuple = systable_getnext(scan)))
      tree = list_append_unique_oid(tree, reinterpret_cast<Form_pg_inherits>(GETSTRUCT(tuple))->inhrelid);
    systable_endscan(scan);
  }
  table_close(pg_inherits, AccessShareLock);
  return tree;
}

namespace {
// Production sizes loaded into a throwaway server (schema_guard_lint --schema): heap
// bytes per relation for this backend, so that size-dependent verdicts and messages
// match production.  nullptr (always, outside such a server): real sizes.
HTAB *simulated_sizes = nullptr;
struct SimulatedSize {
  Oid relid;
  int64 bytes;
};
}  // namespace

void SimulateHeapBytes(Oid relid, int64 bytes) {
  if (simulated_sizes == nullptr) {
    HASHCTL ctl;
    ctl.keysize = sizeof(Oid);
    ctl.entrysize = sizeof(SimulatedSize);
    ctl.hcxt = TopMemoryContext;
    simulated_sizes = hash_create("schema_guard simulated sizes", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
  }
  auto *entry = static_cast<SimulatedSize *>(hash_search(simulated_sizes, &relid, HASH_ENTER, nullptr));
  entry->bytes = bytes;
}

bool RelationHasInheritors(Oid relid) {
  HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (tup == nullptr) return false;
  const bool has = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup))->relhassubclass;
  ReleaseSysCache(tup);
  return has;
}

char RelationPersistence(Oid relid) {
  HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (tup == nullptr) return '\0';
  const char persistence = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup))->relpersistence;
  ReleaseSysCache(tup);
  return persistence;
}

namespace {

struct SizeProbe {
  Oid relid;
  int64 bytes;
  bool unknown;
};

// A table's own data.  On a Citus coordinator a distributed table's relation is an
// empty shell: its data is in its shards, on the workers.
void AddTableBytes(Oid relid, SizeProbe *p) {
  if (simulated_sizes != nullptr) {  // production's size, in schema_guard_lint's throwaway server
    bool found = false;
    auto *entry = static_cast<SimulatedSize *>(hash_search(simulated_sizes, &relid, HASH_FIND, &found));
    if (found) {
      p->bytes += entry->bytes;
      return;
    }
  }
  if (const citus::TableFacts *facts = citus::Facts(relid)) {
    if (facts->size_known) p->bytes += facts->bytes;
    else p->unknown = true;
    return;
  }
  p->bytes += StorageBytes(relid);
}

void ProbeSize(void *arg) {
  auto *p = static_cast<SizeProbe *>(arg);
  // A partitioned table, or a parent of inheritance children: the whole tree.
  if (get_rel_relkind(p->relid) != RELKIND_PARTITIONED_TABLE && !RelationHasInheritors(p->relid)) {
    AddTableBytes(p->relid, p);
    return;
  }
  ListCell *lc;
  foreach (lc, InheritanceTree(p->relid)) AddTableBytes(lfirst_oid(lc), p);
}

}  // namespace

int64 StorageBytes(Oid relid) {
  Relation rel = RelationIdGetRelation(relid);
  if (rel == nullptr) return 0;
  int64 bytes = 0;
  if (RELKIND_HAS_STORAGE(rel->rd_rel->relkind))
    bytes = static_cast<int64>(RelationGetNumberOfBlocks(rel)) * BLCKSZ;
  RelationClose(rel);
  return bytes;
}

int64 RelationSizeBytes(Oid relid) {
  // Sizes are read without a lock: a relation dropped meanwhile (its relcache
  // entry rebuilt under us, its file gone) leaves the size unknown.
  SizeProbe probe = {relid, 0, false};
  return TryInSubtransaction(ProbeSize, &probe) && !probe.unknown ? probe.bytes : -1;
}

// Typed tables (CREATE TABLE ... OF type) of a composite type's relation, as
// tablecmds.c find_typed_table_dependencies() finds them.
List *TypedTables(Oid typrelid) {
  const Oid type = get_rel_type_id(typrelid);
  List *tables = NIL;
  if (!OidIsValid(type)) return NIL;
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_class_reloftype, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(type));
  Relation classRel = table_open(RelationRelationId, AccessShareLock);
  SysScanDesc scan = systable_beginscan(classRel, InvalidOid, false, nullptr, 1, &key);
  HeapTuple tup;
  while (HeapTupleIsValid(tup = systable_getnext(scan))) {
    auto *form = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup));
    if (form->relkind == RELKIND_RELATION || form->relkind == RELKIND_PARTITIONED_TABLE)
      tables = lappend_oid(tables, form->oid);
  }
  systable_endscan(scan);
  table_close(classRel, AccessShareLock);
  return tables;
}

Finding *NewFinding(policy::RuleId rule, Oid relid, LOCKMODE lock, uint8 effects, const char *what,
                    const char *reason) {
  auto *f = static_cast<Finding *>(palloc0(sizeof(Finding)));
  f->rule = rule;
  f->relid = relid;
  f->lock = lock;
  f->effects = effects;
  f->what = what;
  f->reason = reason;
  f->partitioned = OidIsValid(relid) && get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE;
  return f;
}

void AddFinding(StatementAnalysis *out, policy::RuleId rule, Oid relid, LOCKMODE lock,
                uint8 effects, const char *what, const char *reason) {
  out->findings = lappend(out->findings, NewFinding(rule, relid, lock, effects, what, reason));
  // A rewrite of a parent rewrites its partitions and inheritance children too.
  if ((effects & kRewrite) && OidIsValid(relid))
    out->rewrites = list_concat_unique_oid(out->rewrites, InheritanceTree(relid));
}

void LockReferencedTable(StatementAnalysis *out, Oid pkrel) {
  if (!OidIsValid(pkrel) || IsExemptRelation(pkrel)) return;
  AddLockTarget(out, pkrel, ShareRowExclusiveLock);
  // addFkRecurseReferenced(): a partitioned referenced table's partitions get the
  // action triggers, and are read by the validation, under the same lock.
  if (get_rel_relkind(pkrel) != RELKIND_PARTITIONED_TABLE) return;
  ListCell *lc;
  foreach (lc, InheritanceTree(pkrel))
    if (!IsExemptRelation(lfirst_oid(lc))) AddLockTarget(out, lfirst_oid(lc), ShareRowExclusiveLock);
}

void AddLockTarget(StatementAnalysis *out, Oid relid, LOCKMODE lock) {
  if (!OidIsValid(relid) || lock == NoLock) return;
  ListCell *lc;
  foreach (lc, out->lock_targets) {
    auto *t = static_cast<LockTarget *>(lfirst(lc));
    if (t->relid == relid) {
      if (lock > t->lock) t->lock = lock;
      return;
    }
  }
  auto *t = static_cast<LockTarget *>(palloc(sizeof(LockTarget)));
  t->relid = relid;
  t->lock = lock;
  out->lock_targets = lappend(out->lock_targets, t);
}

// The backend's entry in this transaction's activity snapshot, or nullptr.
static PgBackendStatus *BackendStatusOf(int pid) {
  const int n = pgstat_fetch_stat_numbackends();
  for (int i = 1; i <= n; i++) {
    LocalPgBackendStatus *local = SG_LOCAL_BEENTRY(i);
    if (local != nullptr && local->backendStatus.st_procpid == pid) return &local->backendStatus;
  }
  return nullptr;
}

// Is the backend one of the Citus connections of the same coordinator backend as this
// one (their locks are the same distributed transaction's)?
static bool SameCitusOrigin(int pid) {
  const PgBackendStatus *be = BackendStatusOf(pid);
  return be != nullptr && citus::SameOrigin(be->st_appname);
}

// Transaction start and state of a backend, from the activity snapshot.
static void DescribeBackend(int pid, StringInfo buf) {
  const PgBackendStatus *be = BackendStatusOf(pid);
  if (be == nullptr) return;
  // pg_stat_activity's rule: another role's transaction and state only for members
  // of that role or of pg_read_all_stats.
  if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS) && !has_privs_of_role(GetUserId(), be->st_userid))
    return;
  if (be->st_xact_start_timestamp != 0) {
    long secs;
    int usecs;
    TimestampDifference(be->st_xact_start_timestamp, GetCurrentTimestamp(), &secs, &usecs);
    appendStringInfo(buf, ", transaction running for %ld s", secs);
  }
  const char *state = nullptr;
  switch (be->st_state) {
    case STATE_IDLEINTRANSACTION: state = "idle in transaction"; break;
    case STATE_IDLEINTRANSACTION_ABORTED: state = "idle in transaction (aborted)"; break;
    case STATE_RUNNING: state = "active"; break;
    default: break;
  }
  if (state != nullptr) appendStringInfo(buf, ", %s", state);
}

// Does any other session hold any lock on relid?  GetLockConflicts() with ACCESS
// EXCLUSIVE (which conflicts with every mode) lists every holder but ourselves.  No
// holder means no waiter either, so the full lock table need not be read.
bool OthersHoldAnyLock(Oid relid) {
  LOCKTAG tag;
  SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
  int count = 0;
  // The array is palloc'd (static on a hot standby): left to the memory context.
  (void)GetLockConflicts(&tag, AccessExclusiveLock, &count);
  return count > 0;
}

bool OtherSessionsUseRelation(Oid relid, bool ignore_restore_sessions) {
  if (!OthersHoldAnyLock(relid)) return false;  // the usual case, and cheap
  LockData *data = GetLockStatusData();
  for (int i = 0; i < data->nelements; i++) {
    LockInstanceData *inst = &data->locks[i];
    if (inst->locktag.locktag_type != LOCKTAG_RELATION || inst->locktag.locktag_field1 != MyDatabaseId ||
        inst->locktag.locktag_field2 != relid)
      continue;
    if (inst->pid == MyProcPid || inst->leaderPid == MyProcPid) continue;
    if (inst->holdMask == 0 && inst->waitLockMode == NoLock) continue;
    const PgBackendStatus *be = BackendStatusOf(inst->pid);
    if (be != nullptr && be->st_backendType == B_AUTOVAC_WORKER) continue;
    if (ignore_restore_sessions && be != nullptr && be->st_databaseid == MyDatabaseId &&
        be->st_appname != nullptr && strcmp(be->st_appname, "pg_restore") == 0)
      continue;
    return true;
  }
  return false;
}

const char *DescribeConflictingLockers(Oid relid, LOCKMODE lock) {
  if (!OthersHoldAnyLock(relid)) return nullptr;  // the usual case, and cheap

  LockData *data = GetLockStatusData();
  StringInfoData buf;
  initStringInfo(&buf);
  int found = 0;
  for (int i = 0; i < data->nelements; i++) {
    LockInstanceData *inst = &data->locks[i];
    if (inst->locktag.locktag_type != LOCKTAG_RELATION ||
        inst->locktag.locktag_field1 != MyDatabaseId || inst->locktag.locktag_field2 != relid)
      continue;
    if (inst->pid == MyProcPid || inst->leaderPid == MyProcPid) continue;
    LOCKMODE conflicting = NoLock;
    bool waiting = false;
    for (LOCKMODE m = AccessShareLock; m <= AccessExclusiveLock; m++)
      if ((inst->holdMask & LOCKBIT_ON(m)) && DoLockModesConflict(m, lock)) conflicting = m;
    if (conflicting == NoLock && inst->waitLockMode != NoLock &&
        DoLockModesConflict(inst->waitLockMode, lock)) {
      conflicting = inst->waitLockMode;
      waiting = true;
    }
    if (conflicting == NoLock) continue;
    if (citus::IsInternalBackend() && SameCitusOrigin(inst->pid)) continue;
    if (found++ > 0) appendStringInfoString(&buf, "; ");
    appendStringInfo(&buf, "pid %d %s %s", inst->pid, waiting ? "waits for" : "holds",
                     GetLockmodeName(DEFAULT_LOCKMETHOD, conflicting));
    DescribeBackend(inst->pid, &buf);
  }
  if (found > 0 && !CallerMayInspect(relid))
    return "other sessions hold or wait for conflicting locks (not shown: no privilege on the table)";
  return found > 0 ? buf.data : nullptr;
}

}  // namespace schema_guard::analysis
