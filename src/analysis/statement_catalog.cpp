#include "analysis/statement_catalog.hpp"

#include "analysis/analysis.hpp"

namespace schema_guard::analysis {
namespace {

using policy::RuleId;
using S = Statement;

#define SG_RULES(...) {__VA_ARGS__, RuleId::Count_}
#define SG_NO_RULES {RuleId::Count_}

constexpr LOCKMODE kAEL = AccessExclusiveLock;

// Lock levels: tablecmds.c (RemoveRelations, RenameRelation, renameatt, RenameConstraint,
// ExecuteTruncate, AlterTableMoveAll, DefineRelation), index.c / indexcmds.c
// (DefineIndex, index_drop, ReindexIndex/ReindexTable), cluster.c, vacuum.c, matview.c,
// view.c (DefineVirtualRelation), trigger.c (CreateTrigger, renametrig,
// RemoveTriggerById), policy.c, rewriteDefine.c (DefineQueryRewrite, RenameRewriteRule),
// typecmds.c (AlterDomainAddConstraint/ValidateConstraint/NotNull), sequence.c
// (AlterSequence), dependency.c (AcquireDeletionLock), pg_shdepend.c (shdepDropOwned,
// shdepReassignOwned).
constexpr StatementInfo kStatements[] = {
    {S::AlterTable, "ALTER TABLE", NoLock, "the table (per subcommand, see below); partitions and inheritance children too",
     "per subcommand, see below", SG_NO_RULES},
    {S::AlterTableAllInTablespace, "ALTER TABLE / MATERIALIZED VIEW ALL IN TABLESPACE ... SET TABLESPACE", kAEL,
     "every table (materialized view) of the database in the tablespace, all locked before the first is moved",
     "copies every file of each table to the new tablespace", SG_RULES(RuleId::SetTablespaceCopy)},
    {S::AlterIndex, "ALTER INDEX", NoLock,
     "the index: SET TABLESPACE and most SET (...) take ACCESS EXCLUSIVE, which blocks every query planned on the table; ATTACH PARTITION takes ACCESS EXCLUSIVE on the partition's index",
     "SET TABLESPACE copies the index; other subcommands change the catalog", SG_RULES(RuleId::SetTablespaceCopy)},
    {S::AlterIndexAllInTablespace, "ALTER INDEX ALL IN TABLESPACE ... SET TABLESPACE", kAEL,
     "every index of the database in the tablespace", "copies every index file", SG_RULES(RuleId::SetTablespaceCopy)},
    {S::AlterView, "ALTER VIEW", kAEL, "the view (per subcommand)", "catalog only", SG_NO_RULES},
    {S::AlterMaterializedView, "ALTER MATERIALIZED VIEW", NoLock, "the materialized view (per subcommand, as ALTER TABLE)",
     "SET TABLESPACE copies it, SET ACCESS METHOD rewrites it; other subcommands change the catalog",
     SG_RULES(RuleId::SetTablespaceCopy, RuleId::SetAccessMethodRewrite)},
    {S::AlterForeignTable, "ALTER FOREIGN TABLE", NoLock, "the foreign table (per subcommand, as ALTER TABLE)",
     "catalog only (the data is remote)", SG_NO_RULES},
    {S::AlterSequence, "ALTER SEQUENCE", ShareRowExclusiveLock, "the sequence: nextval() waits, so do inserts that use it",
     "catalog only", SG_NO_RULES},
    {S::AlterTypeAttribute, "ALTER TYPE ... ADD / DROP / ALTER ATTRIBUTE ... CASCADE", kAEL,
     "the composite type and every typed table (CREATE TABLE ... OF type) using it",
     "as ADD COLUMN / DROP COLUMN / ALTER COLUMN TYPE on each typed table: ALTER ATTRIBUTE TYPE rewrites them unless binary-coercible",
     SG_RULES(RuleId::AlterColumnTypeRewrite, RuleId::AlterColumnTypeIndexRebuild, RuleId::DropColumn,
              RuleId::AddColumnRewrite)},
    {S::RenameTable, "ALTER TABLE / VIEW / MATERIALIZED VIEW / FOREIGN TABLE ... RENAME TO", kAEL, "the relation",
     "catalog only; code using the old name fails", SG_RULES(RuleId::RenameTable)},
    {S::RenameColumn, "ALTER TABLE / VIEW / MATERIALIZED VIEW ... RENAME COLUMN", kAEL,
     "the relation, its partitions and inheritance children", "catalog only; code using the old name fails",
     SG_RULES(RuleId::RenameColumn)},
    {S::RenameAttribute, "ALTER TYPE ... RENAME ATTRIBUTE ... CASCADE", kAEL, "every typed table using the type",
     "catalog only; code using the old column name fails", SG_RULES(RuleId::RenameColumn)},
    {S::RenameConstraint, "ALTER TABLE ... RENAME CONSTRAINT", kAEL, "the table (and its children for an inherited constraint)",
     "catalog only", SG_NO_RULES},
    {S::RenameTrigger, "ALTER TRIGGER ... RENAME", kAEL, "the trigger's table (and its partitions)", "catalog only",
     SG_NO_RULES},
    {S::RenameRule, "ALTER RULE ... RENAME", kAEL, "the rule's table or view", "catalog only", SG_NO_RULES},
    {S::CreateIndex, "CREATE [UNIQUE] INDEX", ShareLock,
     "the table and, on a partitioned table, every partition (IF NOT EXISTS takes it even when the index exists; ON ONLY builds nothing)",
     "builds the index", SG_RULES(RuleId::CreateIndexBlocking)},
    {S::Reindex, "REINDEX INDEX / TABLE", ShareLock,
     "the table (SHARE) and each index rebuilt (ACCESS EXCLUSIVE: queries that plan with it wait)",
     "rebuilds each index (nothing when the table has none)", SG_RULES(RuleId::ReindexBlocking)},
    {S::Cluster, "CLUSTER", kAEL, "the table", "rewrites the table and its indexes", SG_RULES(RuleId::Cluster)},
    {S::VacuumFull, "VACUUM FULL", kAEL, "each table", "rewrites the table and its indexes", SG_RULES(RuleId::VacuumFull)},
    {S::RefreshMaterializedView, "REFRESH MATERIALIZED VIEW", kAEL, "the materialized view",
     "recomputes the query and rebuilds the indexes", SG_RULES(RuleId::RefreshMatviewBlocking)},
    {S::Truncate, "TRUNCATE", kAEL,
     "each table, its partitions and inheritance children, and with CASCADE every table referencing them",
     "replaces the storage with empty files: every row is gone at commit", SG_RULES(RuleId::Truncate)},
    {S::DropTable, "DROP TABLE", kAEL,
     "the table, its partitions, the tables its foreign keys reference (their triggers are dropped), the parent and the default partition of a dropped partition; with CASCADE the tables of every dependent object",
     "catalog only; the data is gone at commit", SG_RULES(RuleId::DropTable, RuleId::DropColumn)},
    {S::DropIndex, "DROP INDEX", kAEL, "the index and its table (CONCURRENTLY: SHARE UPDATE EXCLUSIVE)", "catalog only",
     SG_RULES(RuleId::DropIndexBlocking)},
    {S::DropViewOrSequence, "DROP VIEW / MATERIALIZED VIEW / FOREIGN TABLE / SEQUENCE", kAEL,
     "the relation; with CASCADE the tables of every dependent object (a column default using a sequence, a view on a view)",
     "catalog only", SG_RULES(RuleId::DropTable, RuleId::DropColumn)},
    {S::DropOnTable, "DROP TRIGGER / POLICY / RULE", kAEL,
     "the table the object belongs to (no lock at all when IF EXISTS finds no object)", "catalog only", SG_NO_RULES},
    {S::DropCascade, "DROP TYPE / DOMAIN / FUNCTION / COLLATION / OPERATOR CLASS / EXTENSION / ... CASCADE", kAEL,
     "every table whose column, default, constraint, index, trigger or policy depends on the object, and every dependent relation",
     "catalog only: dependent columns and tables are dropped", SG_RULES(RuleId::DropColumn, RuleId::DropTable)},
    {S::DropSchema, "DROP SCHEMA ... CASCADE", kAEL, "every relation in the schema and every table depending on them",
     "catalog only: every table in the schema is dropped", SG_RULES(RuleId::DropTable, RuleId::DropColumn)},
    {S::DropOwned, "DROP OWNED", kAEL,
     "every relation the roles own in this database, the tables of policies naming the roles, and the tables of dependent objects",
     "catalog only: the owned tables are dropped", SG_RULES(RuleId::DropTable, RuleId::DropColumn)},
    {S::ReassignOwned, "REASSIGN OWNED", kAEL, "every relation the roles own in this database", "catalog only",
     SG_NO_RULES},
    {S::CreateTable, "CREATE TABLE ... REFERENCES", ShareRowExclusiveLock, "every referenced table",
     "catalog only (the new table is empty)", SG_NO_RULES},
    {S::CreateTablePartitionOf, "CREATE TABLE ... PARTITION OF", kAEL,
     "the parent and its default partition (tables referenced by the parent's foreign keys: SHARE ROW EXCLUSIVE)",
     "scans the default partition unless its constraints exclude the new bound",
     SG_RULES(RuleId::AttachPartitionScan)},
    {S::CreateOrReplaceView, "CREATE OR REPLACE VIEW", kAEL, "the existing view", "catalog only", SG_NO_RULES},
    {S::CreateTrigger, "CREATE [CONSTRAINT] TRIGGER", ShareRowExclusiveLock, "the table", "catalog only", SG_NO_RULES},
    {S::CreatePolicy, "CREATE POLICY", kAEL, "the table", "catalog only", SG_NO_RULES},
    {S::AlterPolicy, "ALTER POLICY", kAEL, "the table", "catalog only", SG_NO_RULES},
    {S::CreateRule, "CREATE [OR REPLACE] RULE", kAEL, "the table or view", "catalog only", SG_NO_RULES},
    {S::AlterDomain, "ALTER DOMAIN ... ADD CONSTRAINT / VALIDATE CONSTRAINT / SET NOT NULL", ShareLock,
     "every table with a column of the domain", "scans each of them", SG_RULES(RuleId::AlterDomainScan)},
    {S::LockTable, "LOCK TABLE", kAEL, "each table named (the mode asked; ACCESS EXCLUSIVE by default), and its partitions",
     "none (NOWAIT fails at once instead of waiting)", SG_NO_RULES},
    {S::SetSchema, "ALTER TABLE / VIEW / MATERIALIZED VIEW / FOREIGN TABLE / SEQUENCE ... SET SCHEMA", kAEL,
     "the relation", "catalog only; code using the old qualified name fails", SG_RULES(RuleId::SetSchema)},
    {S::AlterObjectDepends, "ALTER INDEX / MATERIALIZED VIEW / TRIGGER ... [NO] DEPENDS ON EXTENSION", kAEL,
     "the index, the materialized view or the trigger's table", "catalog only", SG_NO_RULES},
};

static_assert(sizeof(kStatements) / sizeof(kStatements[0]) == kStatementCount, "every Statement needs an entry");

constexpr bool StatementsInOrder() {
  for (size_t i = 0; i < kStatementCount; i++)
    if (static_cast<size_t>(kStatements[i].id) != i) return false;
  return true;
}
static_assert(StatementsInOrder(), "catalog entries must be in Statement order");

// The ALTER TABLE subcommands with work or a rule of their own, and the common
// catalog-only ones; their lock is the server's answer, not a copy of it.
const AlterSubcommand kAlterSubcommands[] = {
    {AT_AddColumn, CONSTR_NULL, "ADD COLUMN",
     "catalog only; rewrites for a volatile default, serial, identity, GENERATED ... STORED or a constrained domain; scans for NOT NULL without a default, CHECK and REFERENCES; builds UNIQUE / PRIMARY KEY indexes",
     SG_RULES(RuleId::AddColumnRewrite, RuleId::SetNotNullScan, RuleId::AddCheckScan, RuleId::AddForeignKeyScan,
              RuleId::AddConstraintIndexBuild)},
    {AT_AlterColumnType, CONSTR_NULL, "ALTER COLUMN ... TYPE",
     "rewrites unless binary-coercible; otherwise rebuilds the indexes CheckIndexCompatible() rejects, re-verifies CHECK constraints, and locks the other table of a foreign key ACCESS EXCLUSIVE",
     SG_RULES(RuleId::AlterColumnTypeRewrite, RuleId::AlterColumnTypeIndexRebuild, RuleId::AlterColumnTypeRecheck,
              RuleId::AddForeignKeyScan)},
    {AT_SetNotNull, CONSTR_NULL, "ALTER COLUMN ... SET NOT NULL", "scans unless a validated CHECK proves it",
     SG_RULES(RuleId::SetNotNullScan)},
    {AT_AddConstraint, CONSTR_CHECK, "ADD CHECK", "scans to validate (NOT VALID: catalog only)",
     SG_RULES(RuleId::AddCheckScan)},
    {AT_AddConstraint, CONSTR_FOREIGN, "ADD FOREIGN KEY",
     "scans the table, probing the referenced table (locked SHARE ROW EXCLUSIVE) through its key (NOT VALID: catalog only)",
     SG_RULES(RuleId::AddForeignKeyScan)},
    {AT_AddConstraint, CONSTR_UNIQUE, "ADD UNIQUE / PRIMARY KEY / EXCLUDE", "builds the index (USING INDEX: catalog only)",
     SG_RULES(RuleId::AddConstraintIndexBuild, RuleId::SetNotNullScan)},
    {AT_ValidateConstraint, CONSTR_NULL, "VALIDATE CONSTRAINT",
     "scans without blocking reads or writes, unless this transaction already holds a stronger lock",
     SG_RULES(RuleId::ValidateUnderStrongLock)},
    {AT_SetLogged, CONSTR_NULL, "SET LOGGED / UNLOGGED", "rewrites", SG_RULES(RuleId::SetPersistenceRewrite)},
    {AT_SetAccessMethod, CONSTR_NULL, "SET ACCESS METHOD", "rewrites", SG_RULES(RuleId::SetAccessMethodRewrite)},
    {AT_SetTableSpace, CONSTR_NULL, "SET TABLESPACE", "copies the files", SG_RULES(RuleId::SetTablespaceCopy)},
    {AT_DropColumn, CONSTR_NULL, "DROP COLUMN", "catalog only; code using the column fails", SG_RULES(RuleId::DropColumn)},
    {AT_AttachPartition, CONSTR_NULL, "ATTACH PARTITION",
     "ACCESS EXCLUSIVE on the partition and the default partition; scans them unless constraints imply the bound; builds the parent's indexes the partition lacks; validates the parent's foreign keys on it",
     SG_RULES(RuleId::AttachPartitionScan, RuleId::AttachPartitionIndexBuild, RuleId::AddForeignKeyScan)},
    {AT_DetachPartition, CONSTR_NULL, "DETACH PARTITION", "catalog only (ACCESS EXCLUSIVE on the partition too)",
     SG_RULES(RuleId::DetachPartitionBlocking)},
    {AT_DropConstraint, CONSTR_NULL, "DROP CONSTRAINT",
     "catalog only (a foreign key's triggers on the referenced table: ACCESS EXCLUSIVE there too)", SG_NO_RULES},
    {AT_ColumnDefault, CONSTR_NULL, "ALTER COLUMN ... SET / DROP DEFAULT", "catalog only", SG_NO_RULES},
    {AT_DropNotNull, CONSTR_NULL, "ALTER COLUMN ... DROP NOT NULL", "catalog only", SG_NO_RULES},
    {AT_EnableTrig, CONSTR_NULL, "ENABLE / DISABLE TRIGGER", "catalog only", SG_NO_RULES},
    {AT_ChangeOwner, CONSTR_NULL, "OWNER TO", "catalog only", SG_NO_RULES},
    {AT_ReplicaIdentity, CONSTR_NULL, "REPLICA IDENTITY", "catalog only", SG_NO_RULES},
    {AT_AddInherit, CONSTR_NULL, "INHERIT / NO INHERIT", "catalog only (the parent: SHARE UPDATE EXCLUSIVE)",
     SG_NO_RULES},
    {AT_EnableRowSecurity, CONSTR_NULL, "ENABLE / DISABLE / FORCE ROW LEVEL SECURITY", "catalog only", SG_NO_RULES},
    {AT_SetStatistics, CONSTR_NULL, "ALTER COLUMN ... SET STATISTICS", "catalog only", SG_NO_RULES},
    {AT_ClusterOn, CONSTR_NULL, "CLUSTER ON / SET WITHOUT CLUSTER", "catalog only", SG_NO_RULES},
};

}  // namespace

const StatementInfo &StatementEntry(Statement id) { return kStatements[static_cast<size_t>(id)]; }

LOCKMODE StatementLock(Statement id) { return StatementEntry(id).lock; }

void SetStatement(StatementAnalysis *out, Statement id, const char *command) {
  out->statement = static_cast<int>(id);
  out->command = command;
}

size_t AlterSubcommandCount() { return sizeof(kAlterSubcommands) / sizeof(kAlterSubcommands[0]); }

const AlterSubcommand &AlterSubcommandEntry(size_t i) { return kAlterSubcommands[i]; }

LOCKMODE AlterSubcommandLock(const AlterSubcommand &sub) {
  AlterTableCmd *cmd = makeNode(AlterTableCmd);
  cmd->subtype = sub.subtype;
  if (sub.subtype == AT_AddConstraint) {
    Constraint *con = makeNode(Constraint);
    con->contype = sub.contype;
    cmd->def = reinterpret_cast<Node *>(con);
  } else if (sub.subtype == AT_AttachPartition || sub.subtype == AT_DetachPartition) {
    cmd->def = reinterpret_cast<Node *>(makeNode(PartitionCmd));  // not CONCURRENTLY
  }
  return AlterTableGetLockLevel(list_make1(cmd));
}

}  // namespace schema_guard::analysis
