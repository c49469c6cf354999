// schema_guard.* settings.  All that can loosen the guard are PGC_SUSET: who may
// change them is decided by PostgreSQL's privileges (superuser, GRANT SET ON PARAMETER).
#pragma once

#include "policy/decide.hpp"

namespace schema_guard::guc {

void Define();

policy::Settings CurrentSettings();
policy::Action Mode();
long MinTableSizeBytes();     // schema_guard.min_table_size
int GuardLockTimeoutMs();     // schema_guard.lock_timeout (0: do not apply one)

}  // namespace schema_guard::guc
