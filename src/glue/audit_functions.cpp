// SQL-callable parts of the audits written in C++: the foreign-key coverage
// pass of fk_index_audit() and the policy-expression facts of rls_audit().
// The SQL functions in src/sql/ build the findings' text around them.
#include "audit/audit.hpp"
#include "boundary.hpp"
#include "glue/guc.hpp"

using namespace schema_guard;

namespace {

Datum NameDatum(const char *name) {
  Name result = static_cast<Name>(palloc0(NAMEDATALEN));
  namestrcpy(result, name);
  return NameGetDatum(result);
}

Datum TextOrNull(const char *value, bool *isnull) {
  *isnull = value == nullptr;
  return value ? CStringGetTextDatum(value) : (Datum)0;
}

}  // namespace

namespace {

// The namespaces an audit looks at, sorted: the given names (argument 0,
// VARIADIC schema_filter name[]), or when there are none every schema but the
// system ones.  The one scope rule of all audits (rls_audit and rls_access get
// it through _audit_namespaces()).
Oid *AuditNamespaces(FunctionCallInfo fcinfo, int *n) {
  Datum *names = nullptr;
  bool *name_nulls = nullptr;
  int n_names = 0;
  if (!PG_ARGISNULL(0))
    deconstruct_array(PG_GETARG_ARRAYTYPE_P(0), NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR, &names, &name_nulls,
                      &n_names);
  int n_filter = 0;
  for (int i = 0; i < n_names; i++) n_filter += !name_nulls[i];
  Relation pg_namespace = table_open(NamespaceRelationId, AccessShareLock);
  SysScanDesc scan = systable_beginscan(pg_namespace, InvalidOid, false, nullptr, 0, nullptr);
  int capacity = 64;
  Oid *oids = static_cast<Oid *>(palloc(sizeof(Oid) * capacity));
  *n = 0;
  HeapTuple tuple;
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    auto *form = reinterpret_cast<Form_pg_namespace>(GETSTRUCT(tuple));
    const char *name = NameStr(form->nspname);
    bool in_scope = false;
    if (n_filter == 0) {
      in_scope = strcmp(name, "pg_catalog") != 0 && strcmp(name, "information_schema") != 0 &&
                 strncmp(name, "pg_toast", 8) != 0 && strncmp(name, "pg_temp_", 8) != 0;
    } else {
      for (int i = 0; i < n_names && !in_scope; i++)
        in_scope = !name_nulls[i] && strcmp(NameStr(*DatumGetName(names[i])), name) == 0;
    }
    if (!in_scope) continue;
    if (*n == capacity) oids = static_cast<Oid *>(repalloc(oids, sizeof(Oid) * (capacity *= 2)));
    oids[(*n)++] = form->oid;
  }
  systable_endscan(scan);
  table_close(pg_namespace, AccessShareLock);
  qsort(oids, *n, sizeof(Oid), oid_cmp);
  return oids;
}

// Indexes that CREATE INDEX or REINDEX is building right now and, with
// reindexing, the tables REINDEX CONCURRENTLY works on, as
// pg_stat_progress_create_index shows them to this role (sorted).
Oid *IndexesBeingBuilt(int *n, Oid **reindexing = nullptr, int *n_reindexing = nullptr) {
  const int backends = pgstat_fetch_stat_numbackends();
  Oid *oids = static_cast<Oid *>(palloc(sizeof(Oid) * (backends + 1)));
  Oid *tables = static_cast<Oid *>(palloc(sizeof(Oid) * (backends + 1)));
  *n = 0;
  int n_tables = 0;
  for (int i = 1; i <= backends; i++) {
    LocalPgBackendStatus *local = SG_LOCAL_BEENTRY(i);
    if (local == nullptr) continue;
    const PgBackendStatus &status = local->backendStatus;
    if (status.st_progress_command != PROGRESS_COMMAND_CREATE_INDEX) continue;
    if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS) && !has_privs_of_role(GetUserId(), status.st_userid))
      continue;
    oids[(*n)++] = static_cast<Oid>(status.st_progress_param[PROGRESS_CREATEIDX_INDEX_OID]);
    if (status.st_progress_param[PROGRESS_CREATEIDX_COMMAND] == PROGRESS_CREATEIDX_COMMAND_REINDEX_CONCURRENTLY)
      tables[n_tables++] = status.st_progress_command_target;
  }
  qsort(oids, *n, sizeof(Oid), oid_cmp);
  if (reindexing != nullptr) {
    qsort(tables, n_tables, sizeof(Oid), oid_cmp);
    *reindexing = tables;
    *n_reindexing = n_tables;
  }
  return oids;
}

// Objects of one catalog (pg_class, pg_proc) that belong to an extension
// (sorted): their schema is the extension's business.
Oid *ExtensionMembers(Oid classid, int *n) {
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_depend_refclassid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(ExtensionRelationId));
  Relation pg_depend = table_open(DependRelationId, AccessShareLock);
  SysScanDesc scan = systable_beginscan(pg_depend, DependReferenceIndexId, true, nullptr, 1, &key);
  int capacity = 64;
  Oid *oids = static_cast<Oid *>(palloc(sizeof(Oid) * capacity));
  *n = 0;
  HeapTuple tuple;
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    auto *form = reinterpret_cast<Form_pg_depend>(GETSTRUCT(tuple));
    if (form->classid != classid || form->deptype != DEPENDENCY_EXTENSION) continue;
    if (*n == capacity) oids = static_cast<Oid *>(repalloc(oids, sizeof(Oid) * (capacity *= 2)));
    oids[(*n)++] = form->objid;
  }
  systable_endscan(scan);
  table_close(pg_depend, AccessShareLock);
  qsort(oids, *n, sizeof(Oid), oid_cmp);
  return oids;
}

Oid *ExtensionRelations(int *n) { return ExtensionMembers(RelationRelationId, n); }

int CompareRegclassText(const void *a, const void *b) {
  return strcmp(*static_cast<char *const *>(a), *static_cast<char *const *>(b));
}

// The leaves without a usable index, as regclass[] ordered by their names.
Datum UncoveredPartitions(const audit::FkFinding &f) {
  char **names = static_cast<char **>(palloc(sizeof(char *) * f.n_uncovered));
  for (int k = 0; k < f.n_uncovered; k++) {
    const char *text = DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(f.uncovered[k])));
    // the oid travels behind the name's terminator, to survive the sort
    names[k] = static_cast<char *>(palloc(strlen(text) + 1 + sizeof(Oid)));
    strcpy(names[k], text);
    memcpy(names[k] + strlen(text) + 1, &f.uncovered[k], sizeof(Oid));
  }
  qsort(names, f.n_uncovered, sizeof(char *), CompareRegclassText);
  Datum *oids = static_cast<Datum *>(palloc(sizeof(Datum) * f.n_uncovered));
  for (int k = 0; k < f.n_uncovered; k++) {
    Oid oid;
    memcpy(&oid, names[k] + strlen(names[k]) + 1, sizeof(Oid));
    oids[k] = ObjectIdGetDatum(oid);
  }
  return PointerGetDatum(construct_array(oids, f.n_uncovered, REGCLASSOID, sizeof(Oid), true, TYPALIGN_INT));
}

// schema_guard._partitioned_index_fix(root oid, colnames name[]) (SQL): the
// ON ONLY + per-partition CONCURRENTLY + ATTACH recipe.
Oid PartitionedIndexFixFunction() {
  const Oid argtypes[2] = {OIDOID, NAMEARRAYOID};
  return LookupFuncName(list_make2(makeString(pstrdup("schema_guard")), makeString(pstrdup("_partitioned_index_fix"))),
                        2, argtypes, false);
}

constexpr int kFkAuditColumns = 13;

struct FkAuditRows {
  FunctionCallInfo fcinfo;
  int count;
  Datum (*values)[kFkAuditColumns];
  bool (*nulls)[kFkAuditColumns];
};

// The audit's rows, built in the caller's memory context: every catalog read of
// the audit happens here.
void BuildFkAuditRows(void *arg) {
  auto *out = static_cast<FkAuditRows *>(arg);
  FunctionCallInfo fcinfo = out->fcinfo;
  int n_namespaces, n_building, n_extension, count;
  const Oid *namespaces = AuditNamespaces(fcinfo, &n_namespaces);
  const Oid *building = IndexesBeingBuilt(&n_building);
  const Oid *extension = ExtensionRelations(&n_extension);
  audit::FkReportRow **rows = audit::BuildFkReport(namespaces, n_namespaces, building, n_building, &count);
  out->values = static_cast<Datum(*)[kFkAuditColumns]>(palloc(sizeof(*out->values) * (count + 1)));
  out->nulls = static_cast<bool(*)[kFkAuditColumns]>(palloc0(sizeof(*out->nulls) * (count + 1)));
  out->count = 0;
  Oid partitioned_fix = InvalidOid;
  StringInfoData scratch;
  initStringInfo(&scratch);
  for (int i = 0; i < count; i++) {
    const audit::FkReportRow &r = *rows[i];
    const audit::FkFinding &f = r.finding;
    if (audit::OidInSorted(extension, n_extension, f.relid)) continue;
    Datum *values = out->values[out->count];
    bool *nulls = out->nulls[out->count];
    out->count++;
    Datum *names = static_cast<Datum *>(palloc(sizeof(Datum) * f.n));
    for (int k = 0; k < f.n; k++) names[k] = NameDatum(r.colnames[k]);
    values[0] = ObjectIdGetDatum(f.relid);
    values[1] = NameDatum(f.conname);
    values[2] = PointerGetDatum(construct_array(names, f.n, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR));
    values[3] = ObjectIdGetDatum(f.confrelid);
    values[4] = CStringGetTextDatum(r.reason);
    values[5] = ObjectIdGetDatum(f.candidate);
    nulls[5] = f.grade == audit::kNoIndex;
    nulls[6] = f.n_uncovered == 0;
    if (f.n_uncovered > 0) values[6] = UncoveredPartitions(f);
    values[7] = TextOrNull(r.on_delete, &nulls[7]);
    values[8] = TextOrNull(r.on_update, &nulls[8]);
    values[9] = Int64GetDatum(r.table_bytes);
    values[10] = Int64GetDatum(r.parent_writes);
    values[11] = CStringGetTextDatum(r.severity);
    if (f.partitioned && !r.building) {
      if (!OidIsValid(partitioned_fix)) partitioned_fix = PartitionedIndexFixFunction();
      values[12] = OidFunctionCall2(partitioned_fix, ObjectIdGetDatum(f.relid), values[2]);
    } else {
      values[12] = TextOrNull(audit::FkFixStatement(r, &scratch), &nulls[12]);
    }
  }
}

}  // namespace

// schema_guard.fk_index_audit(VARIADIC schema_filter name[] DEFAULT NULL): see
// its declaration in src/sql/20_audit_fk.sql for the columns.
SG_SQL_FUNCTION(schema_guard_fk_index_audit) {
  InitMaterializedSRF(fcinfo, 0);
  auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
  MemoryContext work = AllocSetContextCreate(CurrentMemoryContext, "schema_guard fk audit", ALLOCSET_DEFAULT_SIZES);
  MemoryContext caller = MemoryContextSwitchTo(work);
  // The catalog is read without locks while other sessions may drop what it
  // lists: a row that vanished between two lookups starts the audit over on a
  // fresh catalog (the rows go to the tuplestore only afterwards: a tuplestore's
  // temporary file must not belong to the rolled-back subtransaction).
  FkAuditRows rows = {fcinfo, 0, nullptr, nullptr};
  ErrorData *error = nullptr;
  constexpr int kAttempts = 5;
  bool done = false;
  for (int attempt = 0; attempt < kAttempts && !done; attempt++) {
    AcceptInvalidationMessages();
    MemoryContextReset(work);
    done = TryInSubtransaction(BuildFkAuditRows, &rows, &error);
  }
  if (!done) ReThrowError(error);  // PostgreSQL's own error, after kAttempts tries
  for (int i = 0; i < rows.count; i++)
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, rows.values[i], rows.nulls[i]);
  MemoryContextSwitchTo(caller);
  MemoryContextDelete(work);
  return (Datum)0;
}

namespace {

// The blessed result row type of a composite-returning function and, for
// _policy_facts, the element type of its calls array: looked up once per call
// site, kept in fn_extra.
struct ResultTypes {
  TupleDesc result;
  Oid element_type;
  int16 element_len;
  bool element_byval;
  char element_align;
  TupleDesc element_desc;
};

static_assert(std::is_trivially_destructible_v<ResultTypes>);

ResultTypes *CachedResultTypes(FunctionCallInfo fcinfo, int natts, bool array_of_rows_first) {
  if (fcinfo->flinfo->fn_extra != nullptr) return static_cast<ResultTypes *>(fcinfo->flinfo->fn_extra);
  MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
  auto *t = static_cast<ResultTypes *>(palloc0(sizeof(ResultTypes)));
  TupleDesc result;
  if (get_call_result_type(fcinfo, nullptr, &result) != TYPEFUNC_COMPOSITE || result->natts != natts)
    ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                    errmsg("function %s does not return the row type schema_guard declares for it",
                           format_procedure(fcinfo->flinfo->fn_oid))));
  t->result = BlessTupleDesc(CreateTupleDescCopy(result));
  if (array_of_rows_first) {
    t->element_type = get_element_type(TupleDescAttr(result, 0)->atttypid);
    if (!OidIsValid(t->element_type))
      ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                      errmsg("function %s: first result column is not an array", format_procedure(fcinfo->flinfo->fn_oid))));
    get_typlenbyvalalign(t->element_type, &t->element_len, &t->element_byval, &t->element_align);
    t->element_desc = BlessTupleDesc(lookup_rowtype_tupdesc_copy(t->element_type, -1));
  }
  MemoryContextSwitchTo(old);
  fcinfo->flinfo->fn_extra = t;
  return t;
}

Datum TriState(int value, bool *isnull) {
  *isnull = value < 0;
  return BoolGetDatum(value > 0);
}

}  // namespace

// schema_guard._policy_facts(qual pg_node_tree, chk pg_node_tree) RETURNS
// schema_guard._policy_facts (calls _policy_call[], qual_true, check_true)
SG_SQL_FUNCTION(schema_guard_policy_facts) {
  const ResultTypes *types = CachedResultTypes(fcinfo, 3, true);

  const char *qual = PG_ARGISNULL(0) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(0));
  const char *check = PG_ARGISNULL(1) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(1));
  audit::PolicyFacts facts = {};
  audit::ReadPolicyFacts(qual, check, &facts);

  const int n = list_length(facts.calls);
  Datum *elems = static_cast<Datum *>(palloc(sizeof(Datum) * (n + 1)));
  for (int i = 0; i < n; i++) {
    const auto *c = static_cast<const audit::PolicyCall *>(list_nth(facts.calls, i));
    Datum values[7];
    bool nulls[7] = {};
    values[0] = ObjectIdGetDatum(c->funcid);
    values[1] = BoolGetDatum(c->in_subquery);
    values[2] = TextOrNull(c->parent, &nulls[2]);
    values[3] = TriState(c->has_var, &nulls[3]);
    values[4] = TextOrNull(c->setting, &nulls[4]);
    values[5] = TriState(c->missing_ok, &nulls[5]);
    values[6] = TriState(c->nullif_empty, &nulls[6]);
    elems[i] = HeapTupleGetDatum(heap_form_tuple(types->element_desc, values, nulls));
  }
  Datum values[3] = {PointerGetDatum(construct_array(elems, n, types->element_type, types->element_len,
                                                     types->element_byval, types->element_align)),
                     BoolGetDatum(facts.qual_true), BoolGetDatum(facts.check_true)};
  bool nulls[3] = {false, false, false};
  return HeapTupleGetDatum(heap_form_tuple(types->result, values, nulls));
}

// schema_guard._policy_sql(policy oid, OUT qual text, OUT with_check text,
//   OUT qual_rewritten text, OUT check_rewritten text): the policy's
// expressions as SQL, as written and with the audit's recipes applied; all
// NULL when a relation the policy reads is locked right now.
SG_SQL_FUNCTION(schema_guard_policy_sql) {
  const ResultTypes *types = CachedResultTypes(fcinfo, 4, false);
  audit::PolicySql sql = {};
  audit::DeparsePolicy(PG_GETARG_OID(0), &sql);
  Datum values[4];
  bool nulls[4];
  values[0] = TextOrNull(sql.qual, &nulls[0]);
  values[1] = TextOrNull(sql.check, &nulls[1]);
  values[2] = TextOrNull(sql.qual_rewritten, &nulls[2]);
  values[3] = TextOrNull(sql.check_rewritten, &nulls[3]);
  return HeapTupleGetDatum(heap_form_tuple(types->result, values, nulls));
}

// schema_guard._free_relname(nsp oid, base text, suffix text, start int): the
// index names of the fixes (FreeRelationName), for the SQL-built ones too.
SG_SQL_FUNCTION(schema_guard_free_relname) {
  const char *base = text_to_cstring(PG_GETARG_TEXT_PP(1));
  const char *suffix = text_to_cstring(PG_GETARG_TEXT_PP(2));
  const int start = PG_GETARG_INT32(3);
  if (strlen(suffix) > static_cast<size_t>(audit::kMaxNameSuffix) || start < 0)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("suffix must be at most %d bytes and start not negative", audit::kMaxNameSuffix)));
  Name result = static_cast<Name>(palloc0(NAMEDATALEN));
  namestrcpy(result, audit::FreeRelationName(PG_GETARG_OID(0), base, suffix, start));
  PG_RETURN_NAME(result);
}

// schema_guard._audit_namespaces(schema_filter name[]) RETURNS oid[]: the
// audits' scope (AuditNamespaces) for the SQL-written audits.
SG_SQL_FUNCTION(schema_guard_audit_namespaces) {
  int n = 0;
  const Oid *oids = AuditNamespaces(fcinfo, &n);
  Datum *elems = static_cast<Datum *>(palloc(sizeof(Datum) * (n + 1)));
  for (int i = 0; i < n; i++) elems[i] = ObjectIdGetDatum(oids[i]);
  PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
}

// schema_guard._audit_catalog(schema_filter name[]): the rows of audit() that
// its C++ checks find (src/audit/); audit() adds fk_index_audit()'s and
// rls_audit()'s.
SG_SQL_FUNCTION(schema_guard_audit_catalog) {
  InitMaterializedSRF(fcinfo, 0);
  auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
  MemoryContext work = AllocSetContextCreate(CurrentMemoryContext, "schema_guard audit", ALLOCSET_DEFAULT_SIZES);
  MemoryContext caller = MemoryContextSwitchTo(work);
  audit::AuditRun run = {};
  run.namespaces = AuditNamespaces(fcinfo, &run.n_namespaces);
  Oid *reindexing = nullptr;
  run.building = IndexesBeingBuilt(&run.n_building, &reindexing, &run.n_reindexing);
  run.reindexing = reindexing;
  run.extension_members = ExtensionMembers(RelationRelationId, &run.n_extension_members);
  run.extension_functions = ExtensionMembers(ProcedureRelationId, &run.n_extension_functions);
  run.checks = &guc::AuditSkipped();
  audit::RunAudit(&run);
  ListCell *cell;
  foreach (cell, run.findings) {
    const auto *f = static_cast<const audit::Finding *>(lfirst(cell));
    Datum values[6];
    bool nulls[6] = {};
    values[0] = CStringGetTextDatum(audit::Check(f->check).name);
    values[1] = CStringGetTextDatum(f->severity);
    values[2] = ObjectIdGetDatum(f->relid);
    nulls[2] = !OidIsValid(f->relid);
    values[3] = TextOrNull(f->object, &nulls[3]);
    values[4] = TextOrNull(f->detail, &nulls[4]);
    values[5] = TextOrNull(f->fix, &nulls[5]);
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  }
  MemoryContextSwitchTo(caller);
  MemoryContextDelete(work);
  return (Datum)0;
}

// schema_guard.audit_checks(): the check catalog (src/audit/checks.cpp) and
// whether schema_guard.audit_skip leaves each one out.
SG_SQL_FUNCTION(schema_guard_audit_checks) {
  InitMaterializedSRF(fcinfo, 0);
  auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
  const audit::CheckSet &skipped = guc::AuditSkipped();
  for (size_t i = 0; i < audit::kCheckCount; i++) {
    const audit::CheckInfo &check = audit::Check(static_cast<audit::CheckId>(i));
    Datum values[6] = {CStringGetTextDatum(check.name),     CStringGetTextDatum(check.category),
                       CStringGetTextDatum(check.severity), CStringGetTextDatum(check.source),
                       BoolGetDatum(!skipped.skipped[i]),   CStringGetTextDatum(check.description)};
    bool nulls[6] = {};
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  }
  return (Datum)0;
}
