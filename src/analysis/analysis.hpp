// Analysis: what PostgreSQL will really do when it runs a utility statement,
// worked out from the raw parse tree and the live catalog, without taking any
// heavyweight lock.  The result is a list of findings (one per rule that fires)
// and the existing relations the statement will lock.
//
// Written C-style on purpose: these functions call PostgreSQL, which may longjmp,
// so every local is trivially destructible and all memory is palloc'd in the
// caller's memory context.
#pragma once

#include <type_traits>

#include "pg.hpp"
#include "policy/rules.hpp"

namespace schema_guard::analysis {

enum Effect : uint8 {
  kRewrite = 1 << 0,     // new heap (and index) files written under the lock
  kScan = 1 << 1,        // full read of the table under the lock
  kIndexBuild = 1 << 2,  // an index built or rebuilt under the lock
  kBreaks = 1 << 3,      // breaks running code or loses data
};

struct Finding {
  policy::RuleId rule;
  Oid relid;             // InvalidOid when the statement targets many tables
  const char *rel_text;  // shown instead of the relation name when relid is invalid
  LOCKMODE lock;
  uint8 effects;
  const char *what;      // operation-specific subject for the message
  const char *reason;    // extra DETAIL sentence, or nullptr
  bool partitioned;      // target is a partitioned table (changes the recipe)
};

struct LockTarget {
  Oid relid;
  LOCKMODE lock;
};

// A column a script added to an existing table earlier (schema_guard.check()): the
// catalog does not have it yet, so commands on it are judged from these facts, as the
// server judges them on the table after the ADD COLUMN ran.
struct ScriptColumn {
  Oid relid;
  const char *name;
  Oid type;
  int32 typmod;
  Oid collation;
  bool not_null;
};

struct StatementAnalysis {
  List *findings;      // of Finding *
  List *lock_targets;  // of LockTarget *: existing, non-exempt relations
  List *rewrites;      // of Oid (lfirst_oid): relations the analysis expects to be rewritten
  const char *command; // e.g. "ALTER TABLE", for lock-wait messages
  int statement;       // the analysis::Statement judged (statement_catalog.hpp), -1 for none
  // Input: relations an earlier statement of the same transaction locked in SHARE
  // mode or stronger, as known to schema_guard.check() for a script (the live
  // locks of this transaction are always consulted too).
  List *held_locks;
  // Input: columns the script added to existing tables (of ScriptColumn *).
  List *script_columns;
};

static_assert(std::is_trivially_destructible_v<ScriptColumn>);

static_assert(std::is_trivially_destructible_v<Finding>);
static_assert(std::is_trivially_destructible_v<StatementAnalysis>);

// Cheap node-tag filter: does the guard judge this kind of statement at all?
bool IsJudgedStatement(const Node *parsetree);
// A judged statement whose parse tree alone shows that its analysis finds nothing
// (CREATE TABLE without PARTITION OF or FOREIGN KEY, CONCURRENTLY, VACUUM without
// FULL, NOWAIT, a new view): the hook lets it pass without reading the catalog.
bool NothingToJudge(const Node *parsetree);

// Work out findings and lock targets for one statement.  held_locks: see
// StatementAnalysis::held_locks.
void AnalyzeStatement(Node *parsetree, StatementAnalysis *out, List *held_locks = NIL, List *script_columns = NIL);

// The elements of CREATE SCHEMA as the server runs them (transformCreateSchemaStmt()):
// copies, in its order, each created object qualified with the new schema, unqualified
// references to a relation the statement creates too; NIL when nothing runs (the schema
// exists, or an element names another schema).
List *CreateSchemaElements(const CreateSchemaStmt *stmt);

// Is NOT NULL on the existing column proven (attnotnull, or a validated CHECK that
// implies it, as the server's NotNullImpliedByRelConstraints() decides)?
bool ColumnNotNullProven(Oid relid, const char *colname);

// Can the partition bound be transformed without running anything?  Its values are
// constants, casts of constants, or MINVALUE / MAXVALUE.  transformPartitionBound()
// evaluates any other expression, volatile ones too (a nextval() would advance and
// stay advanced), so the guard does not transform such a bound.
bool PartitionBoundIsConstant(const PartitionBoundSpec *bound);

// The column a script added to relid under that name, or nullptr (then the catalog's
// column, if any, is the one).
const ScriptColumn *FindScriptColumn(const StatementAnalysis *out, Oid relid, const char *name);

// AnalyzeStatement() as the guard runs it, on a catalog other sessions change
// while it reads without locks: on a fresh catalog (invalidations accepted), in a
// subtransaction that is always rolled back, judged again when a catalog row
// vanished under it; after the last attempt it fails closed with one
// judgement_failed finding.  Cancels, timeouts and the like propagate.
// as_caller: the statement is about to run as the current user (the hook); when
// PostgreSQL will refuse it for lack of privilege, nothing is judged, so that the
// caller gets PostgreSQL's own permission error and no verdict.
void AnalyzeStatementSafely(Node *parsetree, StatementAnalysis *out, List *held_locks = NIL,
                            bool as_caller = false, List *script_columns = NIL);

// privileges.cpp: would PostgreSQL let the current user run this statement (the
// ownership or ACL check it makes; true when an object is missing)?  May the current
// user see the size and the lock holders of relid (owner, or any table privilege)?
bool CallerMayRun(Node *parsetree);
bool CallerMayInspect(Oid relid);
// After the analysis: the privileges the relations it found need (TRUNCATE ... CASCADE).
bool CallerMayRunAnalyzed(Node *parsetree, const StatementAnalysis &analysis);
// VACUUM skips, with a WARNING, a table the caller may not vacuum; CLUSTER without a
// table and REINDEX of a partitioned table skip the ones it may not maintain.
bool CallerMayVacuum(Oid relid);
bool CallerMayMaintain(Oid relid);

// drop.cpp: what a DROP statement's object name resolves to, without locking a
// relation (InvalidOid when it does not exist or the lookup fails).
ObjectAddress ResolveDropTarget(ObjectType type, Node *object);

// A probe that evaluates part of a statement (cooking a default, transforming a
// partition bound) in a rolled-back subtransaction (boundary.hpp).  False with
// the discarded error in *error when it raised; an internal error (a catalog row
// that vanished) is raised again so that AnalyzeStatementSafely() starts over.
bool RunProbe(void (*fn)(void *), void *arg, ErrorData **error);

// Does this transaction already hold `lock` (or a stronger one) on relid?
bool LockHeldByThisTransaction(Oid relid, LOCKMODE lock);

// The strongest lock of SHARE or above this transaction holds on relid (SHARE when
// it holds none: a script simulation knows only "SHARE or stronger").
LOCKMODE StrongestLockHeld(Oid relid);

// Does this transaction already block writes to relid (SHARE lock or stronger),
// live or according to held_locks?
bool WritesBlockedByThisTransaction(Oid relid, List *held_locks);

// ---- catalog facts shared by the analyzers (catalog_facts.cpp) ----

// Temporary, created in the current transaction (relcache rd_createSubid), or in
// one of the exempt schemas (tools' private work tables): nobody else uses it, so
// the rules do not apply.
bool IsExemptRelation(Oid relid);

// The setup passes (glue/setup.hpp) extend the exemption for the statements the hook
// runs: a test IsExemptRelation() consults last, or nullptr.
using SetupPassTest = bool (*)(Oid relid);
void SetSetupPassTest(SetupPassTest test);

// Does a session other than this one (and its parallel workers) hold or await a lock
// on relid?  Autovacuum workers do not count (a DDL lock request cancels them), nor,
// with ignore_restore_sessions, other pg_restore sessions of this database.
bool OtherSessionsUseRelation(Oid relid, bool ignore_restore_sessions);

// The exempt schemas, as NUL-separated names ending with an empty name (the
// storage belongs to the caller and outlives every use), or nullptr for none.
void SetExemptSchemas(const char *names);

// The one size of a table for verdicts and messages, in bytes, read without taking a
// lock: partitioned tables and inheritance parents sum their tree; a Citus table is
// the sum of its shards on every node (one copy for a reference table).  -1 when it
// cannot be read (the relation was dropped meanwhile, a Citus node did not answer).
// 0 means the table holds no row at all, committed or not, in any transaction (a row
// is written only into an allocated block): the verdicts treat it as empty.
int64 RelationSizeBytes(Oid relid);

// The relation's own storage on this node (0 for relations without storage).
int64 StorageBytes(Oid relid);

// Calls fn(const FormData_pg_depend &) for each pg_depend row of an object that
// depends on `referenced`: on that column when its objectSubId is set, else on the
// object or any of its columns (pg_depend's reference index, as dependency.c reads it).
template <typename Fn>
void ForEachDependent(Relation depRel, const ObjectAddress &referenced, Fn fn) {
  ScanKeyData key[3];
  int nkeys = 2;
  ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
              ObjectIdGetDatum(referenced.classId));
  ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber, F_OIDEQ,
              ObjectIdGetDatum(referenced.objectId));
  if (referenced.objectSubId != 0) {
    ScanKeyInit(&key[2], Anum_pg_depend_refobjsubid, BTEqualStrategyNumber, F_INT4EQ,
                Int32GetDatum(referenced.objectSubId));
    nkeys = 3;
  }
  SysScanDesc scan = systable_beginscan(depRel, DependReferenceIndexId, true, nullptr, nkeys, key);
  HeapTuple tup;
  while (HeapTupleIsValid(tup = systable_getnext(scan))) fn(*reinterpret_cast<Form_pg_depend>(GETSTRUCT(tup)));
  systable_endscan(scan);
}

template <typename Fn>
void ForEachDependent(const ObjectAddress &referenced, Fn fn) {
  Relation depRel = table_open(DependRelationId, AccessShareLock);
  ForEachDependent(depRel, referenced, fn);
  table_close(depRel, AccessShareLock);
}

// GetDefaultOpClass(type, am), remembered in this backend until pg_opclass, pg_cast or
// pg_type change (the catalogs it reads; their cache invalidations forget it).
// Raises GetDefaultOpClass()'s errors, which are never remembered.
Oid DefaultOpclass(Oid type, Oid am);

// relid and every partition and inheritance child below it (find_all_inheritors()
// without its "cache lookup failed" when a member is dropped concurrently).
List *InheritanceTree(Oid relid);

// pg_class facts that are false / '\0' for a relation that no longer exists
// (has_subclass() and get_rel_persistence() raise an internal error instead).
bool RelationHasInheritors(Oid relid);
char RelationPersistence(Oid relid);

// Typed tables (CREATE TABLE ... OF type) of a composite type's relation.
List *TypedTables(Oid typrelid);

// From now on in this backend, RelationSizeBytes() counts `bytes` for relid's heap
// (production sizes in schema_guard_lint's throwaway server).
void SimulateHeapBytes(Oid relid, int64 bytes);

// RangeVar to OID without locking; InvalidOid when it does not exist.
Oid LookupRelation(const RangeVar *rv);

// Sessions that now hold or wait for a lock conflicting with `lock` on relid.
// Returns a palloc'd human-readable list, or nullptr when there are none.
const char *DescribeConflictingLockers(Oid relid, LOCKMODE lock);

// Helpers to build results.
Finding *NewFinding(policy::RuleId rule, Oid relid, LOCKMODE lock, uint8 effects, const char *what,
                    const char *reason = nullptr);
void AddFinding(StatementAnalysis *out, policy::RuleId rule, Oid relid, LOCKMODE lock,
                uint8 effects, const char *what, const char *reason = nullptr);
void AddLockTarget(StatementAnalysis *out, Oid relid, LOCKMODE lock);
// The table a new FOREIGN KEY references (and its partitions): SHARE ROW EXCLUSIVE.
void LockReferencedTable(StatementAnalysis *out, Oid pkrel);

// Is nsp one of schema_guard.exempt_schemas?  Only a schema that belongs to an
// extension counts (pg_repack's schema repack is created by CREATE EXTENSION
// pg_repack): a schema given that name by CREATE or ALTER SCHEMA ... RENAME is not.
bool IsExemptSchema(Oid nsp);

// Per-family analyzers.
void AnalyzeAlterTable(AlterTableStmt *stmt, StatementAnalysis *out);
void AnalyzeDrop(DropStmt *stmt, StatementAnalysis *out);
void AnalyzeDropOwned(DropOwnedStmt *stmt, StatementAnalysis *out);
void AnalyzeReassignOwned(ReassignOwnedStmt *stmt, StatementAnalysis *out);
void AnalyzeAlterTableMoveAll(AlterTableMoveAllStmt *stmt, StatementAnalysis *out);
void AnalyzeRenameSchema(RenameStmt *stmt, StatementAnalysis *out);  // namespaces.cpp
void AnalyzeSetSchema(AlterObjectSchemaStmt *stmt, StatementAnalysis *out);

// Lock targets (and findings for cascaded drops) of everything that goes with
// `object` when it is dropped: a column's or a constraint's dependents, a foreign
// key's triggers on the referenced table.  The object itself is not judged.
void JudgeDependentsOfDrop(const ObjectAddress &object, bool cascade, const char *command, StatementAnalysis *out);

// A new partition bound on `parent` (ATTACH PARTITION of `attached`, or CREATE TABLE
// ... PARTITION OF with attached = InvalidOid): locks, and the scans of the attached
// table and of the default partition unless existing constraints imply the bound.
void AnalyzeNewPartitionBound(Oid parent, Oid attached, PartitionBoundSpec *bound, const char *what,
                              StatementAnalysis *out);

}  // namespace schema_guard::analysis
