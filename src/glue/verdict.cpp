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

namespace {

bool UsesRealSizes(Judging judging) {
  switch (guc::TableSizeSetting()) {
    case guc::TableSizes::Real: return true;
    case guc::TableSizes::AssumeLarge: return false;
    case guc::TableSizes::Auto: break;
  }
  return judging == Judging::Statement;
}

bool IsUnpopulatedMatview(Oid relid) {
  HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (tup == nullptr) return false;
  auto *cls = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup));
  const bool unpopulated = cls->relkind == RELKIND_MATVIEW && !cls->relispopulated;
  ReleaseSysCache(tup);
  return unpopulated;
}

}  // namespace

bool WorkIsNegligible(const analysis::Finding &f, Judging judging) {
  if (!policy::IsWorkUnderLockRule(f.rule) || !OidIsValid(f.relid) || !UsesRealSizes(judging)) return false;
  // REFRESH runs the view's query, whose cost has nothing to do with the view's own
  // size; an unpopulated view cannot be read, so nobody waits for it.
  if (f.rule == RuleId::RefreshMatviewBlocking) return IsUnpopulatedMatview(f.relid);
  const int64 bytes = analysis::RelationSizeBytes(f.relid);  // unknown (-1): judged
  return bytes == 0 || (bytes > 0 && bytes < guc::MinTableSizeBytes());
}

Outcome Decide(const analysis::Finding &f, const policy::Settings &settings, int lock_timeout_ms,
               Judging judging) {
  const Action action = policy::ConfiguredAction(settings, f.rule, lock_timeout_ms > 0);
  if (action == Action::Off) return Outcome::Quiet;
  if (WorkIsNegligible(f, judging)) return Outcome::Quiet;
  if (policy::IsAllowed(settings, f.rule)) return Outcome::Allowed;
  return action == Action::Block ? Outcome::Block : Outcome::Warn;
}

}  // namespace schema_guard::verdict
