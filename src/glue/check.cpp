// schema_guard.check(sql) and schema_guard.explain(sql): the guard's analysis applied
// to a migration script without executing it.  One engine: the statements go
// through the same AnalyzeStatement() and verdict::Decide() as the hook; what is
// simulated here is only the script's own state (BEGIN/COMMIT, SET lock_timeout,
// tables it creates, locks its earlier statements would hold).
#include "analysis/analysis.hpp"
#include "boundary.hpp"
#include "citus/citus.hpp"
#include "glue/guc.hpp"
#include "glue/report.hpp"
#include "glue/setup.hpp"
#include "glue/verdict.hpp"

using namespace schema_guard;
using analysis::Finding;
using policy::RuleId;

namespace {

// ---------------------------------------------------------------- parsing

struct ParseProbe {
  const char *sql;
  List *stmts;
};

void ParseScript(void *arg) {
  auto *p = static_cast<ParseProbe *>(arg);
  p->stmts = raw_parser(p->sql, RAW_PARSE_DEFAULT);
}

struct ScanProbe {
  const char *sql;
  int stop_at;         // scan tokens that start before this offset
  int semicolons;      // ';' tokens seen
  int last_semicolon;  // offset of the last one, or -1
};

void ScanSemicolons(void *arg) {
  auto *p = static_cast<ScanProbe *>(arg);
  core_yy_extra_type extra;
  core_YYSTYPE yylval;
  YYLTYPE yylloc;
  core_yyscan_t scanner = scanner_init(p->sql, &extra, &ScanKeywords, ScanKeywordTokens);
  for (;;) {
    const int token = core_yylex(&yylval, &yylloc, scanner);
    if (token == 0 || yylloc >= p->stop_at) break;
    if (token == ';') {
      p->semicolons++;
      p->last_semicolon = yylloc;
    }
  }
  scanner_finish(scanner);
}

// Skip white space and comments: where a statement really starts.
int SkipBlank(const char *sql, int pos) {
  for (;;) {
    while (sql[pos] != '\0' && scanner_isspace(sql[pos])) pos++;
    if (sql[pos] == '-' && sql[pos + 1] == '-') {
      while (sql[pos] != '\0' && sql[pos] != '\n') pos++;
    } else if (sql[pos] == '/' && sql[pos + 1] == '*') {
      int depth = 0;
      do {
        if (sql[pos] == '/' && sql[pos + 1] == '*') { depth++; pos += 2; }
        else if (sql[pos] == '*' && sql[pos + 1] == '/') { depth--; pos += 2; }
        else pos++;
      } while (depth > 0 && sql[pos] != '\0');
    } else {
      return pos;
    }
  }
}

// Line numbers, computed incrementally: statements come in order.
struct LineCursor {
  const char *sql;
  int pos = 0;
  int line = 1;
  int LineAt(int target) {
    if (target < pos) { pos = 0; line = 1; }
    for (; pos < target && sql[pos] != '\0'; pos++)
      if (sql[pos] == '\n') line++;
    return line;
  }
};

// ---------------------------------------------------------------- script state

struct ScriptState {
  bool in_transaction = false;
  int session_timeout_ms;      // lock_timeout outside SET LOCAL
  int local_timeout_ms = -1;   // SET LOCAL lock_timeout in the open transaction
  List *held_locks = NIL;      // strong locks of the open transaction's earlier statements
  HTAB *created = nullptr;     // names of relations the script creates
  MemoryContext context;       // where the state lives (outlives each statement)
  int EffectiveTimeout() const { return in_transaction && local_timeout_ms >= 0 ? local_timeout_ms : session_timeout_ms; }
};

// Locals of frames that call PostgreSQL: nothing may need a destructor.
static_assert(std::is_trivially_destructible_v<ScriptState>);
static_assert(std::is_trivially_destructible_v<LineCursor>);
static_assert(std::is_trivially_destructible_v<ParseProbe>);

char *RelName(const RangeVar *rv) {
  return rv->schemaname ? psprintf("%s.%s", rv->schemaname, rv->relname) : pstrdup(rv->relname);
}

constexpr int kNameKey = 2 * NAMEDATALEN + 2;

void RememberCreated(ScriptState *st, const RangeVar *rv) {
  if (st->created == nullptr) {
    HASHCTL ctl;
    ctl.keysize = kNameKey;
    ctl.entrysize = kNameKey;
    ctl.hcxt = st->context;
    st->created = hash_create("schema_guard check created", 256, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
  }
  char key[kNameKey] = {0};
  strlcpy(key, RelName(rv), sizeof key);
  hash_search(st->created, key, HASH_ENTER, nullptr);
  if (rv->schemaname == nullptr) return;
  char bare[kNameKey] = {0};
  strlcpy(bare, rv->relname, sizeof bare);
  hash_search(st->created, bare, HASH_ENTER, nullptr);
}

bool CreatedByScript(const ScriptState &st, const RangeVar *rv) {
  if (rv == nullptr || st.created == nullptr) return false;
  char key[kNameKey] = {0};
  strlcpy(key, RelName(rv), sizeof key);
  bool found = false;
  hash_search(st.created, key, HASH_FIND, &found);
  return found;
}

int ParseTimeout(const char *value, int fallback) {
  int ms;
  return (value != nullptr && parse_int(value, &ms, GUC_UNIT_MS, nullptr)) ? ms : fallback;
}

void TrackSet(VariableSetStmt *set, ScriptState *st) {
  if (set->name == nullptr || strcmp(set->name, "lock_timeout") != 0) return;
  int value;
  if (set->kind == VAR_SET_VALUE && set->args != NIL) {
    auto *con = static_cast<A_Const *>(linitial(set->args));
    const char *text = nullptr;
    if (IsA(&con->val, Integer)) text = psprintf("%d", intVal(&con->val));
    else if (IsA(&con->val, String)) text = strVal(&con->val);
    value = ParseTimeout(text, st->EffectiveTimeout());
  } else if (set->kind == VAR_SET_DEFAULT || set->kind == VAR_RESET) {
    value = ParseTimeout(GetConfigOptionResetString("lock_timeout"), 0);
  } else {
    return;
  }
  if (set->is_local) {
    if (st->in_transaction) st->local_timeout_ms = value;  // outside a block SET LOCAL has no effect
  } else {
    st->session_timeout_ms = value;
  }
}

void TrackTransaction(TransactionStmt *tx, ScriptState *st) {
  switch (tx->kind) {
    case TRANS_STMT_BEGIN:
    case TRANS_STMT_START:
      st->in_transaction = true;
      break;
    case TRANS_STMT_COMMIT:
    case TRANS_STMT_ROLLBACK:
    case TRANS_STMT_PREPARE:
    case TRANS_STMT_COMMIT_PREPARED:
    case TRANS_STMT_ROLLBACK_PREPARED:
      st->in_transaction = false;
      st->local_timeout_ms = -1;
      st->held_locks = NIL;
      break;
    default:
      break;
  }
}

// The relations a judged statement names, so that a missing one is reported.
void NamedRelations(Node *stmt, List **names, bool *missing_ok) {
  *names = NIL;
  *missing_ok = false;
  switch (nodeTag(stmt)) {
    case T_AlterTableStmt: {
      auto *s = reinterpret_cast<AlterTableStmt *>(stmt);
      *names = list_make1(s->relation);
      *missing_ok = s->missing_ok;
      break;
    }
    case T_IndexStmt: *names = list_make1(reinterpret_cast<IndexStmt *>(stmt)->relation); break;
    case T_RefreshMatViewStmt: *names = list_make1(reinterpret_cast<RefreshMatViewStmt *>(stmt)->relation); break;
    case T_ClusterStmt:
      if (reinterpret_cast<ClusterStmt *>(stmt)->relation)
        *names = list_make1(reinterpret_cast<ClusterStmt *>(stmt)->relation);
      break;
    case T_RenameStmt: {
      auto *s = reinterpret_cast<RenameStmt *>(stmt);
      if (s->relation) *names = list_make1(s->relation);
      *missing_ok = s->missing_ok;
      break;
    }
    case T_TruncateStmt: *names = list_copy(reinterpret_cast<TruncateStmt *>(stmt)->relations); break;
    case T_DropStmt: {
      auto *s = reinterpret_cast<DropStmt *>(stmt);
      if (s->removeType != OBJECT_TABLE && s->removeType != OBJECT_INDEX) break;
      ListCell *lc;
      foreach (lc, s->objects) *names = lappend(*names, makeRangeVarFromNameList(static_cast<List *>(lfirst(lc))));
      *missing_ok = s->missing_ok;
      break;
    }
    default:
      break;
  }
}

bool HasConcurrently(List *params) {
  ListCell *lc;
  foreach (lc, params)
    if (strcmp(static_cast<DefElem *>(lfirst(lc))->defname, "concurrently") == 0) return true;
  return false;
}

// Statements the server refuses inside a transaction block.
const char *NeedsOwnTransaction(Node *stmt) {
  switch (nodeTag(stmt)) {
    case T_IndexStmt: return reinterpret_cast<IndexStmt *>(stmt)->concurrent ? "CREATE INDEX CONCURRENTLY" : nullptr;
    case T_DropStmt: return reinterpret_cast<DropStmt *>(stmt)->concurrent ? "DROP INDEX CONCURRENTLY" : nullptr;
    case T_ReindexStmt:
      return HasConcurrently(reinterpret_cast<ReindexStmt *>(stmt)->params) ? "REINDEX CONCURRENTLY" : nullptr;
    case T_VacuumStmt: return reinterpret_cast<VacuumStmt *>(stmt)->is_vacuumcmd ? "VACUUM" : nullptr;
    case T_AlterTableStmt: {
      ListCell *lc;
      foreach (lc, reinterpret_cast<AlterTableStmt *>(stmt)->cmds) {
        auto *cmd = static_cast<AlterTableCmd *>(lfirst(lc));
        if (cmd->subtype == AT_DetachPartition && reinterpret_cast<PartitionCmd *>(cmd->def)->concurrent)
          return "DETACH PARTITION CONCURRENTLY";
      }
      return nullptr;
    }
    case T_CreatedbStmt: return "CREATE DATABASE";
    case T_DropdbStmt: return "DROP DATABASE";
    default: return nullptr;
  }
}

Finding *ScriptFinding(RuleId rule, const char *what, const char *rel_text) {
  Finding *f = analysis::NewFinding(rule, InvalidOid, NoLock, 0, what);
  f->rel_text = rel_text;
  return f;
}

// Analyse one statement of the script; findings in *out (the script's state is updated).
void JudgeScriptStatement(Node *stmt, ScriptState *st, analysis::StatementAnalysis *out) {
  out->findings = NIL;
  out->lock_targets = NIL;
  out->rewrites = NIL;
  switch (nodeTag(stmt)) {
    case T_TransactionStmt: TrackTransaction(reinterpret_cast<TransactionStmt *>(stmt), st); return;
    case T_VariableSetStmt: TrackSet(reinterpret_cast<VariableSetStmt *>(stmt), st); return;
    case T_CreateStmt: RememberCreated(st, reinterpret_cast<CreateStmt *>(stmt)->relation); break;
    case T_CreateTableAsStmt: RememberCreated(st, reinterpret_cast<CreateTableAsStmt *>(stmt)->into->rel); return;
    default: break;
  }
  if (st->in_transaction) {
    const char *what = NeedsOwnTransaction(stmt);
    if (what != nullptr) {
      out->findings = lappend(out->findings, ScriptFinding(RuleId::TransactionBlockError, what, nullptr));
      return;
    }
  }
  if (!analysis::IsJudgedStatement(stmt)) return;

  List *names;
  bool missing_ok;
  NamedRelations(stmt, &names, &missing_ok);
  ListCell *lc;
  foreach (lc, names) {
    auto *rv = static_cast<RangeVar *>(lfirst(lc));
    if (CreatedByScript(*st, rv)) return;  // new in this script: nobody else sees it
    if (!missing_ok && !OidIsValid(analysis::LookupRelation(rv)))
      out->findings = lappend(out->findings,
                              ScriptFinding(RuleId::RelationMissing, CreateCommandName(stmt),
                                            quote_identifier(RelName(rv))));
  }

  analysis::StatementAnalysis result;
  analysis::AnalyzeStatementSafely(stmt, &result, st->held_locks);
  verdict::AddLockWaitFindings(&result, st->EffectiveTimeout(), guc::CurrentSettings());
  out->findings = list_concat(out->findings, result.findings);
  out->lock_targets = result.lock_targets;
  out->command = result.command;
  if (st->in_transaction) {
    MemoryContext statement_context = MemoryContextSwitchTo(st->context);
    foreach (lc, result.lock_targets) {
      auto *t = static_cast<analysis::LockTarget *>(lfirst(lc));
      if (t->lock >= ShareLock) st->held_locks = list_append_unique_oid(st->held_locks, t->relid);
    }
    MemoryContextSwitchTo(statement_context);
  }
}

void EmitRow(ReturnSetInfo *rsinfo, int statement, int line, const Finding &f, verdict::Outcome outcome) {
  Datum values[10];
  bool nulls[10] = {false};
  values[0] = Int32GetDatum(statement);
  values[1] = Int32GetDatum(line);
  values[2] = CStringGetTextDatum(policy::Rule(f.rule).name);
  values[3] = CStringGetTextDatum(outcome == verdict::Outcome::Block ? "block" : "warn");
  values[4] = ObjectIdGetDatum(f.relid);
  nulls[4] = !OidIsValid(f.relid);
  values[5] = f.lock != NoLock ? CStringGetTextDatum(GetLockmodeName(DEFAULT_LOCKMETHOD, f.lock)) : (Datum)0;
  nulls[5] = f.lock == NoLock;
  values[6] = BoolGetDatum((f.effects & analysis::kRewrite) != 0);
  values[7] = BoolGetDatum((f.effects & analysis::kScan) != 0);
  values[8] = CStringGetTextDatum(report::PrimaryText(f));
  values[9] = CStringGetTextDatum(report::HintText(f, nullptr));
  tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

}  // namespace

SG_SQL_FUNCTION(schema_guard_check) {
  const char *sql = text_to_cstring(PG_GETARG_TEXT_PP(0));
  setup::SuspendForScript();  // the deploy runs in another session
  InitMaterializedSRF(fcinfo, 0);
  auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);

  // Parse; on a syntax error, judge the statements before it and report the error.
  ParseProbe parse = {sql, NIL};
  ErrorData *syntax = nullptr;
  int error_statement = 0;  // the failing statement's number
  int error_offset = 0;     // offset of the error in sql
  const char *parsed_sql = sql;
  if (!TryInSubtransaction(ParseScript, &parse, &syntax)) {
    const int errpos = syntax->cursorpos > 0 ? syntax->cursorpos - 1 : static_cast<int>(strlen(sql));
    ScanProbe scan = {sql, errpos, 0, -1};
    if (!TryInSubtransaction(ScanSemicolons, &scan)) scan.last_semicolon = -1;
    parse.stmts = NIL;
    if (scan.last_semicolon >= 0) {
      parse.sql = parsed_sql = pnstrdup(sql, scan.last_semicolon + 1);
      if (!TryInSubtransaction(ParseScript, &parse)) parse.stmts = NIL;
    }
    error_offset = errpos;
    error_statement = scan.semicolons + 1;
  }

  const policy::Settings settings = guc::CurrentSettings();
  ScriptState state;
  state.session_timeout_ms = LockTimeout;
  state.context = CurrentMemoryContext;
  LineCursor lines{parsed_sql};
  MemoryContext per_statement = AllocSetContextCreate(CurrentMemoryContext, "schema_guard check", ALLOCSET_DEFAULT_SIZES);
  MemoryContext script_context = MemoryContextSwitchTo(per_statement);
  int number = 0;
  ListCell *lc;
  foreach (lc, parse.stmts) {
    auto *raw = static_cast<RawStmt *>(lfirst(lc));
    number++;
    const int line = lines.LineAt(SkipBlank(parsed_sql, raw->stmt_location > 0 ? raw->stmt_location : 0));
    analysis::StatementAnalysis result;
    JudgeScriptStatement(raw->stmt, &state, &result);
    const int timeout = state.EffectiveTimeout();
    ListCell *fc;
    foreach (fc, result.findings) {
      auto *f = static_cast<Finding *>(lfirst(fc));
      const verdict::Outcome outcome = verdict::Decide(*f, settings, timeout, verdict::Judging::Script);
      if (outcome == verdict::Outcome::Warn || outcome == verdict::Outcome::Block)
        EmitRow(rsinfo, number, line, *f, outcome);
    }
    MemoryContextReset(per_statement);
  }
  MemoryContextSwitchTo(script_context);
  MemoryContextDelete(per_statement);

  if (syntax != nullptr) {
    LineCursor error_lines{sql};
    const int line = error_lines.LineAt(error_offset);
    Finding *f = ScriptFinding(RuleId::SyntaxError,
                               psprintf("%s at line %d, position %d", syntax->message, line, error_offset + 1),
                               nullptr);
    EmitRow(rsinfo, error_statement, line, *f, verdict::Outcome::Block);
  }
  setup::ResumeAfterScript();
  return (Datum)0;
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
