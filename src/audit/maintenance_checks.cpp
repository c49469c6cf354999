// audit(): columns whose reg* types stop pg_upgrade, and transaction-ID /
// multixact-ID wraparound age.
#include "audit/audit.hpp"

namespace schema_guard::audit {

struct TypeFacts {
  Oid oid;  // hash key
  Oid elem;
  Oid base;
  Oid range_subtype;
  Oid via;        // what tainted it
  char typtype;
  bool candidate; // may reach a refused reg* type (decides which columns the scan keeps)
  bool tainted;
};

struct RegAttribute {
  Oid relid;
  int16 attnum;
  Oid typid;
};

struct RegTypePass {
  HTAB *types;
  bool builtin_candidate[FirstNormalObjectId];
  List *attributes;  // of RegAttribute *
};

static_assert(std::is_trivially_destructible_v<TypeFacts>);
static_assert(std::is_trivially_destructible_v<RegAttribute>);
static_assert(std::is_trivially_destructible_v<RegTypePass>);

namespace {

// pg_upgrade's list (src/bin/pg_upgrade: "Checking for reg* data types in user
// tables"): the OIDs these store are not preserved.  regclass, regrole and
// regtype are.
constexpr Oid kRefusedRegTypes[] = {REGCOLLATIONOID, REGCONFIGOID,     REGDICTIONARYOID, REGNAMESPACEOID,
                                    REGOPEROID,      REGOPERATOROID,   REGPROCOID,       REGPROCEDUREOID};

TypeFacts *FindType(const RegTypePass *pass, Oid oid) {
  return static_cast<TypeFacts *>(hash_search(pass->types, &oid, HASH_FIND, nullptr));
}

bool Tainted(const RegTypePass *pass, Oid oid) {
  const TypeFacts *t = FindType(pass, oid);
  return t != nullptr && t->tainted;
}

// How a tainted type reaches the refused one: "a domain over an array of regproc".
const char *TaintPath(const RegTypePass *pass, Oid oid) {
  StringInfoData buf;
  initStringInfo(&buf);
  appendStringInfoString(&buf, TypeName(oid));
  const char *sep = ": ";
  for (int depth = 0; depth < 8; depth++) {
    const TypeFacts *t = FindType(pass, oid);
    if (t == nullptr || !OidIsValid(t->via)) break;
    const char *kind = t->typtype == TYPTYPE_DOMAIN      ? "a domain over"
                       : t->typtype == TYPTYPE_RANGE     ? "a range of"
                       : t->typtype == TYPTYPE_COMPOSITE ? "a composite type with a field of type"
                                                         : "an array of";
    appendStringInfo(&buf, "%s%s %s", sep, kind, TypeName(t->via));
    sep = ", ";
    oid = t->via;
  }
  return buf.data;
}

}  // namespace

bool RegTypeCandidate(const RegTypePass *pass, Oid typid) {
  if (typid < FirstNormalObjectId) return pass->builtin_candidate[typid];
  const TypeFacts *t = FindType(pass, typid);
  return t != nullptr && t->candidate;
}

void NoteRegTypeAttribute(RegTypePass *pass, Oid relid, int16 attnum, Oid typid) {
  auto *a = static_cast<RegAttribute *>(palloc(sizeof(RegAttribute)));
  *a = {relid, attnum, typid};
  pass->attributes = lappend(pass->attributes, a);
}

RegTypePass *PrepareRegTypeCheck(AuditRun *run) {
  if (!Enabled(*run, CheckId::RegTypeColumn)) return nullptr;
  auto *pass = static_cast<RegTypePass *>(palloc0(sizeof(RegTypePass)));
  HASHCTL ctl = {};
  ctl.keysize = sizeof(Oid);
  ctl.entrysize = sizeof(TypeFacts);
  ctl.hcxt = CurrentMemoryContext;
  pass->types = hash_create("schema_guard audit types", 4096, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
  Relation pg_type = table_open(TypeRelationId, AccessShareLock);
  SysScanDesc scan = systable_beginscan(pg_type, InvalidOid, false, nullptr, 0, nullptr);
  HeapTuple tuple;
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    auto *form = reinterpret_cast<Form_pg_type>(GETSTRUCT(tuple));
    bool found;
    auto *t = static_cast<TypeFacts *>(hash_search(pass->types, &form->oid, HASH_ENTER, &found));
    t->elem = form->typelem;
    t->base = form->typbasetype;
    t->range_subtype = InvalidOid;
    t->via = InvalidOid;
    t->typtype = form->typtype;
    t->candidate = false;
    t->tainted = false;
  }
  systable_endscan(scan);
  table_close(pg_type, AccessShareLock);
  Relation pg_range = table_open(RangeRelationId, AccessShareLock);
  scan = systable_beginscan(pg_range, InvalidOid, false, nullptr, 0, nullptr);
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    auto *form = reinterpret_cast<Form_pg_range>(GETSTRUCT(tuple));
    if (TypeFacts *t = FindType(pass, form->rngtypid)) t->range_subtype = form->rngsubtype;
  }
  systable_endscan(scan);
  table_close(pg_range, AccessShareLock);
  for (Oid oid : kRefusedRegTypes)
    if (TypeFacts *t = FindType(pass, oid)) t->tainted = true;
  // candidates: refused types and every type a column of one could hide in
  // (composites, domains, ranges, and arrays or other element types over one)
  bool changed = true;
  while (changed) {
    changed = false;
    HASH_SEQ_STATUS seq;
    hash_seq_init(&seq, pass->types);
    TypeFacts *t;
    while ((t = static_cast<TypeFacts *>(hash_seq_search(&seq))) != nullptr) {
      if (t->candidate) continue;
      const TypeFacts *elem = OidIsValid(t->elem) ? FindType(pass, t->elem) : nullptr;
      t->candidate = t->tainted || t->typtype == TYPTYPE_COMPOSITE || t->typtype == TYPTYPE_DOMAIN ||
                     t->typtype == TYPTYPE_RANGE || (t->typtype == TYPTYPE_BASE && elem != nullptr && elem->candidate);
      changed |= t->candidate;
    }
  }
  HASH_SEQ_STATUS seq;
  hash_seq_init(&seq, pass->types);
  TypeFacts *t;
  while ((t = static_cast<TypeFacts *>(hash_seq_search(&seq))) != nullptr)
    if (t->oid < FirstNormalObjectId) pass->builtin_candidate[t->oid] = t->candidate;
  return pass;
}

void RunRegTypeCheck(AuditRun *run, RegTypePass *pass) {
  if (pass == nullptr) return;
  // pg_upgrade's recursion: domains, arrays (typtype 'b' with that element),
  // composite types with such a field, ranges over such a type
  bool changed = true;
  while (changed) {
    changed = false;
    ListCell *cell;
    foreach (cell, pass->attributes) {
      const auto *a = static_cast<const RegAttribute *>(lfirst(cell));
      if (!Tainted(pass, a->typid)) continue;
      const RelationFacts *rel = FindRelation(*run, a->relid);
      TypeFacts *composite = rel != nullptr && OidIsValid(rel->reltype) ? FindType(pass, rel->reltype) : nullptr;
      if (composite != nullptr && !composite->tainted && composite->typtype == TYPTYPE_COMPOSITE) {
        composite->tainted = true;
        composite->via = a->typid;
        changed = true;
      }
    }
    HASH_SEQ_STATUS seq;
    hash_seq_init(&seq, pass->types);
    TypeFacts *t;
    while ((t = static_cast<TypeFacts *>(hash_seq_search(&seq))) != nullptr) {
      if (t->tainted) continue;
      Oid via = InvalidOid;
      if (t->typtype == TYPTYPE_DOMAIN && Tainted(pass, t->base)) via = t->base;
      else if (t->typtype == TYPTYPE_BASE && OidIsValid(t->elem) && Tainted(pass, t->elem)) via = t->elem;
      else if (t->typtype == TYPTYPE_RANGE && Tainted(pass, t->range_subtype)) via = t->range_subtype;
      if (!OidIsValid(via)) continue;
      t->tainted = true;
      t->via = via;
      changed = true;
    }
  }
  ListCell *cell;
  foreach (cell, pass->attributes) {
    const auto *a = static_cast<const RegAttribute *>(lfirst(cell));
    const RelationFacts *rel = FindRelation(*run, a->relid);
    // the relations pg_upgrade looks at (a partitioned table stands for its partitions)
    if (rel == nullptr || !rel->in_scope || rel->ispartition || a->attnum <= 0 || !Tainted(pass, a->typid) ||
        (rel->relkind != RELKIND_RELATION && rel->relkind != RELKIND_MATVIEW && rel->relkind != RELKIND_INDEX &&
         rel->relkind != RELKIND_PARTITIONED_TABLE && rel->relkind != RELKIND_PARTITIONED_INDEX))
      continue;
    const bool index = rel->relkind == RELKIND_INDEX || rel->relkind == RELKIND_PARTITIONED_INDEX;
    const char *column = ColumnList(a->relid, &a->attnum, 1);
    Emit(run, CheckId::RegTypeColumn, "medium", a->relid, column,
         psprintf("%s %s column %s is of type %s. pg_upgrade refuses to upgrade a cluster that stores reg* values "
                  "other than regclass, regrole and regtype: the OIDs they hold are not preserved. Change the "
                  "column (to text or oid, say), or drop it, before upgrading.",
                  index ? "Index" : (rel->relkind == RELKIND_MATVIEW ? "Materialized view" : "Table"),
                  RelationName(a->relid), column, TaintPath(pass, a->typid)),
         nullptr);
  }
}

// ---- wraparound

namespace {

int32 XidAge(TransactionId xid, TransactionId next) {
  return TransactionIdIsNormal(xid) ? static_cast<int32>(next - xid) : 0;
}

int32 MxidAge(MultiXactId mxid, MultiXactId next) {
  return MultiXactIdIsValid(mxid) ? static_cast<int32>(next - mxid) : 0;
}

// A per-table autovacuum_*freeze_max_age reloption (lower values win, as in
// autovacuum.c), or -1.
int TableSetting(Oid relid, const char *name) {
  HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (!HeapTupleIsValid(tuple)) return -1;
  bool isnull;
  const Datum options = SysCacheGetAttr(RELOID, tuple, Anum_pg_class_reloptions, &isnull);
  int value = -1;
  if (!isnull) {
    ListCell *cell;
    foreach (cell, untransformRelOptions(options)) {
      auto *def = static_cast<DefElem *>(lfirst(cell));
      if (strcmp(def->defname, name) == 0) value = pg_strtoint32(defGetString(def));
    }
  }
  ReleaseSysCache(tuple);
  return value;
}

constexpr int32 kHighAge = 1200000000;  // past here the server's 2^31 limit is near

}  // namespace

void RunWraparoundCheck(AuditRun *run) {
  if (!Enabled(*run, CheckId::XidWraparound)) return;
  const TransactionId next_xid = XidFromFullTransactionId(ReadNextFullTransactionId());
  const MultiXactId next_mxid = ReadNextMultiXactId();
  const int xid_limit = autovacuum_freeze_max_age;
  const int mxid_limit = MultiXactMemberFreezeThreshold();
  const int32 horizon_age = XidAge(GetOldestNonRemovableTransactionId(nullptr), next_xid);
  const char *horizon = psprintf(" The oldest transaction the server must still keep rows for is %d transactions "
                                 "old%s.",
                                 horizon_age,
                                 horizon_age >= xid_limit / 2
                                     ? " (a long transaction, a prepared transaction or a replication slot holds it "
                                       "back: VACUUM cannot freeze past it until it ends)"
                                     : "");
  // the smallest per-table setting: nothing below it can be late
  constexpr int kMinSetting = 100000;
  HASH_SEQ_STATUS seq;
  hash_seq_init(&seq, run->relations);
  RelationFacts *rel;
  while ((rel = static_cast<RelationFacts *>(hash_seq_search(&seq))) != nullptr) {
    if (!rel->in_scope || (rel->relkind != RELKIND_RELATION && rel->relkind != RELKIND_MATVIEW)) continue;
    int32 xid_age = XidAge(rel->frozenxid, next_xid), mxid_age = MxidAge(rel->minmxid, next_mxid);
    if (OidIsValid(rel->toast))
      if (const RelationFacts *toast = FindRelation(*run, rel->toast)) {
        xid_age = Max(xid_age, XidAge(toast->frozenxid, next_xid));
        mxid_age = Max(mxid_age, MxidAge(toast->minmxid, next_mxid));
      }
    if (xid_age < kMinSetting && mxid_age < kMinSetting) continue;
    int table_xid_limit = xid_limit, table_mxid_limit = mxid_limit;
    if (xid_age < xid_limit || mxid_age < mxid_limit) {
      const int own = TableSetting(rel->relid, "autovacuum_freeze_max_age");
      const int own_mxid = TableSetting(rel->relid, "autovacuum_multixact_freeze_max_age");
      if (own >= 0) table_xid_limit = Min(own, xid_limit);
      if (own_mxid >= 0) table_mxid_limit = Min(own_mxid, mxid_limit);
    }
    const bool xid_late = xid_age >= table_xid_limit, mxid_late = mxid_age >= table_mxid_limit;
    if (!xid_late && !mxid_late) continue;
    const char *table = RelationName(rel->relid);
    StringInfoData detail;
    initStringInfo(&detail);
    appendStringInfo(&detail, "Table %s", table);
    if (xid_late)
      appendStringInfo(&detail, " has unfrozen transaction IDs %d transactions old (autovacuum_freeze_max_age %d%s)",
                       xid_age, table_xid_limit, table_xid_limit < xid_limit ? ", the table's own" : "");
    if (mxid_late)
      appendStringInfo(&detail, "%s multixact IDs %d multixacts old (limit %d)", xid_late ? " and" : " has",
                       mxid_age, table_mxid_limit);
    appendStringInfo(&detail, ": autovacuum has not frozen it in time. Near 2^31 the server stops assigning "
                              "transaction IDs.%s",
                     horizon);
    Emit(run, CheckId::XidWraparound, Max(xid_age, mxid_age) >= kHighAge ? "high" : "medium", rel->relid, nullptr,
         detail.data, psprintf("VACUUM (FREEZE) %s;", table));
  }
  // the database: the age autovacuum's emergency and the 2^31 limit go by
  HeapTuple tuple = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(MyDatabaseId));
  if (!HeapTupleIsValid(tuple)) return;
  auto *db = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple));
  const int32 db_xid_age = XidAge(db->datfrozenxid, next_xid), db_mxid_age = MxidAge(db->datminmxid, next_mxid);
  const char *dbname = pstrdup(NameStr(db->datname));
  ReleaseSysCache(tuple);
  if (db_xid_age < xid_limit && db_mxid_age < mxid_limit) return;
  Emit(run, CheckId::XidWraparound, Max(db_xid_age, db_mxid_age) >= kHighAge ? "high" : "medium", InvalidOid,
       quote_identifier(dbname),
       psprintf("Database %s: its oldest unfrozen transaction ID is %d transactions old and its oldest multixact ID "
                "%d multixacts old (autovacuum_freeze_max_age %d, multixact limit %d), counting every table, system "
                "catalogs included. Near 2^31 the server stops assigning transaction IDs.%s Freeze the oldest "
                "tables (vacuumdb --freeze --min-xid-age).",
                quote_identifier(dbname), db_xid_age, db_mxid_age, xid_limit, mxid_limit, horizon),
       nullptr);
}

}  // namespace schema_guard::audit
