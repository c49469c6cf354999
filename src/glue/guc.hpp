// schema_guard.* settings.  All that can loosen the guard are PGC_SUSET: who may
// change them is decided by PostgreSQL's privileges (superuser, GRANT SET ON PARAMETER).
#pragma once

#include "pg.hpp"
#include "audit/checks.hpp"
#include "policy/decide.hpp"

namespace schema_guard::guc {

void Define();

// The settings in force; the allow list only when it was set for this
// transaction (SET LOCAL or a function's SET clause).
policy::Settings CurrentSettings();

// Raises an ERROR for a statement that would give schema_guard.allow a value
// outliving the transaction: SET (not LOCAL), ALTER ROLE / DATABASE / SYSTEM SET.
void RejectLastingAllow(Node *parsetree);

// A DETAIL sentence when schema_guard.allow has a value that is ignored because it
// was not set with SET LOCAL in this transaction; nullptr otherwise.
const char *IgnoredAllowNote();
policy::Action Mode();
long MinTableSizeBytes();     // schema_guard.min_table_size
int GuardLockTimeoutMs();     // schema_guard.lock_timeout (0: do not apply one)
bool ExemptSetup();           // schema_guard.exempt_setup

// schema_guard.table_sizes: whether a verdict uses the table's real size (an empty
// table, or one below min_table_size, costs nothing to rewrite, scan or index) or
// judges it as if it were large.
enum class TableSizes { Auto, Real, AssumeLarge };
TableSizes TableSizeSetting();
const audit::CheckSet &AuditSkipped();  // schema_guard.audit_skip
// schema_guard.citus_lock_conflict: on a Citus worker, what the coordinator decided for
// lock conflicts on the shards of the statement it sent (off unless it said block).
policy::Action CitusLockConflict();

}  // namespace schema_guard::guc
