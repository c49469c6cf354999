#include "glue/hook.hpp"

#include "analysis/analysis.hpp"
#include "boundary.hpp"
#include "glue/activation.hpp"
#include "glue/guc.hpp"
#include "glue/report.hpp"
#include "glue/verdict.hpp"

namespace schema_guard::hook {
namespace {

using analysis::Finding;
using policy::Action;
using policy::RuleId;

ProcessUtility_hook_type prev_process_utility = nullptr;

// Relations the analyses of the statements now running expect to be rewritten (POD:
// it is read by the event trigger while the statements run).  A stack: a nested
// statement (run by an event trigger, or by a function a default calls for every
// row) adds its predictions above those of the statement that runs it and takes
// them away when it ends, so the outer statement's predictions hold throughout.
constexpr int kMaxPredicted = 64;
Oid predicted[kMaxPredicted];
int npredicted = 0;
bool predicted_overflow = false;

void Predict(List *rewrites) {
  ListCell *lc;
  foreach (lc, rewrites) {
    if (npredicted < kMaxPredicted)
      predicted[npredicted++] = lfirst_oid(lc);
    else
      predicted_overflow = true;
  }
}

const char *StatementText(const PlannedStmt *pstmt, const char *query) {
  if (query == nullptr) return "";
  int loc = pstmt->stmt_location > 0 ? pstmt->stmt_location : 0;
  int len = pstmt->stmt_len > 0 ? pstmt->stmt_len : static_cast<int>(strlen(query + loc));
  while (len > 0 && scanner_isspace(query[loc])) {
    loc++;
    len--;
  }
  return pnstrdup(query + loc, len);
}

// Cheap tests first: most statements leave here after a switch on the node tag.
bool ShouldJudge(Node *parsetree, ProcessUtilityContext context) {
  if (guc::Mode() == Action::Off) return false;
  if (context == PROCESS_UTILITY_SUBCOMMAND) return false;  // PostgreSQL's own sub-statements
  if (!analysis::IsJudgedStatement(parsetree)) return false;
  if (creating_extension || IsBinaryUpgrade || !IsTransactionState() ||
      IsAbortedTransactionBlockState() || RecoveryInProgress())
    return false;
  return activation::ExtensionInstalled();
}

// Judge one statement; raises the guard's ERROR when a finding blocks.  Returns the
// lock_timeout (ms) the guard applies while the statement runs, or 0.
int Judge(PlannedStmt *pstmt, const char *query) {
  MemoryContext judge_context =
      AllocSetContextCreate(CurrentMemoryContext, "schema_guard judge", ALLOCSET_SMALL_SIZES);
  MemoryContext caller_context = MemoryContextSwitchTo(judge_context);

  analysis::StatementAnalysis result;
  analysis::AnalyzeStatementSafely(pstmt->utilityStmt, &result);
  Predict(result.rewrites);

  // schema_guard.lock_timeout applies when the session has none and the statement
  // takes a lock that blocks reads or writes.
  int guard_timeout = 0;
  if (LockTimeout == 0 && guc::GuardLockTimeoutMs() > 0) {
    ListCell *lc;
    foreach (lc, result.lock_targets)
      if (static_cast<analysis::LockTarget *>(lfirst(lc))->lock >= ShareLock) guard_timeout = guc::GuardLockTimeoutMs();
  }
  const int effective_timeout = LockTimeout > 0 ? LockTimeout : guard_timeout;
  const policy::Settings settings = guc::CurrentSettings();
  verdict::AddLockWaitFindings(&result, effective_timeout, settings);

  report::Context ctx = {StatementText(pstmt, query), result.command, nullptr, guc::IgnoredAllowNote()};
  const Finding *blocking = nullptr;
  StringInfoData also;
  initStringInfo(&also);
  ListCell *lc;
  foreach (lc, result.findings) {
    auto *f = static_cast<Finding *>(lfirst(lc));
    switch (verdict::Decide(*f, settings, effective_timeout)) {
      case verdict::Outcome::Quiet: break;
      case verdict::Outcome::Allowed: report::LogAllowed(*f, ctx); break;
      case verdict::Outcome::Warn: report::Emit(*f, Action::Warn, ctx); break;
      case verdict::Outcome::Block:
        if (blocking == nullptr) {
          blocking = f;
        } else if (f->rule != blocking->rule && strstr(also.data, policy::Rule(f->rule).name) == nullptr) {
          appendStringInfo(&also, "%s%s", also.len ? ", " : "", policy::Rule(f->rule).name);
        }
        break;
    }
  }
  if (blocking != nullptr) {
    ctx.also = also.len ? also.data : nullptr;
    report::Emit(*blocking, Action::Block, ctx);  // does not return
  }

  MemoryContextSwitchTo(caller_context);
  MemoryContextDelete(judge_context);
  return guard_timeout;
}

void CallNext(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
              ProcessUtilityContext context, ParamListInfo params, QueryEnvironment *queryEnv,
              DestReceiver *dest, QueryCompletion *qc) {
  if (prev_process_utility)
    prev_process_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
  else
    standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
}

extern "C" void GuardProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
                                    ProcessUtilityContext context, ParamListInfo params,
                                    QueryEnvironment *queryEnv, DestReceiver *dest,
                                    QueryCompletion *qc) {
  if (context == PROCESS_UTILITY_TOPLEVEL) {  // nothing runs around it: forget what an error left
    npredicted = 0;
    predicted_overflow = false;
  }
  const int outer_predicted = npredicted;
  const bool outer_overflow = predicted_overflow;
  if (IsA(pstmt->utilityStmt, VariableSetStmt) || IsA(pstmt->utilityStmt, AlterRoleSetStmt) ||
      IsA(pstmt->utilityStmt, AlterDatabaseSetStmt) || IsA(pstmt->utilityStmt, AlterSystemStmt))
    guc::RejectLastingAllow(pstmt->utilityStmt);
  int apply_timeout_ms = 0;
  if (ShouldJudge(pstmt->utilityStmt, context))
    RunGuarded("the ProcessUtility hook", [&] { apply_timeout_ms = Judge(pstmt, queryString); });

  if (apply_timeout_ms <= 0 && npredicted == outer_predicted && predicted_overflow == outer_overflow) {
    CallNext(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
    return;
  }
  // schema_guard.lock_timeout: in force only while this statement runs; its
  // predictions too.
  const int saved_timeout = LockTimeout;
  if (apply_timeout_ms > 0) LockTimeout = apply_timeout_ms;
  PG_TRY();
  {
    CallNext(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
  }
  PG_FINALLY();
  {
    if (apply_timeout_ms > 0) LockTimeout = saved_timeout;
    npredicted = outer_predicted;
    predicted_overflow = outer_overflow;
  }
  PG_END_TRY();
}

}  // namespace

void Install() {
  prev_process_utility = ProcessUtility_hook;
  ProcessUtility_hook = GuardProcessUtility;
}

bool RewritePredicted(Oid relid) {
  if (predicted_overflow) return true;
  for (int i = 0; i < npredicted; i++)
    if (predicted[i] == relid) return true;
  return false;
}

}  // namespace schema_guard::hook
