#include "glue/hook.hpp"

#include "analysis/analysis.hpp"
#include "boundary.hpp"
#include "citus/citus.hpp"
#include "glue/activation.hpp"
#include "glue/guc.hpp"
#include "glue/report.hpp"
#include "glue/setup.hpp"
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

// Depth of running statements on Citus tables that the guard judged here (the
// coordinator): what Citus executes in this backend while they run (its LOCK commands,
// the shard DDL of placements on this node) is part of the judged statement.
int citus_statement_depth = 0;

// Cheap tests first: most statements leave here after a switch on the node tag.
bool ShouldJudge(Node *parsetree, ProcessUtilityContext context) {
  if (guc::Mode() == Action::Off) return false;
  if (context == PROCESS_UTILITY_SUBCOMMAND) return false;  // PostgreSQL's own sub-statements
  if (!analysis::IsJudgedStatement(parsetree) || analysis::NothingToJudge(parsetree)) return false;
  // Citus's own connections run what the initiating node already judged (DDL on
  // shells and shards, shard moves, cleanup); so do its nested commands here.
  if (citus::IsInternalBackend() || citus::InTableConversion()) return false;
  if (citus_statement_depth > 0 && context != PROCESS_UTILITY_TOPLEVEL) return false;
  if (creating_extension || IsBinaryUpgrade || !IsTransactionState() ||
      IsAbortedTransactionBlockState() || RecoveryInProgress())
    return false;
  return activation::ExtensionInstalled();
}

// What the judged statement needs while it runs.
struct RunPlan {
  int guard_timeout_ms;       // lock_timeout the guard applies, or 0
  int citus_timeout_ms;       // lock_timeout to forward to Citus's remote transactions, or 0
  bool citus;                 // the statement acts on a Citus table
  bool citus_block_conflicts; // the verdict for lock conflicts (on shards too) is block
};

bool TouchesCitusTable(const analysis::StatementAnalysis &result) {
  ListCell *lc;
  foreach (lc, result.lock_targets)
    if (citus::IsCitusTable(static_cast<analysis::LockTarget *>(lfirst(lc))->relid)) return true;
  return false;
}

// Judge one statement; raises the guard's ERROR when a finding blocks.
RunPlan Judge(PlannedStmt *pstmt, const char *query) {
  MemoryContext judge_context =
      AllocSetContextCreate(CurrentMemoryContext, "schema_guard judge", ALLOCSET_SMALL_SIZES);
  MemoryContext caller_context = MemoryContextSwitchTo(judge_context);
  // (AnalyzeStatementSafely takes in pending invalidations first: the sizes the
  // verdicts read are current too, so a table filled and committed by another session
  // a moment ago is not judged on its old, empty file.)
  analysis::StatementAnalysis result;
  analysis::AnalyzeStatementSafely(pstmt->utilityStmt, &result, NIL, /*as_caller=*/true);
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
    switch (verdict::Decide(*f, settings, effective_timeout, verdict::Judging::Statement)) {
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

  RunPlan plan = {guard_timeout, 0, TouchesCitusTable(result), false};
  if (plan.citus) {
    plan.citus_timeout_ms = effective_timeout;
    plan.citus_block_conflicts =
        policy::ConfiguredAction(settings, policy::RuleId::LockConflict, effective_timeout > 0) == Action::Block &&
        !policy::IsAllowed(settings, policy::RuleId::LockConflict);
  }
  MemoryContextSwitchTo(caller_context);
  MemoryContextDelete(judge_context);
  return plan;
}

// On a Citus worker, in one of Citus's connections: the coordinator judged the
// statement, but could not see the sessions that hold its shards here.  When its
// verdict for lock conflicts is block, a conflicting session stops the statement
// (the coordinator reports the error with the node's address).
void CheckShardLockConflicts(PlannedStmt *pstmt, const char *query) {
  MemoryContext check_context =
      AllocSetContextCreate(CurrentMemoryContext, "schema_guard shard locks", ALLOCSET_SMALL_SIZES);
  MemoryContext caller_context = MemoryContextSwitchTo(check_context);
  analysis::StatementAnalysis result;
  analysis::AnalyzeStatementSafely(pstmt->utilityStmt, &result);
  ListCell *lc;
  foreach (lc, result.lock_targets) {
    auto *t = static_cast<analysis::LockTarget *>(lfirst(lc));
    if (t->lock < ShareLock || analysis::LockHeldByThisTransaction(t->relid, t->lock)) continue;
    const char *lockers = analysis::DescribeConflictingLockers(t->relid, t->lock);
    if (lockers == nullptr) continue;
    Finding *f = analysis::NewFinding(RuleId::LockConflict, t->relid, t->lock, 0, result.command,
                                      psprintf("%s. This node's part of a distributed statement: the coordinator "
                                               "cannot see these sessions.",
                                               lockers));
    report::Context ctx = {StatementText(pstmt, query), result.command, nullptr, nullptr};
    report::Emit(*f, Action::Block, ctx);  // does not return
  }
  MemoryContextSwitchTo(caller_context);
  MemoryContextDelete(check_context);
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
    setup::BeginStatement();
  }
  const int outer_predicted = npredicted;
  const bool outer_overflow = predicted_overflow;
  if (IsA(pstmt->utilityStmt, VariableSetStmt) || IsA(pstmt->utilityStmt, AlterRoleSetStmt) ||
      IsA(pstmt->utilityStmt, AlterDatabaseSetStmt) || IsA(pstmt->utilityStmt, AlterSystemStmt))
    guc::RejectLastingAllow(pstmt->utilityStmt);
  RunPlan plan = {0, 0, false, false};
  if (ShouldJudge(pstmt->utilityStmt, context))
    RunGuarded("the ProcessUtility hook", [&] { plan = Judge(pstmt, queryString); });
  else if (guc::CitusLockConflict() == Action::Block && context != PROCESS_UTILITY_SUBCOMMAND &&
           analysis::IsJudgedStatement(pstmt->utilityStmt) && citus::IsInternalBackend() && IsTransactionState())
    RunGuarded("the ProcessUtility hook", [&] { CheckShardLockConflicts(pstmt, queryString); });

  if (plan.guard_timeout_ms <= 0 && !plan.citus && npredicted == outer_predicted && predicted_overflow == outer_overflow) {
    CallNext(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
    return;
  }
  // On Citus, the statement's lock_timeout (the session's, or the guard's) reaches the
  // shards: Citus starts its remote transactions with it.
  citus::Forwarded forwarded = {false, false};
  if (plan.citus && (plan.citus_timeout_ms > 0 || plan.citus_block_conflicts))
    RunGuarded("the ProcessUtility hook",
               [&] { forwarded = citus::Forward(plan.citus_timeout_ms, plan.citus_block_conflicts); });
  // schema_guard.lock_timeout: in force only while this statement runs; its
  // predictions too.
  const int saved_timeout = LockTimeout;
  if (plan.guard_timeout_ms > 0) LockTimeout = plan.guard_timeout_ms;
  if (plan.citus) citus_statement_depth++;
  PG_TRY();
  {
    CallNext(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
  }
  PG_FINALLY();
  {
    if (plan.guard_timeout_ms > 0) LockTimeout = saved_timeout;
    npredicted = outer_predicted;
    predicted_overflow = outer_overflow;
    if (plan.citus) citus_statement_depth--;
  }
  PG_END_TRY();
  // The guard's own timeout and the conflict check end with the statement on the nodes too.
  if (forwarded.lock_conflict || (forwarded.lock_timeout && plan.guard_timeout_ms > 0))
    RunGuarded("the ProcessUtility hook", [&] { citus::ResetForwarded(forwarded, plan.guard_timeout_ms > 0); });
}

}  // namespace

void Install() {
  prev_process_utility = ProcessUtility_hook;
  ProcessUtility_hook = GuardProcessUtility;
  // Relations are tracked whether or not the extension exists in the database yet: a
  // restore creates its tables before (or after) its own CREATE EXTENSION.
  setup::Install();
  analysis::SetSetupPassTest(setup::IsSetupRelation);
}

bool InCitusStatement() { return citus_statement_depth > 0; }

bool RewritePredicted(Oid relid) {
  if (predicted_overflow) return true;
  for (int i = 0; i < npredicted; i++)
    if (predicted[i] == relid) return true;
  return false;
}

}  // namespace schema_guard::hook
