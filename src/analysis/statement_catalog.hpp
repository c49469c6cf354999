// The statement catalog: every utility statement that takes a lock stronger than
// SHARE UPDATE EXCLUSIVE on an existing relation, with the lock the server takes
// (read from the PostgreSQL 15 source; ALTER TABLE subcommands ask the server's
// AlterTableGetLockLevel()), the relations it locks, the work done under the lock and
// the rules that judge that work.  The analyzers name their statement through this
// table (SetStatement), schema_guard.statements() returns it and docs/statements.md
// is generated from it, so the published list is the list the code judges.
#pragma once

#include "pg.hpp"
#include "policy/rules.hpp"

namespace schema_guard::analysis {

struct StatementAnalysis;

enum class Statement : uint8 {
  AlterTable,
  AlterTableAllInTablespace,
  AlterIndex,
  AlterIndexAllInTablespace,
  AlterView,
  AlterMaterializedView,
  AlterForeignTable,
  AlterSequence,
  AlterTypeAttribute,
  RenameTable,
  RenameColumn,
  RenameAttribute,
  RenameConstraint,
  RenameTrigger,
  RenameRule,
  CreateIndex,
  Reindex,
  Cluster,
  VacuumFull,
  RefreshMaterializedView,
  Truncate,
  DropTable,
  DropIndex,
  DropViewOrSequence,
  DropOnTable,
  DropCascade,
  DropSchema,
  DropOwned,
  ReassignOwned,
  CreateTable,
  CreateTablePartitionOf,
  CreateOrReplaceView,
  CreateTrigger,
  CreatePolicy,
  AlterPolicy,
  CreateRule,
  AlterDomain,
  LockTable,
  SetSchema,
  AlterObjectDepends,
  Count_
};

constexpr size_t kStatementCount = static_cast<size_t>(Statement::Count_);
constexpr size_t kMaxStatementRules = 6;

// ALTER TABLE subcommands listed with the lock AlterTableGetLockLevel() gives them.
struct AlterSubcommand {
  AlterTableType subtype;
  ConstrType contype;  // for AT_AddConstraint
  const char *syntax;
  const char *work;
  policy::RuleId rules[kMaxStatementRules];  // terminated by RuleId::Count_
};

struct StatementInfo {
  Statement id;
  const char *syntax;   // e.g. "DROP TABLE"; also the command named in lock-wait messages
  LOCKMODE lock;        // the strongest lock on an existing relation (NoLock: per subcommand)
  const char *locked;   // which relations get it
  const char *work;     // what runs while it is held
  policy::RuleId rules[kMaxStatementRules];  // rules judging the work, terminated by RuleId::Count_
};

const StatementInfo &StatementEntry(Statement id);
LOCKMODE StatementLock(Statement id);

// Record which statement the analysis judges, and the command its messages name.
void SetStatement(StatementAnalysis *out, Statement id, const char *command);

size_t AlterSubcommandCount();
const AlterSubcommand &AlterSubcommandEntry(size_t i);
// The lock the server takes for one subcommand alone.
LOCKMODE AlterSubcommandLock(const AlterSubcommand &sub);

}  // namespace schema_guard::analysis
