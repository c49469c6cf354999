// schema_guard.audit(): the catalog facts every family of checks shares, read
// once each (pg_class, pg_constraint, and one pass over pg_attribute for the
// attributes the checks ask for), and the order the families run in.
//
// Catalogs are read with heap scans under the catalogs' own ACCESS SHARE lock
// (which no DDL conflicts with); no user relation is opened or locked.
#include "audit/audit.hpp"

namespace schema_guard::audit {
namespace {

template <typename T>
const T *ArrayValues(Datum datum, int *n) {
  ArrayType *array = DatumGetArrayTypeP(datum);
  *n = ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array));
  return reinterpret_cast<const T *>(ARR_DATA_PTR(array));
}

void ReadRelations(AuditRun *run) {
  HASHCTL ctl = {};
  ctl.keysize = sizeof(Oid);
  ctl.entrysize = sizeof(RelationFacts);
  ctl.hcxt = CurrentMemoryContext;
  run->relations = hash_create("schema_guard audit relations", 8192, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
  Relation pg_class = table_open(RelationRelationId, AccessShareLock);
  SysScanDesc scan = systable_beginscan(pg_class, InvalidOid, false, nullptr, 0, nullptr);
  HeapTuple tuple;
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    auto *form = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple));
    bool found;
    auto *rel = static_cast<RelationFacts *>(hash_search(run->relations, &form->oid, HASH_ENTER, &found));
    rel->nsp = form->relnamespace;
    rel->owner = form->relowner;
    rel->am = form->relam;
    rel->reltype = form->reltype;
    rel->toast = form->reltoastrelid;
    rel->frozenxid = form->relfrozenxid;
    rel->minmxid = form->relminmxid;
    rel->relkind = form->relkind;
    rel->replident = form->relreplident;
    rel->ispartition = form->relispartition;
    rel->in_scope = NamespaceInScope(*run, form->relnamespace) && !ExtensionMember(*run, form->oid);
  }
  systable_endscan(scan);
  table_close(pg_class, AccessShareLock);
}

struct ForeignKeyList {
  Oid relid;  // hash key
  List *constraints;
};

HTAB *NewForeignKeyMap(const char *name) {
  HASHCTL ctl = {};
  ctl.keysize = sizeof(Oid);
  ctl.entrysize = sizeof(ForeignKeyList);
  ctl.hcxt = CurrentMemoryContext;
  return hash_create(name, 4096, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

void AddForeignKey(HTAB *map, Oid relid, int index) {
  bool found;
  auto *entry = static_cast<ForeignKeyList *>(hash_search(map, &relid, HASH_ENTER, &found));
  if (!found) entry->constraints = NIL;
  entry->constraints = lappend_int(entry->constraints, index);
}

List *ForeignKeys(HTAB *map, Oid relid) {
  auto *entry = static_cast<ForeignKeyList *>(hash_search(map, &relid, HASH_FIND, nullptr));
  return entry != nullptr ? entry->constraints : NIL;
}

void ReadConstraints(AuditRun *run) {
  run->fks_by_table = NewForeignKeyMap("schema_guard audit foreign keys");
  run->fks_by_referenced = NewForeignKeyMap("schema_guard audit referencing foreign keys");
  int capacity = 1024;
  run->constraints = static_cast<ConstraintFacts *>(palloc(sizeof(ConstraintFacts) * capacity));
  run->n_constraints = 0;
  Relation pg_constraint = table_open(ConstraintRelationId, AccessShareLock);
  TupleDesc desc = RelationGetDescr(pg_constraint);
  SysScanDesc scan = systable_beginscan(pg_constraint, InvalidOid, false, nullptr, 0, nullptr);
  HeapTuple tuple;
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    auto *form = reinterpret_cast<Form_pg_constraint>(GETSTRUCT(tuple));
    if (run->n_constraints == capacity)
      run->constraints = static_cast<ConstraintFacts *>(
          repalloc(run->constraints, sizeof(ConstraintFacts) * (capacity *= 2)));
    ConstraintFacts &c = run->constraints[run->n_constraints++];
    c = {};
    c.oid = form->oid;
    c.conrelid = form->conrelid;
    c.contypid = form->contypid;
    c.nsp = form->connamespace;
    c.conindid = form->conindid;
    c.confrelid = form->confrelid;
    c.conparentid = form->conparentid;
    c.conname = pstrdup(NameStr(form->conname));
    c.contype = form->contype;
    c.confupdtype = form->confupdtype;
    c.confdeltype = form->confdeltype;
    c.confmatchtype = form->confmatchtype;
    c.validated = form->convalidated;
    c.islocal = form->conislocal;
    c.deferrable = form->condeferrable;
    c.deferred = form->condeferred;
    if (form->contype != CONSTRAINT_FOREIGN && form->contype != CONSTRAINT_PRIMARY &&
        form->contype != CONSTRAINT_UNIQUE && form->contype != CONSTRAINT_EXCLUSION)
      continue;
    bool isnull;
    Datum conkey = heap_getattr(tuple, Anum_pg_constraint_conkey, desc, &isnull);
    if (isnull) continue;
    int n;
    const int16 *keys = ArrayValues<int16>(conkey, &n);
    c.n = n;
    c.conkey = static_cast<int16 *>(memcpy(palloc(sizeof(int16) * n), keys, sizeof(int16) * n));
    if (form->contype != CONSTRAINT_FOREIGN) continue;
    Datum confkey = heap_getattr(tuple, Anum_pg_constraint_confkey, desc, &isnull);
    Datum pfeqop = isnull ? (Datum)0 : heap_getattr(tuple, Anum_pg_constraint_conpfeqop, desc, &isnull);
    int nf, no;
    const int16 *fkeys = isnull ? nullptr : ArrayValues<int16>(confkey, &nf);
    const Oid *ops = isnull ? nullptr : ArrayValues<Oid>(pfeqop, &no);
    if (fkeys == nullptr || nf != n || no != n) {
      c.n = 0;  // malformed: left out of the key checks
      continue;
    }
    c.confkey = static_cast<int16 *>(memcpy(palloc(sizeof(int16) * n), fkeys, sizeof(int16) * n));
    c.pfeqop = static_cast<Oid *>(memcpy(palloc(sizeof(Oid) * n), ops, sizeof(Oid) * n));
    AddForeignKey(run->fks_by_table, c.conrelid, run->n_constraints - 1);
    AddForeignKey(run->fks_by_referenced, c.confrelid, run->n_constraints - 1);
  }
  systable_endscan(scan);
  table_close(pg_constraint, AccessShareLock);
}

}  // namespace

void Emit(AuditRun *run, CheckId check, const char *severity, Oid relid, const char *object, const char *detail,
          const char *fix) {
  auto *f = static_cast<Finding *>(palloc(sizeof(Finding)));
  *f = {check, severity, relid, object, detail, fix};
  run->findings = lappend(run->findings, f);
}

const RelationFacts *FindRelation(const AuditRun &run, Oid relid) {
  return static_cast<const RelationFacts *>(hash_search(run.relations, &relid, HASH_FIND, nullptr));
}

List *ForeignKeysOf(const AuditRun &run, Oid relid) { return ForeignKeys(run.fks_by_table, relid); }
List *ForeignKeysReferencing(const AuditRun &run, Oid relid) { return ForeignKeys(run.fks_by_referenced, relid); }

bool NamespaceInScope(const AuditRun &run, Oid nsp) { return OidInSorted(run.namespaces, run.n_namespaces, nsp); }

bool ExtensionMember(const AuditRun &run, Oid oid) {
  return OidInSorted(run.extension_members, run.n_extension_members, oid);
}

void RequestAttribute(AuditRun *run, Oid relid, int16 attnum) {
  if (run->attributes == nullptr) {
    HASHCTL ctl = {};
    ctl.keysize = sizeof(AttributeKey);
    ctl.entrysize = sizeof(AttributeFacts);
    ctl.hcxt = CurrentMemoryContext;
    run->attributes = hash_create("schema_guard audit attributes", 4096, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
  }
  AttributeKey key;
  memset(&key, 0, sizeof key);  // padding is part of the hashed key
  key.relid = relid;
  key.attnum = attnum;
  bool found;
  auto *a = static_cast<AttributeFacts *>(hash_search(run->attributes, &key, HASH_ENTER, &found));
  if (!found) {
    a->typid = InvalidOid;
    a->typmod = -1;
    a->collation = InvalidOid;
    a->notnull = false;
    a->found = false;
  }
}

const AttributeFacts *FindAttribute(const AuditRun &run, Oid relid, int16 attnum) {
  if (run.attributes == nullptr) return nullptr;
  AttributeKey key;
  memset(&key, 0, sizeof key);
  key.relid = relid;
  key.attnum = attnum;
  auto *a = static_cast<const AttributeFacts *>(hash_search(run.attributes, &key, HASH_FIND, nullptr));
  return a != nullptr && a->found ? a : nullptr;
}

void ReadAttributes(AuditRun *run, RegTypePass *reg) {
  if (run->attributes == nullptr && reg == nullptr) return;
  Relation pg_attribute = table_open(AttributeRelationId, AccessShareLock);
  SysScanDesc scan = systable_beginscan(pg_attribute, InvalidOid, false, nullptr, 0, nullptr);
  HeapTuple tuple;
  AttributeKey key;
  memset(&key, 0, sizeof key);
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    auto *form = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(tuple));
    // system columns: never a foreign key column, never of a reg* type
    if (form->attisdropped || form->attnum <= 0) continue;
    if (reg != nullptr && RegTypeCandidate(reg, form->atttypid))
      NoteRegTypeAttribute(reg, form->attrelid, form->attnum, form->atttypid);
    if (run->attributes == nullptr) continue;
    key.relid = form->attrelid;
    key.attnum = form->attnum;
    auto *a = static_cast<AttributeFacts *>(hash_search(run->attributes, &key, HASH_FIND, nullptr));
    if (a == nullptr) continue;
    a->typid = form->atttypid;
    a->typmod = form->atttypmod;
    a->collation = form->attcollation;
    a->notnull = form->attnotnull;
    a->found = true;
  }
  systable_endscan(scan);
  table_close(pg_attribute, AccessShareLock);
}

namespace {

struct SortableFinding {
  Finding *finding;
  int severity;
  const char *relation;
};

int SeverityOrder(const char *severity) {
  return strcmp(severity, "high") == 0 ? 1 : (strcmp(severity, "medium") == 0 ? 2 : 3);
}

int CompareFindings(const void *x, const void *y) {
  const auto *a = static_cast<const SortableFinding *>(x), *b = static_cast<const SortableFinding *>(y);
  if (a->severity != b->severity) return a->severity < b->severity ? -1 : 1;
  int c = strcmp(Check(a->finding->check).name, Check(b->finding->check).name);
  if (c == 0) c = strcmp(a->relation, b->relation);
  if (c == 0) c = strcmp(a->finding->object ? a->finding->object : "", b->finding->object ? b->finding->object : "");
  if (c == 0) c = strcmp(a->finding->detail ? a->finding->detail : "", b->finding->detail ? b->finding->detail : "");
  return c;
}

// Report order: severity, check, relation name, object (audit() keeps it).
void SortFindings(AuditRun *run) {
  const int n = list_length(run->findings);
  if (n < 2) return;
  auto *rows = static_cast<SortableFinding *>(palloc(sizeof(SortableFinding) * n));
  int i = 0;
  ListCell *cell;
  foreach (cell, run->findings) {
    auto *f = static_cast<Finding *>(lfirst(cell));
    rows[i++] = {f, SeverityOrder(f->severity), OidIsValid(f->relid) ? RelationName(f->relid) : ""};
  }
  qsort(rows, n, sizeof(SortableFinding), CompareFindings);
  List *sorted = NIL;
  for (i = 0; i < n; i++) sorted = lappend(sorted, rows[i].finding);
  run->findings = sorted;
}

}  // namespace

void RunAudit(AuditRun *run) {
  ReadRelations(run);
  ReadConstraints(run);
  IndexPass *indexes = ReadIndexes(run);
  KeyPass *keys = PrepareKeyChecks(run);
  RegTypePass *reg = PrepareRegTypeCheck(run);
  ReadAttributes(run, reg);
  RunIndexChecks(run, indexes);
  RunKeyChecks(run, keys);
  RunRegTypeCheck(run, reg);
  RunWraparoundCheck(run);
  RunSecurityChecks(run);
  SortFindings(run);
}

const char *RelationName(Oid relid) {
  HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (!HeapTupleIsValid(tuple)) return psprintf("%u", relid);  // dropped meanwhile
  auto *form = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple));
  const char *name = QualifiedName(form->relnamespace, NameStr(form->relname));
  ReleaseSysCache(tuple);
  return name;
}

const char *QualifiedName(Oid nsp, const char *name) {
  const char *nspname = get_namespace_name(nsp);
  return quote_qualified_identifier(nspname != nullptr ? nspname : "?", name);
}

const char *ColumnList(Oid relid, const int16 *attnums, int n) {
  StringInfoData buf;
  initStringInfo(&buf);
  for (int k = 0; k < n; k++) {
    if (k > 0) appendStringInfoString(&buf, ", ");
    const char *name = attnums[k] > 0 ? get_attname(relid, attnums[k], true) : nullptr;
    appendStringInfoString(&buf, name != nullptr ? quote_identifier(name) : "?");
  }
  return buf.data;
}

const char *TypeName(Oid typid, int32 typmod) {
  return format_type_extended(typid, typmod,
                              FORMAT_TYPE_ALLOW_INVALID | (typmod >= 0 ? FORMAT_TYPE_TYPEMOD_GIVEN : 0));
}

Oid BaseType(Oid typid, int32 *typmod) {
  int32 mod = typmod != nullptr ? *typmod : -1;
  for (int depth = 0; depth < 64; depth++) {  // domains over domains
    HeapTuple tuple = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
    if (!HeapTupleIsValid(tuple)) return InvalidOid;
    auto *form = reinterpret_cast<Form_pg_type>(GETSTRUCT(tuple));
    const bool domain = form->typtype == TYPTYPE_DOMAIN;
    const Oid base = form->typbasetype;
    const int32 base_mod = form->typtypmod;
    ReleaseSysCache(tuple);
    if (!domain) break;
    typid = base;
    mod = base_mod;
  }
  if (typmod != nullptr) *typmod = mod;
  return typid;
}

}  // namespace schema_guard::audit
