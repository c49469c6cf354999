// SQL-callable functions: schema_guard.status(), schema_guard.rules() and the
// table_rewrite event trigger (the backstop for rewrites the analysis missed).
#include "analysis/analysis.hpp"
#include "analysis/statement_catalog.hpp"
#include "boundary.hpp"
#include "citus/citus.hpp"
#include "glue/activation.hpp"
#include "glue/guc.hpp"
#include "glue/hook.hpp"
#include "glue/report.hpp"
#include "glue/verdict.hpp"

using namespace schema_guard;
using policy::Action;

// pg_extension.extversion of schema_guard in this database, or NULL.
static char *InstalledExtensionVersion() {
  Relation rel = table_open(ExtensionRelationId, AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ, CStringGetDatum("schema_guard"));
  SysScanDesc scan = systable_beginscan(rel, ExtensionNameIndexId, true, nullptr, 1, &key);
  char *version = nullptr;
  HeapTuple tuple = systable_getnext(scan);
  if (HeapTupleIsValid(tuple)) {
    bool isnull;
    Datum datum = heap_getattr(tuple, Anum_pg_extension_extversion, RelationGetDescr(rel), &isnull);
    if (!isnull) version = TextDatumGetCString(datum);
  }
  systable_endscan(scan);
  table_close(rel, AccessShareLock);
  return version;
}

SG_SQL_FUNCTION(schema_guard_status) {
  TupleDesc tupdesc;
  if (get_call_result_type(fcinfo, nullptr, &tupdesc) != TYPEFUNC_COMPOSITE)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("function returning record called in context that cannot accept type record")));
  tupdesc = BlessTupleDesc(tupdesc);
  const bool hook = activation::HookInstalled();
  const bool installed = activation::ExtensionInstalled();
  const Action mode = guc::Mode();
  const bool active = hook && installed && mode != Action::Off;
  const char *effective = active ? policy::ActionName(mode) : "off";
  const char *message;
  if (!hook)
    message = "inactive: the library is not preloaded in this backend; add schema_guard to shared_preload_libraries (or session_preload_libraries) to guard DDL; audits work without it";
  else if (!installed)
    message = "inactive: CREATE EXTENSION schema_guard has not been run in this database";
  else if (mode == Action::Off)
    message = "inactive: schema_guard.mode is off";
  else
    message = mode == Action::Block ? "active: unsafe DDL is blocked or warned about per rule" : "active: unsafe DDL is reported as WARNING and runs";
  // The versions of the loaded library and of the extension's SQL objects here: they
  // differ after a package upgrade until ALTER EXTENSION schema_guard UPDATE.
  // (A 0.2.0 declaration of this function has only the first six columns; the tuple
  // follows the declared result type.)
  char *extension_version = installed ? InstalledExtensionVersion() : nullptr;
  Datum values[8] = {BoolGetDatum(active), BoolGetDatum(hook), CStringGetTextDatum(activation::LoadMethodName()),
                     BoolGetDatum(installed), CStringGetTextDatum(effective), CStringGetTextDatum(message),
                     CStringGetTextDatum(SG_VERSION), (Datum)0};
  bool nulls[8] = {false, false, false, false, false, false, false, extension_version == nullptr};
  if (extension_version != nullptr) values[7] = CStringGetTextDatum(extension_version);
  if (tupdesc->natts > 8)
    ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH), errmsg("schema_guard.status() is declared with %d result columns, the library knows 8", tupdesc->natts),
                    errhint("ALTER EXTENSION schema_guard UPDATE, or install the matching library.")));
  return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

SG_SQL_FUNCTION(schema_guard_rules) {
  InitMaterializedSRF(fcinfo, 0);
  auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
  const policy::Settings settings = guc::CurrentSettings();
  const bool bounded = LockTimeout > 0 || guc::GuardLockTimeoutMs() > 0;
  for (size_t i = 0; i < policy::kRuleCount; i++) {
    const policy::RuleInfo &rule = policy::Rule(static_cast<policy::RuleId>(i));
    Action effective = policy::ConfiguredAction(settings, rule.id, bounded);
    if (policy::IsAllowed(settings, rule.id)) effective = Action::Off;
    Datum values[7] = {CStringGetTextDatum(rule.name), CStringGetTextDatum(rule.category),
                       CStringGetTextDatum(policy::ActionName(rule.default_action)),
                       CStringGetTextDatum(policy::ActionName(effective)),
                       CStringGetTextDatum(rule.description), CStringGetTextDatum(rule.recipe),
                       (Datum)0};
    bool nulls[7] = {false, false, false, false, false, false, rule.recipe_partitioned == nullptr};
    if (rule.recipe_partitioned) values[6] = CStringGetTextDatum(rule.recipe_partitioned);
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  }
  return (Datum)0;
}

namespace {

Datum RuleArray(const policy::RuleId *rules) {
  Datum names[analysis::kMaxStatementRules];
  int n = 0;
  for (size_t i = 0; i < analysis::kMaxStatementRules && rules[i] != policy::RuleId::Count_; i++)
    names[n++] = CStringGetTextDatum(policy::Rule(rules[i]).name);
  return PointerGetDatum(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT));
}

void PutStatement(ReturnSetInfo *rsinfo, const char *statement, const char *subcommand, LOCKMODE lock,
                  const char *locked, const char *work, const policy::RuleId *rules) {
  Datum values[6] = {CStringGetTextDatum(statement), (Datum)0,
                     CStringGetTextDatum(lock == NoLock ? "per subcommand" : report::LockModeSqlName(lock)),
                     CStringGetTextDatum(locked), CStringGetTextDatum(work), RuleArray(rules)};
  bool nulls[6] = {false, subcommand == nullptr, false, false, false, false};
  if (subcommand) values[1] = CStringGetTextDatum(subcommand);
  tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

}  // namespace

// The statement catalog; ALTER TABLE's subcommands with the lock the server's
// AlterTableGetLockLevel() gives each.
SG_SQL_FUNCTION(schema_guard_statements) {
  InitMaterializedSRF(fcinfo, 0);
  auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
  for (size_t i = 0; i < analysis::kStatementCount; i++) {
    const analysis::StatementInfo &st = analysis::StatementEntry(static_cast<analysis::Statement>(i));
    PutStatement(rsinfo, st.syntax, nullptr, st.lock, st.locked, st.work, st.rules);
    if (st.id != analysis::Statement::AlterTable) continue;
    for (size_t j = 0; j < analysis::AlterSubcommandCount(); j++) {
      const analysis::AlterSubcommand &sub = analysis::AlterSubcommandEntry(j);
      PutStatement(rsinfo, st.syntax, sub.syntax, analysis::AlterSubcommandLock(sub), "the table", sub.work,
                   sub.rules);
    }
  }
  return (Datum)0;
}

SG_SQL_FUNCTION(schema_guard_table_rewrite) {
  if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
    ereport(ERROR, (errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
                    errmsg("schema_guard_table_rewrite() must be called as an event trigger")));
  if (!activation::HookInstalled() || guc::Mode() == Action::Off || creating_extension || IsBinaryUpgrade)
    PG_RETURN_VOID();
  const Oid relid = DatumGetObjectId(OidFunctionCall0Coll(F_PG_EVENT_TRIGGER_TABLE_REWRITE_OID, InvalidOid));
  const int reason = DatumGetInt32(OidFunctionCall0Coll(F_PG_EVENT_TRIGGER_TABLE_REWRITE_REASON, InvalidOid));
  if (!OidIsValid(relid) || analysis::IsExemptRelation(relid) || hook::RewritePredicted(relid))
    PG_RETURN_VOID();
  // Citus rewriting shards: the statement was judged on the node that sent it, or is
  // the judged statement itself (placements on this node).
  if (citus::IsInternalBackend() || citus::InTableConversion() || (hook::InCitusStatement() && citus::IsShard(relid)))
    PG_RETURN_VOID();

  const policy::Settings settings = guc::CurrentSettings();
  const Action action = policy::ConfiguredAction(settings, policy::RuleId::UnpredictedRewrite, false);
  analysis::Finding f = {};
  f.rule = policy::RuleId::UnpredictedRewrite;
  f.relid = relid;
  f.lock = AccessExclusiveLock;
  f.effects = analysis::kRewrite;
  if (action == Action::Off || verdict::WorkIsNegligible(f, verdict::Judging::Statement)) PG_RETURN_VOID();

  EventTriggerData *trigdata = reinterpret_cast<EventTriggerData *>(fcinfo->context);
  f.what = GetCommandTagName(trigdata->tag);
  f.reason = psprintf("Rewrite reason bits: %d (1 persistence, 2 default value, 4 column type, 8 access method).", reason);
  ereport(LOG_SERVER_ONLY, (errmsg("schema_guard: prediction miss: %s rewrites %s, which the analysis did not predict",
                                   f.what, report::RelationText(f)),
                            errhidestmt(false)));
  report::Context ctx = {debug_query_string, f.what, nullptr};
  if (policy::IsAllowed(settings, f.rule))
    report::LogAllowed(f, ctx);
  else
    report::Emit(f, action, ctx);
  PG_RETURN_VOID();
}

// The storage of the named relations on this node, summed, read without locking them;
// NULL when one of them does not exist.  A Citus coordinator asks every node for the
// size of its shards with it (citus/citus.cpp).
SG_SQL_FUNCTION(schema_guard_relations_bytes) {
  ArrayType *names = PG_GETARG_ARRAYTYPE_P(0);
  Datum *elems;
  bool *nulls;
  int count;
  deconstruct_array(names, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &count);
  int64 total = 0;
  for (int i = 0; i < count; i++) {
    if (nulls[i]) PG_RETURN_NULL();
    List *qname = SG_STRING_TO_QUALIFIED_NAME_LIST(TextDatumGetCString(elems[i]));
    const Oid relid = RangeVarGetRelid(makeRangeVarFromNameList(qname), NoLock, true);
    if (!OidIsValid(relid)) PG_RETURN_NULL();
    total += analysis::StorageBytes(relid);
  }
  PG_RETURN_INT64(total);
}
