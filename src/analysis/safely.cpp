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
};

void RunAnalysis(void *arg) {
  auto *run = static_cast<AnalysisRun *>(arg);
  if (run->as_caller && !CallerMayRun(run->parsetree)) {
    // PostgreSQL refuses it with its own permission error: no verdict.
    *run->out = {};
    run->out->held_locks = run->held_locks;
    run->out->command = "statement";
    return;
  }
  AnalyzeStatement(run->parsetree, run->out, run->held_locks);
}

}  // namespace

bool RunProbe(void (*fn)(void *), void *arg, ErrorData **error) {
  ErrorData *discarded = nullptr;
  if (TryInSubtransaction(fn, arg, &discarded)) return true;
  if (discarded->sqlerrcode == ERRCODE_INTERNAL_ERROR) ReThrowError(discarded);
  *error = discarded;
  return false;
}

void AnalyzeStatementSafely(Node *parsetree, StatementAnalysis *out, List *held_locks, bool as_caller) {
  AnalysisRun run = {parsetree, out, held_locks, as_caller};
  ErrorData *error = nullptr;
  for (int attempt = 0; attempt < kAttempts; attempt++) {
    // Without a lock nothing else makes this backend see other sessions' DDL:
    // a name could still resolve to a relation dropped meanwhile.
    AcceptInvalidationMessages();
    if (error != nullptr) FreeErrorData(error);
    error = nullptr;
    if (TryInSubtransaction(RunAnalysis, &run, &error)) return;
  }
  // Fail closed: a statement the guard cannot judge is not let through unjudged.
  out->findings = NIL;
  out->lock_targets = NIL;
  out->rewrites = NIL;
  out->held_locks = held_locks;
  out->command = CreateCommandName(parsetree);
  AddFinding(out, policy::RuleId::JudgementFailed, InvalidOid, NoLock, 0, out->command,
             psprintf("The guard could not work out what it does (%s), %d times in a row.",
                      error->message ? error->message : "error", kAttempts));
  static_cast<Finding *>(llast(out->findings))->rel_text = "the statement";
}

}  // namespace schema_guard::analysis
