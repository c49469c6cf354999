// From an analysis to decisions, shared by the hook (which acts on them) and
// schema_guard.check() (which lists them): lock-wait findings for the effective
// lock_timeout, and the action each finding gets under the current settings.
#pragma once

#include "analysis/analysis.hpp"
#include "policy/decide.hpp"

namespace schema_guard::verdict {

// Add lock_timeout_missing / lock_conflict findings for the relations whose lock
// blocks reads or writes.  lock_timeout_ms is the timeout the statement will run with.
void AddLockWaitFindings(analysis::StatementAnalysis *result, int lock_timeout_ms,
                         const policy::Settings &settings);

enum class Outcome { Quiet, Allowed, Warn, Block };

// What happens to one finding: quiet (rule off, or table below min_table_size),
// allowed by schema_guard.allow, or warn / block.
Outcome Decide(const analysis::Finding &f, const policy::Settings &settings, int lock_timeout_ms);

}  // namespace schema_guard::verdict
