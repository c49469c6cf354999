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

// Who asks: the hook judges a statement about to run (real sizes by default);
// check() and explain() judge a script for a later deploy, usually against an empty
// CI database (every table judged as if large by default).  schema_guard.table_sizes.
enum class Judging { Statement, Script };

// Is the work a finding describes negligible because of the table's real size: an
// empty table (0 blocks; for REFRESH MATERIALIZED VIEW an unpopulated one, whose
// readers fail anyway), or one below schema_guard.min_table_size?  Only for the
// rewrite, scan and index-build rules; never for lock waits.
bool WorkIsNegligible(const analysis::Finding &f, Judging judging);

// What happens to one finding: quiet (rule off, or negligible work), allowed by
// schema_guard.allow, or warn / block.
Outcome Decide(const analysis::Finding &f, const policy::Settings &settings, int lock_timeout_ms,
               Judging judging);

}  // namespace schema_guard::verdict
