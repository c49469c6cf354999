// The rule catalog: the single source of rule ids, categories, default actions,
// messages and safe recipes.  docs/rules.md (scripts/rule-reference.sh) and the tests are checked
// against schema_guard.rules(), which reads this table.
#pragma once

#include <cstddef>
#include <cstdint>

namespace schema_guard::policy {

enum class Action : uint8_t { Off = 0, Warn = 1, Block = 2 };

enum class RuleId : uint8_t {
  // rewrites under ACCESS EXCLUSIVE
  AlterColumnTypeRewrite,
  AlterColumnTypeIndexRebuild,
  AddColumnRewrite,
  SetExpressionRewrite,
  SetPersistenceRewrite,
  SetAccessMethodRewrite,
  SetTablespaceCopy,
  VacuumFull,
  Cluster,
  // validation scans under a write-blocking lock
  AddCheckScan,
  AddForeignKeyScan,
  SetNotNullScan,
  AttachPartitionScan,
  AlterDomainScan,
  AlterColumnTypeRecheck,
  // index builds under lock
  CreateIndexBlocking,
  AddConstraintIndexBuild,
  ReindexBlocking,
  RefreshMatviewBlocking,
  AttachPartitionIndexBuild,
  // breaking or destructive
  RenameTable,
  RenameColumn,
  DropColumn,
  DropTable,
  Truncate,
  DropIndexBlocking,
  DetachPartitionBlocking,
  RenameSchema,
  SetSchema,
  // lock waits
  LockTimeoutMissing,
  LockConflict,
  // backstop
  UnpredictedRewrite,
  JudgementFailed,
  // a scan under a lock the transaction already holds
  ValidateUnderStrongLock,
  // scripts judged by schema_guard.check(): what will fail at deploy
  SyntaxError,
  RelationMissing,
  StatementError,
  TransactionBlockError,
  NotSimulated,
  Count_
};

constexpr size_t kRuleCount = static_cast<size_t>(RuleId::Count_);

struct RuleInfo {
  RuleId id;
  const char *name;      // stable snake_case id used in GUCs and messages
  const char *category;  // rewrite | scan | index_build | breaking | lock_wait | backstop
  Action default_action;
  // Primary message after "schema_guard: <name>: ".  {rel} is the relation,
  // {what} the operation-specific subject the analysis supplies.
  const char *message;
  const char *description;  // one line for rules() and docs/rules.md
  const char *recipe;       // the safe way, used as HINT
  const char *recipe_partitioned = nullptr;  // the safe way when the target is partitioned
};

const RuleInfo &Rule(RuleId id);
const RuleInfo *RuleByName(const char *name);  // nullptr when unknown
inline size_t RuleIndex(RuleId id) { return static_cast<size_t>(id); }

// Rules about the work done under a lock (rewrite, scan, index build, and the
// rewrite backstop): that work is proportional to the table's size, so they are quiet
// for empty tables and below schema_guard.min_table_size.  Lock-wait rules are not:
// waiting for a lock stalls the queue behind it whatever the table's size.
bool IsWorkUnderLockRule(RuleId id);

const char *ActionName(Action action);

// Expand {rel} and {what} in a template into out (always NUL-terminated).
void ExpandTemplate(const char *tmpl, const char *rel, const char *what, char *out, size_t out_size);

}  // namespace schema_guard::policy
