// The analysis as the guard runs it: the catalog is read without locks while
// other sessions run DDL, so any lookup can meet a row that vanished since the
// previous one.  Rather than guard every lookup against every race, the whole
// analysis is one unit that is started over on a fresh catalog.
#include "analysis/analysis.hpp"
#include "boundary.hpp"

namespace schema_guard::analysis {
namespace {

constexpr int kAttempts = 3;

struct AnalysisRun {
  Node *parsetree;
  StatementAnalysis *out;
  List *held_locks;
  bool as_caller;
  List *script_columns;
};

void NothingToJudge(AnalysisRun *run) {
  *run->out = {};
  run->out->held_locks = run->held_locks;
  run->out->script_columns = run->script_columns;
  run->out->command = "statement";
  run->out->statement = -1;
}

void RunAnalysis(void *arg) {
  auto *run = static_cast<AnalysisRun *>(arg);
  // PostgreSQL refuses it with its own permission error: no verdict.
  if (run->as_caller && !CallerMayRun(run->parsetree)) {
    NothingToJudge(run);
    return;
  }
  AnalyzeStatement(run->parsetree, run->out, run->held_locks, run->script_columns);
  if (run->as_caller && !CallerMayRunAnalyzed(run->parsetree, *run->out)) NothingToJudge(run);
}

// Errors a lookup raises when what it reads vanished or changed since the previous
// read: worth judging again on a fresh catalog.
bool MayHaveRaced(const ErrorData *error) {
  switch (error->sqlerrcode) {
    case ERRCODE_INTERNAL_ERROR:      // cache lookup failed, deleted while still in use
    case ERRCODE_UNDEFINED_TABLE:
    case ERRCODE_UNDEFINED_OBJECT:
    case ERRCODE_UNDEFINED_FUNCTION:
    case ERRCODE_UNDEFINED_COLUMN:
    case ERRCODE_INVALID_SCHEMA_NAME:
    case ERRCODE_UNDEFINED_FILE:
      return true;
    default:
      return false;
  }
}

// PostgreSQL's own complaints about a statement (it would raise them when it runs
// it): syntax or access rule, data, feature, integrity, dependency, object state.
bool IsStatementError(const ErrorData *error) {
  switch (ERRCODE_TO_CATEGORY(error->sqlerrcode)) {
    case ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION:
    case ERRCODE_DATA_EXCEPTION:
    case ERRCODE_FEATURE_NOT_SUPPORTED:
    case ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION:
    case ERRCODE_DEPENDENT_PRIVILEGE_DESCRIPTORS_STILL_EXIST:
    case ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool RunProbe(void (*fn)(void *), void *arg, ErrorData **error) {
  ErrorData *discarded = nullptr;
  if (TryInSubtransaction(fn, arg, &discarded)) return true;
  if (discarded->sqlerrcode == ERRCODE_INTERNAL_ERROR) ReThrowError(discarded);
  *error = discarded;
  return false;
}

void AnalyzeStatementSafely(Node *parsetree, StatementAnalysis *out, List *held_locks, bool as_caller,
                            List *script_columns) {
  AnalysisRun run = {parsetree, out, held_locks, as_caller, script_columns};
  ErrorData *error = nullptr;
  for (int attempt = 0; attempt < kAttempts; attempt++) {
    // Without a lock nothing else makes this backend see other sessions' DDL:
    // a name could still resolve to a relation dropped meanwhile.
    AcceptInvalidationMessages();
    if (error != nullptr) FreeErrorData(error);
    error = nullptr;
    if (TryInSubtransaction(RunAnalysis, &run, &error)) return;
    if (!MayHaveRaced(error)) break;
  }
  // About to run: PostgreSQL's own complaint about the statement is the error the
  // caller gets (it would raise it anyway).
  if (as_caller && IsStatementError(error)) ReThrowError(error);
  // Fail closed: a statement the guard cannot judge is not let through unjudged.
  out->findings = NIL;
  out->lock_targets = NIL;
  out->rewrites = NIL;
  out->held_locks = held_locks;
  out->script_columns = script_columns;
  out->command = CreateCommandName(parsetree);
  AddFinding(out, policy::RuleId::JudgementFailed, InvalidOid, NoLock, 0, out->command,
             psprintf("The guard could not work out what it does (%s).", error->message ? error->message : "error"));
  static_cast<Finding *>(llast(out->findings))->rel_text = "the statement";
}

}  // namespace schema_guard::analysis
