#include "policy/rules.hpp"

#include <cstring>

#include "cpp_only.hpp"

namespace schema_guard::policy {
namespace {


constexpr RuleInfo kRules[] = {
    {RuleId::AlterColumnTypeRewrite, "alter_column_type_rewrite", "rewrite", Action::Block,
     "changing the type of {what} rewrites {rel}",
     "ALTER COLUMN TYPE that is not binary-coercible (or must recheck a length or precision) rewrites the table and its indexes under ACCESS EXCLUSIVE",
     "Expand and contract: add a new column of the new type, keep it in sync with a trigger, backfill in batches, switch readers, then drop the old column."},
    {RuleId::AlterColumnTypeIndexRebuild, "alter_column_type_index_rebuild", "rewrite", Action::Block,
     "changing the type of {what} rebuilds the indexes on it in {rel}",
     "ALTER COLUMN TYPE that keeps the heap still rebuilds, under ACCESS EXCLUSIVE, each index on the column that PostgreSQL cannot reuse (CheckIndexCompatible: another operator class or collation, expressions, a predicate, a partitioned parent index)",
     "Build the index you need with CREATE INDEX CONCURRENTLY on a new column (expand and contract), or accept the rebuild in a maintenance window."},
    {RuleId::AddColumnRewrite, "add_column_rewrite", "rewrite", Action::Block,
     "adding {what} rewrites {rel}",
     "ADD COLUMN with a volatile default, serial, identity, GENERATED ... STORED or a constrained domain rewrites the table under ACCESS EXCLUSIVE",
     "Add the column nullable without a default (or with a non-volatile default), set the default afterwards with ALTER COLUMN SET DEFAULT, and backfill existing rows in batches."},
    {RuleId::SetExpressionRewrite, "set_expression_rewrite", "rewrite", Action::Block,
     "changing {what} rewrites {rel}",
     "ALTER COLUMN ... SET EXPRESSION (PostgreSQL 17+) on a STORED generated column recomputes it for every row, rewriting the table under ACCESS EXCLUSIVE (a VIRTUAL column, 18+, rewrites nothing)",
     "Add a new generated column with the new expression (or, on 18+, a VIRTUAL one, which rewrites nothing), switch readers to it, then drop the old column."},
    {RuleId::SetPersistenceRewrite, "set_persistence_rewrite", "rewrite", Action::Block,
     "{what} rewrites {rel}",
     "SET LOGGED / SET UNLOGGED rewrites the table under ACCESS EXCLUSIVE",
     "Create a new table with the wanted persistence, copy the rows in batches, and swap names in a short transaction."},
    {RuleId::SetAccessMethodRewrite, "set_access_method_rewrite", "rewrite", Action::Block,
     "{what} rewrites {rel}",
     "SET ACCESS METHOD rewrites the table under ACCESS EXCLUSIVE",
     "Create a new table with the wanted access method, copy the rows in batches, and swap names in a short transaction."},
    {RuleId::SetTablespaceCopy, "set_tablespace_copy", "rewrite", Action::Block,
     "{what} copies {rel} to another tablespace",
     "SET TABLESPACE copies every file of the table under ACCESS EXCLUSIVE",
     "Use pg_repack --tablespace, or create a new table in the target tablespace, copy in batches and swap names."},
    {RuleId::VacuumFull, "vacuum_full", "rewrite", Action::Block,
     "VACUUM FULL rewrites {rel}",
     "VACUUM FULL rewrites the table under ACCESS EXCLUSIVE",
     "Use pg_repack (or pg_squeeze), which rebuilds the table while reads and writes continue; plain VACUUM never blocks them."},
    {RuleId::Cluster, "cluster", "rewrite", Action::Block,
     "CLUSTER rewrites {rel}",
     "CLUSTER rewrites the table under ACCESS EXCLUSIVE",
     "Use pg_repack --order-by (or pg_repack with the index), which reorders the table while reads and writes continue."},
    {RuleId::AddCheckScan, "add_check_scan", "scan", Action::Block,
     "adding {what} scans {rel} to validate it",
     "ADD CHECK without NOT VALID scans the whole table while writes are blocked",
     "Add the constraint with NOT VALID (instant), then run ALTER TABLE ... VALIDATE CONSTRAINT in a separate transaction: it takes only SHARE UPDATE EXCLUSIVE."},
    {RuleId::AddForeignKeyScan, "add_foreign_key_scan", "scan", Action::Block,
     "adding {what} reads {rel} to validate it",
     "ADD FOREIGN KEY without NOT VALID scans the referencing table, joining it to the referenced table on its key, while writes to both are blocked",
     "Add the foreign key with NOT VALID (instant), then run ALTER TABLE ... VALIDATE CONSTRAINT in a separate transaction: reads and writes continue."},
    {RuleId::SetNotNullScan, "set_not_null_scan", "scan", Action::Block,
     "{what} scans {rel} to check for nulls",
     "SET NOT NULL (or a primary key over nullable columns, or ADD COLUMN NOT NULL without a default) scans the table under ACCESS EXCLUSIVE",
     "Add CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT in a separate transaction, then SET NOT NULL (no scan: PostgreSQL uses the validated check) and drop the check."},
    {RuleId::AttachPartitionScan, "attach_partition_scan", "scan", Action::Block,
     "{what} scans {rel} to check the partition bound",
     "ATTACH PARTITION scans the new partition (and the default partition; CREATE TABLE ... PARTITION OF scans the default partition too) unless existing validated constraints imply the bound",
     "Before attaching, add a CHECK constraint matching the partition bound (with NOT NULL on the key) NOT VALID, VALIDATE it in a separate transaction, then ATTACH (no scan) and drop the check. For the default partition, first add a validated CHECK that excludes the new bound."},
    {RuleId::AlterDomainScan, "alter_domain_scan", "scan", Action::Block,
     "{what} scans {rel}, which uses the domain",
     "ALTER DOMAIN ADD CONSTRAINT / SET NOT NULL / VALIDATE scans every table that uses the domain while writes are blocked",
     "Add the domain constraint with NOT VALID, or put the constraint on the table columns (CHECK ... NOT VALID, then VALIDATE)."},
    {RuleId::AlterColumnTypeRecheck, "alter_column_type_recheck", "scan", Action::Block,
     "changing the type of {what} re-verifies its CHECK constraints by scanning {rel}",
     "ALTER COLUMN TYPE without a rewrite still re-adds the column's CHECK constraints and scans the table to verify them under ACCESS EXCLUSIVE",
     "Drop the CHECK constraint, change the type, add the constraint again NOT VALID, then VALIDATE CONSTRAINT in a separate transaction."},
    {RuleId::CreateIndexBlocking, "create_index_blocking", "index_build", Action::Block,
     "{what} blocks writes to {rel} while the index is built",
     "CREATE INDEX without CONCURRENTLY holds SHARE lock (all writes blocked) for the whole build",
     "Use CREATE INDEX CONCURRENTLY outside a transaction block.",
     "CONCURRENTLY is refused on a partitioned table: CREATE INDEX ... ON ONLY the parent (instant, invalid), CREATE INDEX CONCURRENTLY on each partition, then ALTER INDEX parent_index ATTACH PARTITION each partition index; the parent index becomes valid when all are attached."},
    {RuleId::AddConstraintIndexBuild, "add_constraint_index_build", "index_build", Action::Block,
     "adding {what} builds an index on {rel} under ACCESS EXCLUSIVE",
     "ADD UNIQUE / PRIMARY KEY / EXCLUDE builds its index while reads and writes are blocked",
     "CREATE UNIQUE INDEX CONCURRENTLY first, then ALTER TABLE ... ADD CONSTRAINT ... UNIQUE (or PRIMARY KEY) USING INDEX, which is instant."},
    {RuleId::ReindexBlocking, "reindex_blocking", "index_build", Action::Block,
     "{what} blocks writes to {rel} while indexes are rebuilt",
     "REINDEX without CONCURRENTLY blocks writes to the table and reads that use the index",
     "Use REINDEX ... CONCURRENTLY outside a transaction block."},
    {RuleId::RefreshMatviewBlocking, "refresh_matview_blocking", "index_build", Action::Block,
     "REFRESH MATERIALIZED VIEW blocks reads of {rel} while it is recomputed",
     "REFRESH MATERIALIZED VIEW without CONCURRENTLY holds ACCESS EXCLUSIVE for the whole recomputation",
     "Create a unique index on the materialized view and use REFRESH MATERIALIZED VIEW CONCURRENTLY."},
    {RuleId::AttachPartitionIndexBuild, "attach_partition_index_build", "index_build", Action::Block,
     "{what} builds the parent's indexes on {rel}",
     "ATTACH PARTITION builds every index of the parent that the new partition lacks, under ACCESS EXCLUSIVE on the partition",
     "Before attaching, create each of the parent's indexes on the table with CREATE INDEX CONCURRENTLY (same columns, operator classes and collations): ATTACH then attaches them instead of building."},
    {RuleId::RenameTable, "rename_table", "breaking", Action::Block,
     "renaming {rel} breaks running code that uses the old name",
     "RENAME of a table or view breaks every query and deployed application still using the old name",
     "Expand and contract: keep the old name working (for example a view with the old name) until no running code uses it."},
    {RuleId::RenameColumn, "rename_column", "breaking", Action::Block,
     "renaming {what} of {rel} breaks running code that uses the old name",
     "RENAME COLUMN breaks every query and deployed application still using the old name",
     "Expand and contract: add the new column, write both, backfill, move readers, then drop the old column."},
    {RuleId::DropColumn, "drop_column", "breaking", Action::Block,
     "dropping {what} of {rel} breaks running code that still uses it",
     "DROP COLUMN breaks queries that still name the column, and drops its indexes and constraints non-concurrently",
     "Stop using the column in the application first (deploy), drop its indexes with DROP INDEX CONCURRENTLY, then drop the column."},
    {RuleId::DropTable, "drop_table", "breaking", Action::Warn,
     "dropping {rel} loses its data and breaks code that still uses it",
     "DROP TABLE loses data and breaks code that still uses the table; it takes ACCESS EXCLUSIVE on it and on tables it references",
     "Make sure no deployed code uses the table, drop its foreign keys first in short transactions, keep a backup."},
    {RuleId::Truncate, "truncate", "breaking", Action::Warn,
     "truncating {rel} deletes all its rows",
     "TRUNCATE deletes every row under ACCESS EXCLUSIVE (and of every table reached with CASCADE)",
     "Check the target; for a live table delete in batches instead."},
    {RuleId::DropIndexBlocking, "drop_index_blocking", "breaking", Action::Warn,
     "{what} takes ACCESS EXCLUSIVE on {rel}",
     "DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the table",
     "Use DROP INDEX CONCURRENTLY outside a transaction block."},
    {RuleId::DetachPartitionBlocking, "detach_partition_blocking", "breaking", Action::Warn,
     "{what} takes ACCESS EXCLUSIVE on {rel}",
     "DETACH PARTITION without CONCURRENTLY takes ACCESS EXCLUSIVE on the parent and the partition",
     "Use ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY outside a transaction block."},
    {RuleId::RenameSchema, "rename_schema", "breaking", Action::Block,
     "renaming {rel} breaks running code that uses the old name",
     "ALTER SCHEMA ... RENAME breaks every query, search_path and deployed application still using the old name",
     "Expand and contract: create the new schema, move the objects while the old names keep working (views, a search_path with both schemas), switch the code, then drop the old names."},
    {RuleId::SetSchema, "set_schema", "breaking", Action::Block,
     "{what} moves {rel} away from the name running code uses",
     "ALTER TABLE ... SET SCHEMA (and for views, materialized views, sequences, foreign tables) breaks every query still using the old qualified or search_path name, under ACCESS EXCLUSIVE",
     "Expand and contract: keep the old name working (for example a view in the old schema) until no running code uses it."},
    {RuleId::LockTimeoutMissing, "lock_timeout_missing", "lock_wait", Action::Warn,
     "{what} on {rel} may wait for its lock without limit",
     "A statement that takes a lock blocking reads or writes of an existing table runs with lock_timeout = 0: while it waits, every later query on the table queues behind it",
     "SET lock_timeout = '2s' (or SET LOCAL) before the migration and retry on timeout; or set schema_guard.lock_timeout to have the guard apply one."},
    {RuleId::LockConflict, "lock_conflict", "lock_wait", Action::Block,
     "{what} would wait for a lock on {rel} held or awaited by other sessions",
     "Other sessions hold or wait for a lock that conflicts with the statement right now; waiting for it stalls every later query on the table",
     "Wait until those transactions finish (or end them), and set lock_timeout so that a wait is bounded; then retry."},
    {RuleId::UnpredictedRewrite, "unpredicted_rewrite", "backstop", Action::Block,
     "{what} is about to rewrite {rel}",
     "Backstop: the table_rewrite event trigger saw a rewrite that the analysis did not predict",
     "Treat it like any rewrite: expand and contract, or run it in a maintenance window. Please report the statement: the guard's prediction missed it."},
    {RuleId::JudgementFailed, "judgement_failed", "backstop", Action::Block,
     "{what} could not be judged",
     "The guard could not work out what a statement does (its catalog rows kept changing under concurrent DDL, or an internal error); it fails closed instead of letting it run unjudged",
     "Retry the statement once the concurrent schema changes are done; if it keeps failing, please report it."},
    {RuleId::ValidateUnderStrongLock, "validate_under_strong_lock", "scan", Action::Block,
     "VALIDATE CONSTRAINT {what} scans {rel} while this transaction already blocks writes to it",
     "VALIDATE CONSTRAINT in the same transaction as a statement that locked the table strongly (for example the ADD ... NOT VALID) scans while that lock is still held",
     "COMMIT after adding the constraint NOT VALID, then run VALIDATE CONSTRAINT in its own transaction: it takes only SHARE UPDATE EXCLUSIVE."},
    {RuleId::SyntaxError, "syntax_error", "script", Action::Block,
     "{what}",
     "check(): a statement does not parse; it fails at deploy, and psql stops there under ON_ERROR_STOP (inside a transaction block the statements up to its end fail too), so those were not judged",
     "Fix the statement; schema_guard.check() judges the statements psql would still run."},
    {RuleId::RelationMissing, "relation_missing", "script", Action::Block,
     "{what} refers to {rel}, which does not exist",
     "check(): a statement names a relation that neither exists nor is created earlier in the script; it will fail at deploy",
     "Create the relation earlier in the migration, fix the name or schema, or use IF EXISTS where that is what you mean."},
    {RuleId::StatementError, "statement_error", "script", Action::Block,
     "{what}",
     "check(): the server would refuse a statement (an object that already exists, a column that does not, a setting the role may not make); it fails at deploy, psql stops there under ON_ERROR_STOP, and inside a transaction block the statements up to its end fail too, so those were not judged",
     "Fix the statement; schema_guard.check() judges the statements the server would still run."},
    {RuleId::TransactionBlockError, "transaction_block_error", "script", Action::Block,
     "{what} cannot run inside a transaction block",
     "check(): CONCURRENTLY forms and VACUUM inside BEGIN ... COMMIT fail at deploy",
     "Run the statement on its own, outside BEGIN ... COMMIT (most migration tools have a per-migration switch for this)."},
    {RuleId::NotSimulated, "not_simulated", "script", Action::Warn,
     "{what}",
     "check(): something the script runs cannot be simulated (a psql meta-command such as \\gexec or \\!, a shell command in backticks, an include check() cannot read, dynamic SQL in a function body): what it runs was not judged",
     "Judge what it runs separately (for example the statements \\gexec generates), or write them as plain SQL in the migration; schema_guard_lint reads \\i includes from the file system."},
};

static_assert(sizeof(kRules) / sizeof(kRules[0]) == kRuleCount, "every RuleId needs a catalog entry");

constexpr bool CatalogInIdOrder() {
  for (size_t i = 0; i < kRuleCount; i++)
    if (static_cast<size_t>(kRules[i].id) != i) return false;
  return true;
}
static_assert(CatalogInIdOrder(), "catalog entries must be in RuleId order");

}  // namespace

const RuleInfo &Rule(RuleId id) { return kRules[RuleIndex(id)]; }

const RuleInfo *RuleByName(const char *name) {
  for (const RuleInfo &r : kRules)
    if (std::strcmp(r.name, name) == 0) return &r;
  return nullptr;
}

bool IsWorkUnderLockRule(RuleId id) {
  const char *c = Rule(id).category;
  return std::strcmp(c, "rewrite") == 0 || std::strcmp(c, "scan") == 0 ||
         std::strcmp(c, "index_build") == 0 || std::strcmp(c, "backstop") == 0;
}

const char *ActionName(Action action) {
  switch (action) {
    case Action::Off: return "off";
    case Action::Warn: return "warn";
    case Action::Block: return "block";
  }
  return "off";
}

void ExpandTemplate(const char *tmpl, const char *rel, const char *what, char *out, size_t out_size) {
  if (out_size == 0) return;
  size_t n = 0;
  auto put = [&](const char *s) {
    for (; *s && n + 1 < out_size; s++) out[n++] = *s;
  };
  for (const char *p = tmpl; *p && n + 1 < out_size;) {
    if (std::strncmp(p, "{rel}", 5) == 0) {
      put(rel);
      p += 5;
    } else if (std::strncmp(p, "{what}", 6) == 0) {
      put(what);
      p += 6;
    } else {
      out[n++] = *p++;
    }
  }
  out[n] = '\0';
}

}  // namespace schema_guard::policy
