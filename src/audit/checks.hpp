// The audit check catalog: the single source of check ids, categories,
// severities and descriptions for schema_guard.audit() and audit_checks().
// docs/audit-checks.md (scripts/audit-check-reference.sh) and the tests
// are checked against audit_checks(), which reads this table.  Pure C++, like
// the rule catalog: no PostgreSQL headers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace schema_guard::audit {

enum class CheckId : uint8_t {
  // indexes
  DuplicateIndex,
  RedundantIndex,
  InvalidIndex,
  UnindexedForeignKey,        // fk_index_audit()
  // keys and constraints
  TableWithoutPrimaryKey,
  NotValidConstraint,
  ForeignKeyTypeMismatch,
  DuplicateForeignKey,
  SequenceOverflow,
  // upgrades and maintenance
  RegTypeColumn,
  XidWraparound,
  // security outside row-level security
  PublicCreateSchema,
  DefinerFunctionWritablePath,
  // rls_audit()
  RlsDisabled,
  PoliciesWithoutRls,
  RlsWithoutPolicy,
  RestrictiveOnly,
  RlsNotForced,
  TruncatePrivilege,
  BypassRole,
  PermissivePublic,
  AlwaysTrue,
  MissingWithCheck,
  MultiplePermissive,
  UpdateWithoutSelect,
  CurrentSettingNoMissingOk,
  CurrentSettingEmptyString,
  PerRowFunction,
  VolatileFunction,
  UnindexedPolicyColumn,
  PolicyReadsTableWithoutRls,
  DefinerView,
  MatviewOverRls,
  DefinerFunction,
  DefinerFunctionSearchPath,
  LeakproofFunction,
  Count_
};

constexpr size_t kCheckCount = static_cast<size_t>(CheckId::Count_);

struct CheckInfo {
  CheckId id;
  const char *name;         // stable snake_case id: audit()'s "check" column, schema_guard.audit_skip
  const char *category;     // indexes | keys | upgrade | maintenance | security | rls
  const char *severity;     // the highest severity its findings get: high | medium | low
  const char *source;       // the function that finds it: audit | fk_index_audit | rls_audit
  const char *description;  // what it catches, for audit_checks() and docs/audit-checks.md
};

const CheckInfo &Check(CheckId id);
const CheckInfo *CheckByName(const char *name);  // nullptr when unknown
inline size_t CheckIndex(CheckId id) { return static_cast<size_t>(id); }

// The checks schema_guard.audit_skip switches off.
struct CheckSet {
  bool skipped[kCheckCount];
};

}  // namespace schema_guard::audit
