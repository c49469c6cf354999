#include "audit/checks.hpp"

#include <cstring>

#include "cpp_only.hpp"

namespace schema_guard::audit {
namespace {

constexpr CheckInfo kChecks[] = {
    // ---- indexes
    {CheckId::DuplicateIndex, "duplicate_index", "indexes", "medium", "audit",
     "Two or more valid indexes of one table with the same definition, compared on the catalog (key and INCLUDE "
     "columns, operator classes, collations, ASC/DESC and NULLS order, expression and predicate trees, access "
     "method, uniqueness), not on their text; partition indexes are judged on their partitioned parent. The one "
     "kept is the primary key, a constraint's, the one a foreign key references, the replica identity or the "
     "oldest; fix: DROP INDEX CONCURRENTLY of the other."},
    {CheckId::RedundantIndex, "redundant_index", "indexes", "low", "audit",
     "A valid btree index whose key columns (with their operator classes, collations and order) are the leading "
     "key columns of another valid btree index with the same predicate, and whose INCLUDE columns the other has "
     "too. A unique, primary-key, exclusion, constraint or replica-identity index is never the one to drop; when "
     "the index serves a foreign key's RI check, the detail says so (the other serves it too)."},
    {CheckId::InvalidIndex, "invalid_index", "indexes", "medium", "audit",
     "An index left invalid by a failed CREATE INDEX CONCURRENTLY, by REINDEX CONCURRENTLY (its _ccnew / _ccold "
     "leftovers) or by CREATE INDEX ON ONLY on a partitioned table some partitions of which have no attached "
     "index. Writes maintain it, queries never use it. Not reported while a CREATE INDEX or REINDEX visible to "
     "the caller is building it, or while another session holds a lock on it."},
    {CheckId::UnindexedForeignKey, "unindexed_foreign_key", "indexes", "high", "fk_index_audit",
     "A foreign key whose referencing side has no index the RI check can use (the rows of fk_index_audit(), one "
     "per logical foreign key): every DELETE or key UPDATE on the referenced table scans the referencing table."},
    // ---- keys and constraints
    {CheckId::TableWithoutPrimaryKey, "table_without_primary_key", "keys", "high", "audit",
     "A table without a primary key (a partitioned table once, not each partition). high when a publication "
     "replicates its UPDATE and DELETE and it has no usable replica identity (they fail); low otherwise, the "
     "detail naming its replica identity. Fix when a unique index on NOT NULL columns exists: ADD PRIMARY KEY "
     "USING INDEX."},
    {CheckId::NotValidConstraint, "not_valid_constraint", "keys", "low", "audit",
     "A CHECK or FOREIGN KEY constraint (of a table or a domain) added NOT VALID and never validated: rows "
     "written before it are unchecked and the planner cannot rely on it. Inherited copies and partition clones "
     "are reported once, where they were defined. Fix: VALIDATE CONSTRAINT (SHARE UPDATE EXCLUSIVE: reads and "
     "writes go on)."},
    {CheckId::ForeignKeyTypeMismatch, "foreign_key_type_mismatch", "keys", "high", "audit",
     "A foreign key column whose type differs from the referenced column's (domains compared by their base "
     "type). high when the RI check must cast the referencing column (int referencing numeric): no index on the "
     "column can serve it; medium when the referencing integer type is narrower than the key (it overflows "
     "first); low otherwise."},
    {CheckId::DuplicateForeignKey, "duplicate_foreign_key", "keys", "medium", "audit",
     "Two foreign keys of one table with the same column pairs and referenced table (each checked on every "
     "write); the clones PostgreSQL makes for partitions are not duplicates. Fix: DROP CONSTRAINT of the newer "
     "one, NULL when their actions differ (the team decides which behaviour is right)."},
    {CheckId::SequenceOverflow, "sequence_overflow", "keys", "high", "audit",
     "A sequence that has used half or more of its range, the range being the tighter of its own bounds, the "
     "type of every column it feeds (serial, identity or a nextval() default) and of every foreign key column "
     "that references those columns; read with pg_sequence_last_value() (no table scan) for sequences the caller "
     "may read. high from 90%, medium from 75%. Fix: ALTER SEQUENCE ... AS bigint when only the sequence is "
     "narrow; NULL when a column must be widened (a rewrite: the team plans it)."},
    // ---- upgrades and maintenance
    {CheckId::RegTypeColumn, "reg_type_column", "upgrade", "medium", "audit",
     "A column of a table, materialized view or index whose type is one of the reg* types pg_upgrade refuses "
     "(regcollation, regconfig, regdictionary, regnamespace, regoper, regoperator, regproc, regprocedure; "
     "regclass, regrole and regtype are allowed), or an array, domain, composite or range type over one, found "
     "the way pg_upgrade's own check recurses. pg_upgrade stops on it."},
    {CheckId::XidWraparound, "xid_wraparound", "maintenance", "high", "audit",
     "A table (with its TOAST table) or the database whose oldest unfrozen transaction ID or multixact ID is "
     "older than autovacuum_freeze_max_age / autovacuum_multixact_freeze_max_age (the table's own setting when "
     "lower): autovacuum has not kept up. high from 1.2 billion (the server stops assigning IDs near 2^31). "
     "Fix: VACUUM (FREEZE) of the table."},
    // ---- security outside row-level security
    {CheckId::PublicCreateSchema, "public_create_schema", "security", "high", "audit",
     "A schema where PUBLIC has CREATE: any role can put functions, operators and tables there that shadow the "
     "ones other roles' code finds on its search_path. Fix: REVOKE CREATE ON SCHEMA ... FROM PUBLIC."},
    {CheckId::DefinerFunctionWritablePath, "definer_function_writable_path", "security", "high", "audit",
     "A SECURITY DEFINER function whose pinned search_path names a schema that a role other than the function's "
     "owner (and not acting as it) can create objects in, or a schema that does not exist: that role can plant "
     "an object the function then runs with its owner's rights. (No pinned search_path at all is "
     "definer_function_search_path.) Fix: REVOKE CREATE from PUBLIC; NULL for roles granted CREATE on purpose."},
    // ---- rls_audit()
    {CheckId::RlsDisabled, "rls_disabled", "rls", "high", "rls_audit",
     "RLS is off on a table others can read or write while its schema uses RLS or it has a tenant column."},
    {CheckId::PoliciesWithoutRls, "policies_without_rls", "rls", "high", "rls_audit",
     "Policies exist but RLS is off: they are not applied."},
    {CheckId::RlsWithoutPolicy, "rls_without_policy", "rls", "medium", "rls_audit",
     "RLS is on with no policy: a silent deny-all for every role subject to it."},
    {CheckId::RestrictiveOnly, "restrictive_only", "rls", "high", "rls_audit",
     "For a command, a role has restrictive policies and no permissive one: nothing passes."},
    {CheckId::RlsNotForced, "rls_not_forced", "rls", "medium", "rls_audit",
     "RLS is on but not forced, and sessions as the owner (or a login role inheriting its rights) bypass it."},
    {CheckId::TruncatePrivilege, "truncate_privilege", "rls", "medium", "rls_audit",
     "Roles other than the owner may TRUNCATE an RLS table; RLS does not apply to TRUNCATE."},
    {CheckId::BypassRole, "bypass_role", "rls", "high", "rls_audit",
     "A login role that is a superuser or has BYPASSRLS owns or is granted RLS tables: RLS never applies to it."},
    {CheckId::PermissivePublic, "permissive_public", "rls", "low", "rls_audit",
     "A permissive policy TO PUBLIC: it applies to every role with privileges, including later ones."},
    {CheckId::AlwaysTrue, "always_true", "rls", "high", "rls_audit",
     "USING or WITH CHECK is always true, judged on the expression tree."},
    {CheckId::MissingWithCheck, "missing_with_check", "rls", "high", "rls_audit",
     "An INSERT, UPDATE or ALL policy without WITH CHECK."},
    {CheckId::MultiplePermissive, "multiple_permissive", "rls", "low", "rls_audit",
     "Several permissive policies apply to one role for one command (role membership followed)."},
    {CheckId::UpdateWithoutSelect, "update_without_select", "rls", "medium", "rls_audit",
     "An UPDATE or DELETE policy for roles no permissive SELECT policy covers: such statements affect 0 rows."},
    {CheckId::CurrentSettingNoMissingOk, "current_setting_no_missing_ok", "rls", "medium", "rls_audit",
     "current_setting(name) without missing_ok in a policy: an error when the setting is unset."},
    {CheckId::CurrentSettingEmptyString, "current_setting_empty_string", "rls", "medium", "rls_audit",
     "current_setting(name, true) not wrapped in NULLIF(..., ''): '' after a SET LOCAL on a pooled connection."},
    {CheckId::PerRowFunction, "per_row_function", "rls", "low", "rls_audit",
     "A call in a policy that does not read the row, evaluated for every row instead of once."},
    {CheckId::VolatileFunction, "volatile_function", "rls", "medium", "rls_audit",
     "A volatile function in a policy."},
    {CheckId::UnindexedPolicyColumn, "unindexed_policy_column", "rls", "medium", "rls_audit",
     "No valid, non-partial index starts with a column the policy compares."},
    {CheckId::PolicyReadsTableWithoutRls, "policy_reads_table_without_rls", "rls", "high", "rls_audit",
     "A policy reads another table that has no RLS: whoever can write that table decides what passes."},
    {CheckId::DefinerView, "definer_view", "rls", "high", "rls_audit",
     "A view without security_invoker reads an RLS table with its owner's rights (high when the owner bypasses "
     "RLS on it: superuser, BYPASSRLS, or the table's owner without FORCE)."},
    {CheckId::MatviewOverRls, "matview_over_rls", "rls", "high", "rls_audit",
     "A materialized view over an RLS table: it has no policies."},
    {CheckId::DefinerFunction, "definer_function", "rls", "high", "rls_audit",
     "A SECURITY DEFINER function others can execute, whose owner bypasses RLS."},
    {CheckId::DefinerFunctionSearchPath, "definer_function_search_path", "rls", "high", "rls_audit",
     "A SECURITY DEFINER function without a pinned search_path, or with pg_temp not last."},
    {CheckId::LeakproofFunction, "leakproof_function", "rls", "medium", "rls_audit",
     "A LEAKPROOF function outside pg_catalog: it may see rows before the policies filter them."},
};

static_assert(sizeof(kChecks) / sizeof(kChecks[0]) == kCheckCount, "one catalog entry per check id");

constexpr bool InIdOrder() {
  for (size_t i = 0; i < kCheckCount; i++)
    if (static_cast<size_t>(kChecks[i].id) != i) return false;
  return true;
}
static_assert(InIdOrder(), "the catalog is in CheckId order");

}  // namespace

const CheckInfo &Check(CheckId id) { return kChecks[CheckIndex(id)]; }

const CheckInfo *CheckByName(const char *name) {
  for (const CheckInfo &check : kChecks)
    if (strcmp(check.name, name) == 0) return &check;
  return nullptr;
}

}  // namespace schema_guard::audit
