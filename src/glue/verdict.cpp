#include "glue/verdict.hpp"

#include "glue/guc.hpp"

namespace schema_guard::verdict {

using policy::Action;
using policy::RuleId;

void AddLockWaitFindings(analysis::StatementAnalysis *result, int lock_timeout_ms,
                         const policy::Settings &settings) {
  const bool bounded = lock_timeout_ms > 0;
  const bool check_conflicts = policy::ConfiguredAction(settings, RuleId::LockConflict, bounded) != Action::Off;
  bool timeout_reported = false;
  ListCell *lc;
  foreach (lc, result->lock_targets) {
    auto *t = static_cast<analysis::LockTarget *>(lfirst(lc));
    if (t->lock < ShareLock) continue;  // blocks neither reads nor writes
    if (analysis::LockHeldByThisTransaction(t->relid, t->lock)) continue;  // nothing to wait for
    if (!bounded && !timeout_reported) {
      analysis::AddFinding(result, RuleId::LockTimeoutMissing, t->relid, t->lock, 0, result->command);
      timeout_reported = true;
    }
    if (check_conflicts) {
      const char *lockers = analysis::DescribeConflictingLockers(t->relid, t->lock);
      if (lockers != nullptr)
        analysis::AddFinding(result, RuleId::LockConflict, t->relid, t->lock, 0, result->command,
                             psprintf("%s.", lockers));
    }
  }
}

Outcome Decide(const analysis::Finding &f, const policy::Settings &settings, int lock_timeout_ms) {
  const Action action = policy::ConfiguredAction(settings, f.rule, lock_timeout_ms > 0);
  if (action == Action::Off) return Outcome::Quiet;
  const long min = guc::MinTableSizeBytes();
  if (min > 0 && policy::IsLockDurationRule(f.rule) && OidIsValid(f.relid)) {
    const int64 bytes = analysis::RelationSizeBytes(f.relid);  // unknown (-1): judged
    if (bytes >= 0 && bytes < min) return Outcome::Quiet;
  }
  if (policy::IsAllowed(settings, f.rule)) return Outcome::Allowed;
  return action == Action::Block ? Outcome::Block : Outcome::Warn;
}

}  // namespace schema_guard::verdict
