// schema_guard.check(sql) and schema_guard.explain(sql): the guard's analysis applied
// to a migration script without executing it.  Thin glue: the script is read as psql
// runs it (script/psql_reader) and simulated (script/simulate); this file turns the
// verdicts into rows.
#include "analysis/analysis.hpp"
#include "boundary.hpp"
#include "citus/citus.hpp"
#include "glue/guc.hpp"
#include "glue/report.hpp"
#include "glue/setup.hpp"
#include "glue/verdict.hpp"
#include "script/psql_reader.hpp"
#include "script/simulate.hpp"

using namespace schema_guard;
using analysis::Finding;
using policy::RuleId;

namespace {

struct ParseProbe {
  const char *sql;
  List *stmts;
};

void ParseScript(void *arg) {
  auto *p = static_cast<ParseProbe *>(arg);
  p->stmts = raw_parser(p->sql, RAW_PARSE_DEFAULT);
}

static_assert(std::is_trivially_destructible_v<ParseProbe>);

// Scripts larger than this are refused: check() keeps the script and its current
// batch in memory (about twice the input at most), and text values stop at 1 GB.
constexpr int64 kMaxScriptBytes = 256LL * 1024 * 1024;

void CheckScriptSize(int64 bytes) {
  if (bytes > kMaxScriptBytes)
    ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                    errmsg("schema_guard: script is too large for check(): %lld bytes", static_cast<long long>(bytes)),
                    errdetail("check() and schema_guard_lint judge scripts of up to %lld MB.",
                              static_cast<long long>(kMaxScriptBytes / (1024 * 1024))),
                    errhint("Split the migration into several files.")));
}

// The psql reader allocates in this context (set for the duration of one call).
MemoryContext reader_context = nullptr;
void *ReaderAlloc(size_t n) { return MemoryContextAllocHuge(reader_context, n); }
void *ReaderRealloc(void *p, size_t n) { return repalloc_huge(p, n); }
void ReaderFree(void *p) { pfree(p); }
const script::Allocator kReaderAllocator = {ReaderAlloc, ReaderRealloc, ReaderFree};
int ServerCharLength(const unsigned char *s) { return pg_mblen(reinterpret_cast<const char *>(s)); }

// line < 0: NULL (the lint's error offset when there is no error position).
void EmitRow(ReturnSetInfo *rsinfo, int statement, int line, const Finding &f, verdict::Outcome outcome) {
  Datum values[10];
  bool nulls[10] = {false};
  values[0] = Int32GetDatum(statement);
  values[1] = Int32GetDatum(line);
  nulls[1] = line < 0;
  values[2] = CStringGetTextDatum(policy::Rule(f.rule).name);
  values[3] = CStringGetTextDatum(outcome == verdict::Outcome::Block ? "block" : "warn");
  values[4] = ObjectIdGetDatum(f.relid);
  nulls[4] = !OidIsValid(f.relid);
  values[5] = f.lock != NoLock ? CStringGetTextDatum(GetLockmodeName(DEFAULT_LOCKMETHOD, f.lock)) : (Datum)0;
  nulls[5] = f.lock == NoLock;
  values[6] = BoolGetDatum((f.effects & analysis::kRewrite) != 0);
  values[7] = BoolGetDatum((f.effects & analysis::kScan) != 0);
  const char *message = report::PrimaryText(f);
  // a statement that fails at deploy: what happens to the rest of the script
  if ((f.rule == RuleId::SyntaxError || f.rule == RuleId::StatementError || f.rule == RuleId::RelationMissing ||
       f.rule == RuleId::TransactionBlockError) &&
      f.reason != nullptr)
    message = psprintf("%s (%s)", message, f.reason);
  values[8] = CStringGetTextDatum(message);
  values[9] = CStringGetTextDatum(report::HintText(f, nullptr));
  tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

// check(): statement number and line in the script; a syntax error's message says
// where in the script the error is.
void EmitCheckRow(void *context, const script::Verdict &v) {
  auto *rsinfo = static_cast<ReturnSetInfo *>(context);
  int line = v.step->where.line;
  if (v.error_chars >= 0 && v.step->kind == script::StepKind::Sql) {
    const int bytes = pg_mbcharcliplen(v.step->text, v.step->length, v.error_chars);
    const script::Position at = script::LocateInMap(v.step->map, static_cast<size_t>(bytes), ServerCharLength);
    Finding located = *v.finding;
    located.what = psprintf("%s at line %d, column %d", v.finding->what, at.line, at.column);
    EmitRow(rsinfo, v.step->ordinal, at.line, located, v.outcome);
    return;
  }
  EmitRow(rsinfo, v.step->ordinal, line, *v.finding, v.outcome);
}

}  // namespace

SG_SQL_FUNCTION(schema_guard_check) {
  text *script_text = PG_GETARG_TEXT_PP(0);
  CheckScriptSize(VARSIZE_ANY_EXHDR(script_text));
  setup::SuspendForScript();  // the deploy runs in another session
  InitMaterializedSRF(fcinfo, 0);
  auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);

  MemoryContext call_context = AllocSetContextCreate(CurrentMemoryContext, "schema_guard check", ALLOCSET_DEFAULT_SIZES);
  MemoryContext caller = MemoryContextSwitchTo(call_context);
  reader_context = call_context;
  script::SourceFile file = {"script", VARDATA_ANY(script_text), VARSIZE_ANY_EXHDR(script_text)};
  script::ReaderOptions options = {};
  options.allocator = &kReaderAllocator;
  options.char_length = ServerCharLength;
  options.no_include_reason = "check() does not read files: the included file was not judged (schema_guard_lint reads includes)";
  options.nonstandard_strings = !SG_STANDARD_CONFORMING_STRINGS;
  script::Reader *reader = script::NewReader(options, &file);
  script::SetVariable(reader, "DBNAME", get_database_name(MyDatabaseId));
  script::SetVariable(reader, "USER", GetUserNameFromId(GetUserId(), false));
  script::Simulation *sim = script::NewSimulation(EmitCheckRow, rsinfo);

  script::Item item;
  int statement = 0;
  while (script::NextItem(reader, &item)) {
    script::StepKind kind = script::StepKind::Sql;
    if (item.kind == script::ItemKind::Statement) statement++;
    else kind = item.kind == script::ItemKind::Note ? script::StepKind::Note : script::StepKind::Connect;
    const script::StatementMap map = script::CurrentMap(reader);
    if (!script::AddStep(sim, kind, item.text, item.length, item.on_error_stop, item.autocommit,
                         statement, &item.where,
                         item.kind == script::ItemKind::Statement ? &map : nullptr))
      break;
    CHECK_FOR_INTERRUPTS();
  }
  script::FinishSimulation(sim);
  reader_context = nullptr;
  MemoryContextSwitchTo(caller);
  MemoryContextDelete(call_context);
  setup::ResumeAfterScript();
  return (Datum)0;
}

namespace {

// _check_sequence(): the step (1-based array index) and the character offset of a
// syntax error in it; the lint maps both to file, line and column.
void EmitSequenceRow(void *context, const script::Verdict &v) {
  auto *rsinfo = static_cast<ReturnSetInfo *>(context);
  EmitRow(rsinfo, v.step->ordinal, v.error_chars, *v.finding, v.outcome);
}

script::StepKind StepKindOf(char letter, bool *ok) {
  *ok = true;
  switch (letter) {
    case 'S': return script::StepKind::Sql;
    case 'N': return script::StepKind::Note;
    case 'C': return script::StepKind::Connect;
    case 'B': return script::StepKind::BeginImplicit;
    case 'E': return script::StepKind::EndImplicit;
    default: *ok = false; return script::StepKind::Sql;
  }
}

}  // namespace

SG_SQL_FUNCTION(schema_guard_check_sequence) {
  ArrayType *steps = PG_GETARG_ARRAYTYPE_P(0);
  if (ARR_NDIM(steps) > 1)
    ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("schema_guard: steps must be a one-dimensional array")));
  Datum *elements;
  bool *nulls;
  int count;
  deconstruct_array(steps, TEXTOID, -1, false, TYPALIGN_INT, &elements, &nulls, &count);
  int64 total = 0;
  for (int i = 0; i < count; i++)
    if (!nulls[i]) total += VARSIZE_ANY_EXHDR(DatumGetPointer(elements[i]));
  CheckScriptSize(total);
  setup::SuspendForScript();  // the deploy runs in another session
  InitMaterializedSRF(fcinfo, 0);
  auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
  script::Simulation *sim = script::NewSimulation(EmitSequenceRow, rsinfo);
  for (int i = 0; i < count; i++) {
    if (nulls[i]) continue;
    text *t = DatumGetTextPP(elements[i]);
    const char *data = VARDATA_ANY(t);
    const int length = VARSIZE_ANY_EXHDR(t);
    bool known = false;
    const script::StepKind kind = length >= 2 ? StepKindOf(data[0], &known) : script::StepKind::Sql;
    if (!known || data[1] < '0' || data[1] > '3')
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                      errmsg("schema_guard: step %d is not a schema_guard_lint step", i + 1),
                      errhint("Use schema_guard.check() for a script.")));
    const int flags = data[1] - '0';
    if (!script::AddStep(sim, kind, data + 2, static_cast<size_t>(length - 2), (flags & 1) != 0, (flags & 2) != 0,
                         i + 1))
      break;
    CHECK_FOR_INTERRUPTS();
  }
  script::FinishSimulation(sim);
  setup::ResumeAfterScript();
  return (Datum)0;
}

// schema_guard._simulate_table_sizes(relations text[], bytes bigint[]): production
// sizes for the relations of a throwaway server (schema_guard_lint --schema), for this
// session.  Superuser only: on a real server it would let size rules be dodged.
SG_SQL_FUNCTION(schema_guard_simulate_table_sizes) {
  if (!superuser())
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                    errmsg("permission denied to simulate table sizes"),
                    errdetail("Only a superuser may, for the throwaway server of schema_guard_lint --schema.")));
  Datum *names, *sizes;
  bool *name_nulls, *size_nulls;
  int n_names, n_sizes;
  deconstruct_array(PG_GETARG_ARRAYTYPE_P(0), TEXTOID, -1, false, TYPALIGN_INT, &names, &name_nulls, &n_names);
  deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &sizes, &size_nulls,
                    &n_sizes);
  if (n_names != n_sizes)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("relations and bytes differ in length")));
  int applied = 0;
  for (int i = 0; i < n_names; i++) {
    if (name_nulls[i] || size_nulls[i]) continue;
    List *qualified = SG_STRING_TO_QUALIFIED_NAME_LIST(TextDatumGetCString(names[i]));
    const Oid relid = RangeVarGetRelid(makeRangeVarFromNameList(qualified), NoLock, true);
    if (!OidIsValid(relid)) continue;  // in production, not in this schema
    analysis::SimulateHeapBytes(relid, DatumGetInt64(sizes[i]));
    applied++;
  }
  PG_RETURN_INT32(applied);
}

namespace {

const char *DurationClass(int64 bytes, uint8 effects) {
  if ((effects & (analysis::kRewrite | analysis::kScan | analysis::kIndexBuild)) == 0)
    return "instant once the lock is granted (catalog change)";
  if (bytes < 0) return "unknown (the table's size could not be read)";
  if (bytes < 10 * 1024 * 1024) return "under a second (small table)";
  if (bytes < 1024LL * 1024 * 1024) return "seconds (proportional to the table size)";
  if (bytes < 100LL * 1024 * 1024 * 1024) return "minutes (proportional to the table size)";
  return "hours (proportional to the table size)";
}

void PutLine(ReturnSetInfo *rsinfo, const char *text) {
  Datum value = CStringGetTextDatum(text);
  bool isnull = false;
  tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
}

}  // namespace

SG_SQL_FUNCTION(schema_guard_explain) {
  const char *sql = text_to_cstring(PG_GETARG_TEXT_PP(0));
  setup::SuspendForScript();
  ParseProbe parse = {sql, NIL};
  ErrorData *error = nullptr;
  if (!TryInSubtransaction(ParseScript, &parse, &error)) {
    // The position is in the statement passed in, not in the calling query.
    error->internalpos = error->cursorpos;
    error->internalquery = pstrdup(sql);
    error->cursorpos = 0;
    ReThrowError(error);
  }
  if (list_length(parse.stmts) != 1)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("schema_guard.explain() takes exactly one statement, got %d", list_length(parse.stmts)),
                    errhint("Use schema_guard.check() for a whole script.")));
  InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
  auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
  Node *stmt = static_cast<RawStmt *>(linitial(parse.stmts))->stmt;
  const policy::Settings settings = guc::CurrentSettings();

  PutLine(rsinfo, psprintf("statement: %s", CreateCommandName(stmt)));
  if (!analysis::IsJudgedStatement(stmt)) {
    PutLine(rsinfo, "not a statement the guard judges: no table lock that blocks reads or writes is predicted");
    setup::ResumeAfterScript();
    return (Datum)0;
  }
  analysis::StatementAnalysis result;
  analysis::AnalyzeStatementSafely(stmt, &result);
  verdict::AddLockWaitFindings(&result, LockTimeout, settings);
  if (result.lock_targets == NIL)
    PutLine(rsinfo, "no existing relation is locked (new or temporary tables are not visible to others)");
  ListCell *lc;
  foreach (lc, result.lock_targets) {
    auto *t = static_cast<analysis::LockTarget *>(lfirst(lc));
    uint8 effects = 0;
    ListCell *fc;
    foreach (fc, result.findings) {
      auto *f = static_cast<Finding *>(lfirst(fc));
      if (f->relid == t->relid) effects |= f->effects;
    }
    Finding named = {};
    named.relid = t->relid;
    // report::SizeText() hides the size from a role without a privilege on the table
    const int64 bytes = analysis::CallerMayInspect(t->relid) ? analysis::RelationSizeBytes(t->relid) : -1;
    const char *size = report::SizeText(t->relid);
    PutLine(rsinfo, psprintf("%s (%s): %s lock, blocks %s", report::RelationText(named), size,
                             report::LockModeSqlName(t->lock), report::BlockedOperations(t->lock)));
    PutLine(rsinfo, psprintf("  rewrite: %s, scan: %s, index build: %s",
                             (effects & analysis::kRewrite) ? "yes" : "no", (effects & analysis::kScan) ? "yes" : "no",
                             (effects & analysis::kIndexBuild) ? "yes" : "no"));
    if (const citus::TableFacts *facts = citus::Facts(t->relid))
      PutLine(rsinfo, facts->reference
                          ? psprintf("  Citus reference table: the statement runs on its copy on each of %d nodes, "
                                     "each locked in the same mode",
                                     facts->nodes)
                          : psprintf("  Citus distributed table: the statement runs on each of its %d shards on %d "
                                     "nodes, each locked in the same mode",
                                     facts->shards, facts->nodes));
    PutLine(rsinfo, psprintf("  duration under the lock: %s", DurationClass(bytes, effects)));
    const char *lockers = analysis::DescribeConflictingLockers(t->relid, t->lock);
    PutLine(rsinfo, psprintf("  conflicting sessions now: %s", lockers ? lockers : "none"));
  }
  int findings = 0;
  foreach (lc, result.findings) {
    auto *f = static_cast<Finding *>(lfirst(lc));
    const verdict::Outcome outcome = verdict::Decide(*f, settings, LockTimeout, verdict::Judging::Script);
    if (outcome == verdict::Outcome::Quiet) continue;
    findings++;
    const char *verdict_name = outcome == verdict::Outcome::Block ? "block" : outcome == verdict::Outcome::Warn ? "warn" : "allowed";
    PutLine(rsinfo, psprintf("%s: %s", verdict_name, report::PrimaryText(*f)));
  }
  PutLine(rsinfo, findings ? psprintf("verdict: %d finding(s); see schema_guard.check() for hints", findings)
                           : "verdict: no finding, the guard lets it run");
  setup::ResumeAfterScript();
  return (Datum)0;
}
