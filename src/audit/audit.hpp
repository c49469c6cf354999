// Audits: what the catalog says about a schema's hidden risks, read from the
// system catalogs through the syscache and catalog scans only.  No user
// relation is opened or locked, no stored SQL is run.
//
// C-style on purpose, like analysis/: these functions call PostgreSQL, which may
// longjmp, so every local is trivially destructible and memory is palloc'd in
// the caller's memory context.
#pragma once

#include <type_traits>

#include "audit/checks.hpp"
#include "pg.hpp"

namespace schema_guard::audit {

// How well the best index of a table serves the RI probe of a foreign key
// ("$1 = fkcol [AND ...]" on the referencing table).  Lower is better; the
// numbers are the SQL layer's reason codes.
enum FkGrade : int {
  kCovered = 0,
  kIndexInvalid = 1,         // not valid, not ready or not live
  kPartialNotImplied = 2,    // predicate not implied by the FK columns being NOT NULL
  kCollationDiffers = 3,
  kOperatorMismatch = 4,     // operator class cannot serve the FK's equality (or a cast)
  kWrongAccessMethod = 6,
  kOnlyInclude = 7,          // a FK column is only an INCLUDE column
  kNotLeading = 8,           // the FK columns are key columns, not the leading ones
  kNoIndex = 9,
};

// One logical foreign key (partition clones folded into their parent) that the
// audit reports: its own table has no usable index and, for a partitioned
// table, some leaf partition has none either (or there are no leaves).
struct FkFinding {
  Oid conoid;
  Oid relid;             // the referencing table
  const char *conname;
  Oid confrelid;
  char confdeltype;
  char confupdtype;
  int n;                 // number of FK columns
  const int16 *conkey;
  const int16 *confkey;
  const Oid *pfeqop;     // "pk = fk" equality operators
  FkGrade grade;         // of the best index on relid
  Oid candidate;         // that index, InvalidOid when grade is kNoIndex
  bool partitioned;
  int n_uncovered;       // leaves without a usable index
  Oid *uncovered;
};

static_assert(std::is_trivially_destructible_v<FkFinding>);

// The foreign keys in the given namespaces (sorted array) that lack a usable
// index.  Returns a palloc'd array; *count is set.
FkFinding *FindUncoveredForeignKeys(const Oid *namespaces, int n_namespaces, int *count);

// One fk_index_audit() row.
struct FkReportRow {
  FkFinding finding;
  Oid nspid;
  const char *nspname;
  const char *relname;
  const char *const *colnames;  // finding.n names
  const char *name_base;        // table_col1_col2: the proposed index name before its suffix
  const char *column_key;       // col1,col2 (orders findings that share a name base)
  bool probe_form;              // the index needs the probe's cast or collation
  bool building;                // the candidate index is being built right now
  const char *reason;
  const char *on_delete;
  const char *on_update;
  int64 table_bytes;
  int64 parent_writes;
  const char *severity;
  int name_number;              // proposed index name: base_idx, or base_idxN when other findings share the base
};

static_assert(std::is_trivially_destructible_v<FkReportRow>);

// The rows of fk_index_audit() for the namespaces (sorted), in report order;
// building_indexes: indexes that CREATE INDEX (CONCURRENTLY) is building now.
FkReportRow **BuildFkReport(const Oid *namespaces, int n_namespaces, const Oid *building_indexes, int n_building,
                            int *count);

// base_suffix, base_suffix1, ... from the start-th candidate: the first name of
// at most NAMEDATALEN-1 bytes that no relation in the namespace uses (the base
// is cut, character by character, to fit, as PostgreSQL itself does).  The
// suffix must be short (kMaxNameSuffix bytes).
constexpr int kMaxNameSuffix = 16;
const char *FreeRelationName(Oid nsp, const char *base, const char *suffix, int start);

// The DDL that fixes a row (an index name no relation uses yet), or nullptr:
// none while the index is being built, and partitioned tables get theirs from
// the SQL layer.  scratch: a buffer the caller owns.
const char *FkFixStatement(const FkReportRow &row, StringInfo scratch);

// ---- small shared pieces ----

// Is oid in the sorted array (oid_cmp order)?
bool OidInSorted(const Oid *oids, int n, Oid oid);

// The right-hand input type of an operator (the FK column side of "pk = fk").
Oid OperatorRightType(Oid opno);

// The collation of the RI probe on one FK column: the column's own, unless the
// referenced column's differs and is nondeterministic (the probe then uses it).
Oid ProbeCollation(Oid conrelid, AttrNumber fk_attnum, Oid confrelid, AttrNumber pk_attnum);

// Expression-tree tests shared by the policy readers (policy_facts.cpp).
bool IsConstTrue(const Node *node);
bool IsEmptyTextConst(const Node *node);
bool ContainsVar(Node *node);  // any Var, subqueries included

// ---- policy expressions (policy_facts.cpp) ----

// A function call in a policy expression and where it sits.
struct PolicyCall {
  Oid funcid;
  bool in_subquery;        // inside a sublink's subquery (runs once as an initplan)
  const char *parent;      // node type the call is the first child of, or nullptr
  int has_var;             // user functions: a column among its arguments (-1: not judged)
  const char *setting;     // current_setting(): the literal setting name, or nullptr
  int missing_ok;          // current_setting(): the missing_ok argument (-1: not judged)
  int nullif_empty;        // current_setting(): wrapped as NULLIF(..., '') (-1: not judged)
};

struct PolicyFacts {
  List *calls;             // of PolicyCall *
  bool qual_true;          // USING is always true, judged on the tree
  bool check_true;         // WITH CHECK is always true
};

static_assert(std::is_trivially_destructible_v<PolicyCall>);
static_assert(std::is_trivially_destructible_v<PolicyFacts>);

// The facts of a policy's stored USING and WITH CHECK trees (either may be
// nullptr).
void ReadPolicyFacts(const char *qual_tree, const char *check_tree, PolicyFacts *out);

// ---- policy SQL for fixes (policy_fix.cpp) ----

struct PolicySql {
  const char *qual;             // USING as written (pg_get_expr), or nullptr
  const char *check;            // WITH CHECK as written, or nullptr
  const char *qual_rewritten;   // USING with the audit's recipes applied, nullptr when unchanged
  const char *check_rewritten;
};

static_assert(std::is_trivially_destructible_v<PolicySql>);

// Deparse a policy's expressions (see policy_fix.cpp for the locking).  False
// when the policy does not exist or a relation it reads is locked right now.
bool DeparsePolicy(Oid policy_oid, PolicySql *out);

// ---- schema_guard.audit(): the checks beyond fk_index_audit() and rls_audit() ----

// What the audit reads from the catalogs once and every family of checks
// shares (audit_facts.cpp).
struct RelationFacts {
  Oid relid;             // hash key
  Oid nsp;
  Oid owner;
  Oid am;
  Oid reltype;
  Oid toast;
  TransactionId frozenxid;
  MultiXactId minmxid;
  char relkind;
  char replident;
  bool ispartition;
  bool in_scope;         // its schema is audited and no extension owns it
};

struct ConstraintFacts {
  Oid oid;
  Oid conrelid;
  Oid contypid;
  Oid nsp;
  Oid conindid;
  Oid confrelid;
  Oid conparentid;
  const char *conname;
  char contype;
  char confupdtype;
  char confdeltype;
  char confmatchtype;
  bool validated;
  bool islocal;
  bool deferrable;
  bool deferred;
  int n;                 // conkey entries (FK, PK, UNIQUE, EXCLUDE)
  const int16 *conkey;
  const int16 *confkey;  // FK only
  const Oid *pfeqop;     // FK only
};

struct AttributeKey {
  Oid relid;
  int16 attnum;
};

struct AttributeFacts {
  AttributeKey key;      // hash key
  Oid typid;
  int32 typmod;
  Oid collation;
  bool notnull;
  bool found;            // false until the pg_attribute scan met it
};

static_assert(std::is_trivially_destructible_v<RelationFacts>);
static_assert(std::is_trivially_destructible_v<ConstraintFacts>);
static_assert(std::is_trivially_destructible_v<AttributeFacts>);

// One audit() row.
struct Finding {
  CheckId check;
  const char *severity;
  Oid relid;             // InvalidOid when the object is not a relation
  const char *object;    // the index, constraint, sequence, column, function or schema
  const char *detail;
  const char *fix;       // nullptr: the fix is the team's decision
};

static_assert(std::is_trivially_destructible_v<Finding>);

struct AuditRun {
  const Oid *namespaces;         // sorted
  int n_namespaces;
  const Oid *extension_members;  // relations that belong to extensions, sorted
  int n_extension_members;
  const Oid *extension_functions;  // functions that belong to extensions, sorted
  int n_extension_functions;
  const Oid *building;           // indexes CREATE INDEX / REINDEX is building (visible to the caller), sorted
  int n_building;
  const Oid *reindexing;         // tables a REINDEX CONCURRENTLY works on (visible to the caller), sorted
  int n_reindexing;
  const CheckSet *checks;
  HTAB *relations;               // Oid -> RelationFacts, every relation
  ConstraintFacts *constraints;  // every constraint, in pg_constraint order
  int n_constraints;
  HTAB *fks_by_table;            // conrelid -> the foreign keys of that table (ForeignKeyList)
  HTAB *fks_by_referenced;       // confrelid -> the foreign keys referencing that table
  HTAB *attributes;              // AttributeKey -> AttributeFacts, the requested ones
  List *findings;                // of Finding *
};

inline bool Enabled(const AuditRun &run, CheckId check) { return !run.checks->skipped[CheckIndex(check)]; }
void Emit(AuditRun *run, CheckId check, const char *severity, Oid relid, const char *object, const char *detail,
          const char *fix);

const RelationFacts *FindRelation(const AuditRun &run, Oid relid);
// The foreign keys (indexes into run.constraints, an integer List) of a table,
// or referencing it; NIL when none.
List *ForeignKeysOf(const AuditRun &run, Oid relid);
List *ForeignKeysReferencing(const AuditRun &run, Oid relid);
bool NamespaceInScope(const AuditRun &run, Oid nsp);
bool ExtensionMember(const AuditRun &run, Oid oid);
// Ask for an attribute's facts (before ReadAttributes()).
void RequestAttribute(AuditRun *run, Oid relid, int16 attnum);
const AttributeFacts *FindAttribute(const AuditRun &run, Oid relid, int16 attnum);  // nullptr: gone

// Read the shared facts, then run every enabled check; run->findings gets the rows.
void RunAudit(AuditRun *run);

// The families (each checks Enabled() itself).  The first three run before
// the pg_attribute scan and request the attributes they need.
struct IndexPass;
IndexPass *ReadIndexes(AuditRun *run);                 // index_checks.cpp
struct KeyPass;
KeyPass *PrepareKeyChecks(AuditRun *run);              // key_checks.cpp
struct RegTypePass;
RegTypePass *PrepareRegTypeCheck(AuditRun *run);       // maintenance_checks.cpp
void ReadAttributes(AuditRun *run, RegTypePass *reg);  // audit_facts.cpp: one pg_attribute scan
void RunIndexChecks(AuditRun *run, IndexPass *pass);
void RunKeyChecks(AuditRun *run, KeyPass *pass);
void RunRegTypeCheck(AuditRun *run, RegTypePass *pass);
void NoteRegTypeAttribute(RegTypePass *pass, Oid relid, int16 attnum, Oid typid);  // during the scan
bool RegTypeCandidate(const RegTypePass *pass, Oid typid);
void RunWraparoundCheck(AuditRun *run);                // maintenance_checks.cpp
void RunSecurityChecks(AuditRun *run);                 // security_checks.cpp

// Text helpers for findings.
const char *RelationName(Oid relid);                    // schema-qualified, quoted as needed
const char *QualifiedName(Oid nsp, const char *name);   // schema.name, quoted as needed
const char *ColumnList(Oid relid, const int16 *attnums, int n);  // a, b (quoted as needed)
const char *TypeName(Oid typid, int32 typmod = -1);     // "???" for a type dropped meanwhile
// The base type of a domain (the type itself otherwise), with its typmod;
// InvalidOid for a type dropped meanwhile.
Oid BaseType(Oid typid, int32 *typmod = nullptr);

}  // namespace schema_guard::audit
