// SQL-callable parts of the audits written in C++: the foreign-key coverage
// pass of fk_index_audit() and the policy-expression facts of rls_audit().
// The SQL functions in src/sql/ build the findings' text around them.
#include "audit/audit.hpp"
#include "boundary.hpp"

using namespace schema_guard;

namespace {

// A sorted copy of an oid[] argument without NULLs.
Oid *OidArgument(FunctionCallInfo fcinfo, int arg, int *n) {
  ArrayType *array = PG_GETARG_ARRAYTYPE_P(arg);
  if (ARR_HASNULL(array))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("oid array must not contain NULL")));
  *n = ARR_NDIM(array) == 1 ? ARR_DIMS(array)[0] : 0;
  Oid *oids = static_cast<Oid *>(palloc(sizeof(Oid) * (*n + 1)));
  memcpy(oids, ARR_DATA_PTR(array), sizeof(Oid) * *n);
  qsort(oids, *n, sizeof(Oid), oid_cmp);
  return oids;
}

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

// schema_guard._fk_index_audit(namespaces oid[], building oid[]): the rows of
// fk_index_audit() (see its declaration for the columns).
SG_SQL_FUNCTION(schema_guard_fk_index_audit) {
  InitMaterializedSRF(fcinfo, 0);
  auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
  MemoryContext work = AllocSetContextCreate(CurrentMemoryContext, "schema_guard fk audit", ALLOCSET_DEFAULT_SIZES);
  MemoryContext caller = MemoryContextSwitchTo(work);
  int n_namespaces, n_building, count;
  const Oid *namespaces = OidArgument(fcinfo, 0, &n_namespaces);
  const Oid *building = OidArgument(fcinfo, 1, &n_building);
  audit::FkReportRow **rows = audit::BuildFkReport(namespaces, n_namespaces, building, n_building, &count);
  // each row's values are built in a context reset after the row is stored
  MemoryContext per_row = AllocSetContextCreate(work, "schema_guard fk audit row", ALLOCSET_SMALL_SIZES);
  StringInfoData scratch;
  initStringInfo(&scratch);
  for (int i = 0; i < count; i++) {
    const audit::FkReportRow &r = *rows[i];
    MemoryContextSwitchTo(per_row);
    const audit::FkFinding &f = r.finding;
    constexpr int kColumns = 16;
    Datum values[kColumns];
    bool nulls[kColumns] = {};
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
    if (f.n_uncovered > 0) {
      Datum *oids = static_cast<Datum *>(palloc(sizeof(Datum) * f.n_uncovered));
      for (int k = 0; k < f.n_uncovered; k++) oids[k] = ObjectIdGetDatum(f.uncovered[k]);
      values[6] = PointerGetDatum(construct_array(oids, f.n_uncovered, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
    }
    values[7] = TextOrNull(r.on_delete, &nulls[7]);
    values[8] = TextOrNull(r.on_update, &nulls[8]);
    values[9] = Int64GetDatum(r.table_bytes);
    values[10] = Int64GetDatum(r.parent_writes);
    values[11] = CStringGetTextDatum(r.severity);
    values[12] = TextOrNull(audit::FkFixStatement(r, &scratch), &nulls[12]);
    values[13] = BoolGetDatum(f.partitioned && !r.building);
    values[14] = NameDatum(r.nspname);
    values[15] = NameDatum(r.relname);
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    MemoryContextSwitchTo(work);
    MemoryContextReset(per_row);
  }
  MemoryContextSwitchTo(caller);
  MemoryContextDelete(work);
  return (Datum)0;
}

namespace {

// The element type of _policy_facts.calls, looked up once per call site.
struct PolicyCallType {
  Oid type;
  int16 typlen;
  bool typbyval;
  char typalign;
  TupleDesc desc;
};

static_assert(std::is_trivially_destructible_v<PolicyCallType>);

PolicyCallType *CallType(FunctionCallInfo fcinfo, TupleDesc result) {
  if (fcinfo->flinfo->fn_extra != nullptr) return static_cast<PolicyCallType *>(fcinfo->flinfo->fn_extra);
  MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
  auto *t = static_cast<PolicyCallType *>(palloc(sizeof(PolicyCallType)));
  t->type = get_element_type(TupleDescAttr(result, 0)->atttypid);
  if (!OidIsValid(t->type))
    ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH), errmsg("_policy_facts: first result column is not an array")));
  get_typlenbyvalalign(t->type, &t->typlen, &t->typbyval, &t->typalign);
  t->desc = BlessTupleDesc(lookup_rowtype_tupdesc_copy(t->type, -1));
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
  TupleDesc result;
  if (get_call_result_type(fcinfo, nullptr, &result) != TYPEFUNC_COMPOSITE || result->natts != 3)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("_policy_facts must return schema_guard._policy_facts")));
  result = BlessTupleDesc(result);
  PolicyCallType *call_type = CallType(fcinfo, result);

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
    values[2] = c->parent ? CStringGetTextDatum(c->parent) : (Datum)0;
    nulls[2] = c->parent == nullptr;
    values[3] = TriState(c->has_var, &nulls[3]);
    values[4] = c->setting ? CStringGetTextDatum(c->setting) : (Datum)0;
    nulls[4] = c->setting == nullptr;
    values[5] = TriState(c->missing_ok, &nulls[5]);
    values[6] = TriState(c->nullif_empty, &nulls[6]);
    elems[i] = HeapTupleGetDatum(heap_form_tuple(call_type->desc, values, nulls));
  }
  Datum values[3] = {PointerGetDatum(construct_array(elems, n, call_type->type, call_type->typlen,
                                                     call_type->typbyval, call_type->typalign)),
                     BoolGetDatum(facts.qual_true), BoolGetDatum(facts.check_true)};
  bool nulls[3] = {false, false, false};
  return HeapTupleGetDatum(heap_form_tuple(result, values, nulls));
}

// schema_guard._binary_coercible(src oid, dst oid): the server's own rule
// (domains, binary-coercible casts, polymorphic targets).
SG_SQL_FUNCTION(schema_guard_binary_coercible) {
  PG_RETURN_BOOL(IsBinaryCoercible(PG_GETARG_OID(0), PG_GETARG_OID(1)));
}
