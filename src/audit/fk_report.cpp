// fk_index_audit() rows: for each uncovered foreign key, the reason, size and
// write activity behind the severity, and the CREATE INDEX CONCURRENTLY fix
// (partitioned tables get theirs from the SQL layer's _partitioned_index_fix).
#include "audit/audit.hpp"
#include "citus/citus.hpp"

namespace schema_guard::audit {
namespace {

constexpr int64 kMiB = 1024 * 1024;

const char *ActionName(char action) {
  switch (action) {
    case FKCONSTR_ACTION_NOACTION: return "NO ACTION";
    case FKCONSTR_ACTION_RESTRICT: return "RESTRICT";
    case FKCONSTR_ACTION_CASCADE: return "CASCADE";
    case FKCONSTR_ACTION_SETNULL: return "SET NULL";
    case FKCONSTR_ACTION_SETDEFAULT: return "SET DEFAULT";
    default: return nullptr;
  }
}

bool Cascades(char action) {
  return action == FKCONSTR_ACTION_CASCADE || action == FKCONSTR_ACTION_SETNULL || action == FKCONSTR_ACTION_SETDEFAULT;
}

int64 PagesOf(Oid relid) {
  HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (!HeapTupleIsValid(tuple)) return 0;
  const int64 pages = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relpages;
  ReleaseSysCache(tuple);
  return Max(pages, int64{0});
}

// Updates and deletes from one statistics entry (what pg_stat_get_tuples_updated()
// and pg_stat_get_tuples_deleted() read, fetched once for both).
int64 WritesOf(Oid relid) {
  const PgStat_StatTabEntry *entry = pgstat_fetch_stat_tabentry(relid);
  return entry != nullptr ? static_cast<int64>(entry->tuples_updated) + static_cast<int64>(entry->tuples_deleted) : 0;
}

// Heap bytes from relpages (no relation opened): the leaves of a partitioned table.
// relkind and own_pages: the table's, read by the caller's lookup of it.
int64 TableBytes(Oid relid, bool partitioned, char relkind, int64 own_pages) {
  // a Citus table's data is in its shards, on other nodes
  if (relkind == RELKIND_RELATION || partitioned)
    if (const citus::TableFacts *facts = citus::Facts(relid)) return facts->size_known ? facts->bytes : 0;
  if (!partitioned) return own_pages * BLCKSZ;
  int64 pages = 0;
  ListCell *cell;
  foreach (cell, find_all_inheritors(relid, NoLock, nullptr))
    if (get_rel_relkind(lfirst_oid(cell)) == RELKIND_RELATION) pages += PagesOf(lfirst_oid(cell));
  return pages * BLCKSZ;
}

// Updates and deletes on the referenced table (all its partitions) from statistics.
int64 ParentWrites(Oid relid) {
  if (get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE) return WritesOf(relid);
  int64 writes = 0;
  ListCell *cell;
  foreach (cell, find_all_inheritors(relid, NoLock, nullptr)) writes += WritesOf(lfirst_oid(cell));
  return writes;
}

// Does the RI probe convert some FK column (an int column referencing a
// numeric key compares column::numeric)?
bool CastNeeded(const FkFinding &f) {
  for (int k = 0; k < f.n; k++)
    if (!IsBinaryCoercible(get_atttype(f.relid, f.conkey[k]), OperatorRightType(f.pfeqop[k]))) return true;
  return false;
}

// The index column list, with the cast or COLLATE the RI probe needs when
// the plain column cannot serve it.
const char *IndexColumns(const FkFinding &f, const char *const *colnames, bool with_probe_form, StringInfo scratch) {
  StringInfo buf = scratch;
  resetStringInfo(buf);
  appendStringInfoChar(buf, '(');
  for (int k = 0; k < f.n; k++) {
    if (k > 0) appendStringInfoString(buf, ", ");
    const char *column = quote_identifier(colnames[k]);
    if (!with_probe_form) {
      appendStringInfoString(buf, column);
      continue;
    }
    Oid fk_type, fk_coll;
    int32 typmod;
    get_atttypetypmodcoll(f.relid, f.conkey[k], &fk_type, &typmod, &fk_coll);
    const Oid probe_type = OperatorRightType(f.pfeqop[k]);
    const Oid probe_coll = ProbeCollation(f.relid, f.conkey[k], f.confrelid, f.confkey[k]);
    HeapTuple coll = OidIsValid(fk_coll) && probe_coll != fk_coll ? SearchSysCache1(COLLOID, ObjectIdGetDatum(probe_coll))
                                                                   : nullptr;
    if (!IsBinaryCoercible(fk_type, probe_type)) {
      appendStringInfo(buf, "(%s::%s)", column, format_type_be(probe_type));
    } else if (HeapTupleIsValid(coll)) {
      auto *form = reinterpret_cast<Form_pg_collation>(GETSTRUCT(coll));
      appendStringInfo(buf, "%s COLLATE %s", column,
                       quote_qualified_identifier(get_namespace_name(form->collnamespace), NameStr(form->collname)));
    } else {
      appendStringInfoString(buf, column);
    }
    if (HeapTupleIsValid(coll)) ReleaseSysCache(coll);
  }
  appendStringInfoChar(buf, ')');
  return pstrdup(buf->data);
}

const char *Severity(bool building, int64 bytes, int64 writes, bool cascading) {
  if (building) return "low";
  if (bytes >= 1024 * kMiB) return "high";
  if (bytes >= 10 * kMiB && (writes >= 10000 || cascading)) return "high";
  if (bytes >= 10 * kMiB || writes >= 10000 || (bytes >= kMiB && cascading)) return "medium";
  return "low";
}

const char *Reason(const FkFinding &f, bool building) {
  if (building) return "index being built";
  switch (f.grade) {
    case kIndexInvalid: return "index invalid";
    case kPartialNotImplied: return "only a partial index";
    case kCollationDiffers: return "collation differs";
    case kOperatorMismatch: return CastNeeded(f) ? "column type forces a cast" : "operator class cannot serve the equality";
    case kWrongAccessMethod: return "wrong access method";
    case kOnlyInclude: return "only as INCLUDE column";
    case kNotLeading: return "not the leading columns";
    default: return "no index";
  }
}

// Findings that would propose the same index name (same namespace and base)
// are numbered apart: distinct (table, columns, probe form) get 0, 1, 2, ...
int CompareForNaming(const void *a, const void *b) {
  const FkReportRow *x = *static_cast<FkReportRow *const *>(a);
  const FkReportRow *y = *static_cast<FkReportRow *const *>(b);
  if (x->nspid != y->nspid) return x->nspid < y->nspid ? -1 : 1;
  if (int c = strcmp(x->name_base, y->name_base)) return c;
  if (x->finding.relid != y->finding.relid) return x->finding.relid < y->finding.relid ? -1 : 1;
  if (int c = strcmp(x->column_key, y->column_key)) return c;
  return static_cast<int>(x->probe_form) - static_cast<int>(y->probe_form);
}

int SeverityRank(const char *severity) {
  return strcmp(severity, "high") == 0 ? 1 : strcmp(severity, "medium") == 0 ? 2 : 3;
}

int CompareForReport(const void *a, const void *b) {
  const FkReportRow *x = *static_cast<FkReportRow *const *>(a);
  const FkReportRow *y = *static_cast<FkReportRow *const *>(b);
  if (int c = SeverityRank(x->severity) - SeverityRank(y->severity)) return c;
  if (int c = strcmp(x->nspname, y->nspname)) return c;
  if (int c = strcmp(x->relname, y->relname)) return c;
  return strcmp(x->finding.conname, y->finding.conname);
}

}  // namespace

FkReportRow **BuildFkReport(const Oid *namespaces, int n_namespaces, const Oid *building_indexes, int n_building,
                            int *count) {
  int n = 0;
  FkFinding *findings = FindUncoveredForeignKeys(namespaces, n_namespaces, &n);
  FkReportRow *rows = static_cast<FkReportRow *>(palloc0(sizeof(FkReportRow) * (n + 1)));
  FkReportRow **order = static_cast<FkReportRow **>(palloc(sizeof(FkReportRow *) * (n + 1)));
  StringInfoData scratch;  // one buffer for every string built below
  initStringInfo(&scratch);
  // statistics entries and partition lists, freed row by row
  MemoryContext outer = CurrentMemoryContext;
  MemoryContext per_row = AllocSetContextCreate(outer, "schema_guard fk report row", ALLOCSET_SMALL_SIZES);
  Oid last_nspid = InvalidOid;
  const char *last_nspname = nullptr;
  for (int i = 0; i < n; i++) {
    FkReportRow &r = rows[i];
    const FkFinding &f = findings[i];
    r.finding = f;
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(f.relid));
    if (!HeapTupleIsValid(tuple)) elog(ERROR, "cache lookup failed for relation %u", f.relid);
    auto *rel = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple));
    r.nspid = rel->relnamespace;
    r.relname = pstrdup(NameStr(rel->relname));
    const char relkind = rel->relkind;
    const int64 own_pages = Max(static_cast<int64>(rel->relpages), int64{0});
    ReleaseSysCache(tuple);
    if (r.nspid != last_nspid) {
      last_nspid = r.nspid;
      last_nspname = get_namespace_name(r.nspid);
    }
    r.nspname = last_nspname;

    char **colnames = static_cast<char **>(palloc(sizeof(char *) * f.n));
    resetStringInfo(&scratch);
    appendStringInfoString(&scratch, r.relname);
    for (int k = 0; k < f.n; k++) {
      colnames[k] = get_attname(f.relid, f.conkey[k], false);
      appendStringInfo(&scratch, "_%s", colnames[k]);
    }
    r.name_base = pstrdup(scratch.data);
    resetStringInfo(&scratch);
    for (int k = 0; k < f.n; k++) appendStringInfo(&scratch, "%s%s", k ? "," : "", colnames[k]);
    r.column_key = pstrdup(scratch.data);
    r.colnames = colnames;
    r.probe_form = f.grade == kCollationDiffers || f.grade == kOperatorMismatch;
    r.building = f.grade == kIndexInvalid && OidInSorted(building_indexes, n_building, f.candidate);
    r.reason = Reason(f, r.building);
    r.on_delete = ActionName(f.confdeltype);
    r.on_update = ActionName(f.confupdtype);
    MemoryContextSwitchTo(per_row);
    r.table_bytes = TableBytes(f.relid, f.partitioned, relkind, own_pages);
    r.parent_writes = ParentWrites(f.confrelid);
    MemoryContextSwitchTo(outer);
    MemoryContextReset(per_row);
    r.severity = Severity(r.building, r.table_bytes, r.parent_writes, Cascades(f.confdeltype) || Cascades(f.confupdtype));
    order[i] = &r;
  }
  MemoryContextDelete(per_row);

  // findings that would propose the same index name get numbers 0, 1, 2, ...
  qsort(order, n, sizeof(FkReportRow *), CompareForNaming);
  int number = 0;
  for (int i = 1; i < n; i++) {
    const FkReportRow &p = *order[i - 1];
    FkReportRow &r = *order[i];
    if (p.nspid != r.nspid || strcmp(p.name_base, r.name_base) != 0) number = 0;
    else if (CompareForNaming(&order[i - 1], &order[i]) != 0) number++;
    r.name_number = number;
  }
  // report order: severity, then schema, table and constraint name
  qsort(order, n, sizeof(FkReportRow *), CompareForReport);
  *count = n;
  return order;
}

const char *FkFixStatement(const FkReportRow &r, StringInfo scratch) {
  const FkFinding &f = r.finding;
  if (r.building || f.partitioned) return nullptr;  // nothing to do yet / the SQL layer's ON ONLY + ATTACH recipe
  if (f.grade == kIndexInvalid)
    return psprintf("REINDEX INDEX CONCURRENTLY %s;",
                    DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(f.candidate))));
  return psprintf("CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s %s;",
                  quote_identifier(FreeRelationName(r.nspid, r.name_base, "idx", r.name_number)),
                  quote_qualified_identifier(r.nspname, r.relname),
                  IndexColumns(f, r.colnames, r.probe_form, scratch));
}

const char *FreeRelationName(Oid nsp, const char *base, const char *suffix, int start) {
  char tail[NAMEDATALEN];
  char name[NAMEDATALEN * 2];
  for (int n = start;; n++) {
    if (n > 0) snprintf(tail, sizeof tail, "_%s%d", suffix, n);
    else snprintf(tail, sizeof tail, "_%s", suffix);
    const int tail_len = strlen(tail);
    const int head_len = pg_mbcliplen(base, strlen(base), NAMEDATALEN - 1 - tail_len);
    snprintf(name, sizeof name, "%.*s%s", head_len, base, tail);
    if (!OidIsValid(get_relname_relid(name, nsp))) return pstrdup(name);
  }
}

}  // namespace schema_guard::audit
