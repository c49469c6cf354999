#include "script/script_objects.hpp"

#include "boundary.hpp"

namespace schema_guard::script {

using analysis::Finding;
using policy::RuleId;

namespace {

struct Fact {
  Oid relid;           // the table the object is on
  const char *name;    // constraint, index or trigger name (nullptr: an unnamed CHECK)
  const char *column;  // not-null facts: the column proven
  List *columns;       // indexes: the key columns (char *; nullptr for an expression)
  List *expression_columns;  // indexes with an expression or a predicate: every column they read
  bool unique;         // indexes
  bool plain;          // indexes: btree on plain columns, default operator classes,
                       // collations and order, no INCLUDE, no predicate
  Node *expr;          // CHECK constraints: the raw expression
  char persistence;    // persistence facts
};

}  // namespace

struct ObjectLists {
  List *not_null_proven;      // validated CHECK constraints that prove column IS NOT NULL
  List *not_null_pending;     // ... added NOT VALID: VALIDATE CONSTRAINT proves them
  List *persistence;          // the last SET LOGGED / SET UNLOGGED of a table
  List *constrained_domains;  // (oid list) domains the script added a constraint to
  List *indexes;              // indexes the script built on existing tables
  List *triggers;             // triggers the script created on existing tables
  List *checks;               // validated CHECK constraints the script added (any expression)
  List *checks_pending;       // ... added NOT VALID
};

struct ScriptObjects : ObjectLists {};

// The lists as a transaction or savepoint found them (copies of the lists; the facts
// themselves are never changed), to go back to on ROLLBACK (TO SAVEPOINT).
struct ObjectsSnapshot : ObjectLists {};

static_assert(std::is_trivially_destructible_v<ScriptObjects>);
static_assert(std::is_trivially_destructible_v<ObjectLists>);

namespace {

// The columns a CHECK expression proves NOT NULL: `col IS NOT NULL`, alone or ANDed
// (what predicate_implied_by() proves for a simple NullTest).
void NotNullColumns(Node *expr, List **columns) {
  if (expr == nullptr) return;
  if (IsA(expr, BoolExpr) && reinterpret_cast<BoolExpr *>(expr)->boolop == AND_EXPR) {
    ListCell *lc;
    foreach (lc, reinterpret_cast<BoolExpr *>(expr)->args) NotNullColumns(static_cast<Node *>(lfirst(lc)), columns);
    return;
  }
  if (!IsA(expr, NullTest)) return;
  auto *test = reinterpret_cast<NullTest *>(expr);
  if (test->nulltesttype != IS_NOT_NULL || test->arg == nullptr || !IsA(test->arg, ColumnRef)) return;
  List *fields = reinterpret_cast<ColumnRef *>(test->arg)->fields;
  if (list_length(fields) == 1 && IsA(linitial(fields), String))
    *columns = lappend(*columns, pstrdup(strVal(linitial(fields))));
}

bool SameName(const char *a, const char *b) { return a != nullptr && b != nullptr && strcmp(a, b) == 0; }

const Fact *FindFact(List *facts, Oid relid, const char *name, const char *column) {
  ListCell *lc;
  foreach (lc, facts) {
    auto *f = static_cast<const Fact *>(lfirst(lc));
    if (f->relid == relid && (name == nullptr || SameName(f->name, name)) &&
        (column == nullptr || SameName(f->column, column)))
      return f;
  }
  return nullptr;
}

// In place: a new list per DROP CONSTRAINT would grow the script's memory with every one.
List *RemoveFacts(List *facts, Oid relid, const char *name) {
  ListCell *lc;
  foreach (lc, facts) {
    auto *f = static_cast<Fact *>(lfirst(lc));
    if (f->relid == relid && SameName(f->name, name)) facts = foreach_delete_current(facts, lc);
  }
  return facts;
}

Fact *NewFact(Oid relid, const char *name) {
  auto *f = static_cast<Fact *>(palloc0(sizeof(Fact)));
  f->relid = relid;
  f->name = name ? pstrdup(name) : nullptr;
  return f;
}

bool HasFinding(const analysis::StatementAnalysis *result, RuleId rule, Oid relid, const char *what) {
  ListCell *lc;
  foreach (lc, result->findings) {
    auto *f = static_cast<const Finding *>(lfirst(lc));
    if (f->rule == rule && f->relid == relid && SameName(f->what, what)) return true;
  }
  return false;
}

void RemoveFinding(analysis::StatementAnalysis *result, RuleId rule, Oid relid, const char *what) {
  List *kept = NIL;
  ListCell *lc;
  foreach (lc, result->findings) {
    auto *f = static_cast<Finding *>(lfirst(lc));
    if (!(f->rule == rule && f->relid == relid && SameName(f->what, what))) kept = lappend(kept, f);
  }
  result->findings = kept;
}

bool HasFindingOf(const analysis::StatementAnalysis *result, RuleId rule, Oid relid) {
  ListCell *lc;
  foreach (lc, result->findings) {
    auto *f = static_cast<const Finding *>(lfirst(lc));
    if (f->rule == rule && f->relid == relid) return true;
  }
  return false;
}

const Finding *FindingOf(const analysis::StatementAnalysis *result, RuleId rule, Oid relid) {
  ListCell *lc;
  foreach (lc, result->findings) {
    auto *f = static_cast<const Finding *>(lfirst(lc));
    if (f->rule == rule && f->relid == relid) return f;
  }
  return nullptr;
}

void RemoveFindingsOf(analysis::StatementAnalysis *result, RuleId rule, Oid relid) {
  List *kept = NIL;
  ListCell *lc;
  foreach (lc, result->findings) {
    auto *f = static_cast<Finding *>(lfirst(lc));
    if (!(f->rule == rule && f->relid == relid)) kept = lappend(kept, f);
  }
  result->findings = kept;
}

bool list_member_string(List *list, const char *s) {
  ListCell *lc;
  foreach (lc, list)
    if (SameName(static_cast<const char *>(lfirst(lc)), s)) return true;
  return false;
}

// The column names an index expression or predicate reads.
bool ColumnRefWalker(Node *node, void *context) {
  if (node == nullptr) return false;
  if (IsA(node, ColumnRef)) {
    List *fields = reinterpret_cast<ColumnRef *>(node)->fields;
    if (fields != NIL && IsA(llast(fields), String)) {
      auto *columns = static_cast<List **>(context);
      *columns = lappend(*columns, pstrdup(strVal(llast(fields))));
    }
    return false;
  }
  return raw_expression_tree_walker(node, SG_WALKER(ColumnRefWalker), context);
}

bool LockTargeted(const analysis::StatementAnalysis *result, Oid relid) {
  ListCell *lc;
  foreach (lc, result->lock_targets)
    if (static_cast<const analysis::LockTarget *>(lfirst(lc))->relid == relid) return true;
  return false;
}

struct TypeLookup {
  TypeName *name;
  Oid type;
};

void LookupType(void *arg) {
  auto *t = static_cast<TypeLookup *>(arg);
  t->type = LookupTypeNameOid(nullptr, t->name, true);
}

Oid TypeOid(TypeName *name) {
  TypeLookup lookup = {name, InvalidOid};
  if (name == nullptr || !TryInSubtransaction(LookupType, &lookup)) return InvalidOid;
  return lookup.type;
}

bool NotNullKnown(const ScriptObjects *objects, Oid relid, const char *column) {
  return (objects != nullptr && FindFact(objects->not_null_proven, relid, nullptr, column) != nullptr) ||
         analysis::ColumnNotNullProven(relid, column);
}

// ------------------------------------------------------------ ATTACH PARTITION

// The script's CHECK expressions are cooked as PostgreSQL cooks a CHECK constraint
// (cookConstraint()), with the table's columns resolved by name.
Node *ColumnOfRelation(ParseState *pstate, ColumnRef *cref) {
  auto *rel = static_cast<Relation>(pstate->p_ref_hook_state);
  if (list_length(cref->fields) != 1 || !IsA(linitial(cref->fields), String)) return nullptr;
  const char *name = strVal(linitial(cref->fields));
  const TupleDesc desc = RelationGetDescr(rel);
  for (int i = 0; i < desc->natts; i++) {
    const Form_pg_attribute att = TupleDescAttr(desc, i);
    if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
      return reinterpret_cast<Node *>(makeVar(1, att->attnum, att->atttypid, att->atttypmod, att->attcollation, 0));
  }
  return nullptr;  // PostgreSQL's own resolution then fails: nothing is proven
}

// check() runs no code: eval_const_expressions() calls every immutable function of an
// expression with constant arguments, a user's plpgsql one included (as check()'s
// caller, whose locks and NOTICEs it would take and send).  Only the built-in immutable
// functions, operators, casts and type I/O functions are folded.
bool UserFunction(Oid func_id, void *) { return func_id >= FirstNormalObjectId; }

bool UserFunctionWalker(Node *node, void *context) {
  if (node == nullptr) return false;
  if (check_functions_in_node(node, UserFunction, context)) return true;
  return expression_tree_walker(node, SG_WALKER(UserFunctionWalker), context);
}

bool RunsCode(Node *expr) { return contain_mutable_functions(expr) || UserFunctionWalker(expr, nullptr); }

constexpr const char *kRunsCode =
    "check() could not prove the bound: the bound or a CHECK constraint calls a function a user created or one that "
    "is not immutable, which check() does not run.";

// The ANDed clauses of a cooked CHECK expression, folded; a clause whose folding would
// run code is left out (nothing is proven from it), and *refused says so.
List *CookedClauses(Node *expr, bool *refused = nullptr) {
  List *clauses = make_ands_implicit(canonicalize_qual(reinterpret_cast<Expr *>(expr), true));
  List *folded = NIL;
  ListCell *lc;
  foreach (lc, clauses) {
    Node *clause = static_cast<Node *>(lfirst(lc));
    if (RunsCode(clause)) {
      if (refused != nullptr) *refused = true;
      continue;
    }
    folded = lappend(folded, eval_const_expressions(nullptr, clause));
  }
  return folded;
}

// A bound value transformPartitionBound() turns into a Const without running anything:
// a literal, a literal cast to a built-in type that is not a domain, MINVALUE, MAXVALUE.
bool PlainBoundValue(Node *value) {
  if (value == nullptr) return false;
  if (IsA(value, A_Const)) return true;
  if (IsA(value, ColumnRef)) {
    List *fields = reinterpret_cast<ColumnRef *>(value)->fields;
    return list_length(fields) == 1 && IsA(linitial(fields), String) &&
           (strcmp(strVal(linitial(fields)), "minvalue") == 0 || strcmp(strVal(linitial(fields)), "maxvalue") == 0);
  }
  return false;  // a TypeCast is checked with the catalog (PlainBound)
}

struct AttachProof {
  Oid parent;
  Oid attached;
  PartitionBoundSpec *bound;
  List *script_checks;  // of Node *: raw CHECK expressions the script validated on `attached`
  bool implied;
  bool runs_code;       // not proven: it would have run a user's or a non-immutable function
};

// Is every value of the script's bound plain (PlainBoundValue, or a literal cast to a
// built-in base type), and the parent's key of built-in base types (a domain's CHECK
// would run when the value is coerced to it)?
bool PlainBound(Relation parent, PartitionBoundSpec *bound) {
  PartitionKey key = RelationGetPartitionKey(parent);
  if (key == nullptr) return false;
  auto builtin_base = [](Oid type) {
    return OidIsValid(type) && type < FirstNormalObjectId && get_typtype(type) != TYPTYPE_DOMAIN;
  };
  for (int i = 0; i < key->partnatts; i++)
    if (!builtin_base(key->parttypid[i])) return false;
  List *values = list_concat_copy(bound->listdatums, bound->lowerdatums);
  values = list_concat(values, bound->upperdatums);
  ListCell *lc;
  foreach (lc, values) {
    Node *value = static_cast<Node *>(lfirst(lc));
    if (value != nullptr && IsA(value, TypeCast)) {
      auto *cast = reinterpret_cast<TypeCast *>(value);
      if (cast->arg == nullptr || !IsA(cast->arg, A_Const)) return false;
      Oid type = InvalidOid;
      int32 typmod = -1;
      typenameTypeIdAndMod(nullptr, cast->typeName, &type, &typmod);
      if (!builtin_base(type)) return false;
      continue;
    }
    if (!PlainBoundValue(value)) return false;
  }
  return true;
}

// ConstraintImpliedByRelConstraint() (PartConstraintImpliedByRelConstraint()) for the
// partition bound, with the script's validated CHECK constraints added to the table's
// own NOT NULL and validated CHECK constraints.
void ProveAttach(void *arg) {
  auto *p = static_cast<AttachProof *>(arg);
  Relation parent = RelationIdGetRelation(p->parent);
  if (parent == nullptr) return;
  Relation rel = RelationIdGetRelation(p->attached);
  if (rel == nullptr || rel->rd_rel->relkind != RELKIND_RELATION) {
    if (rel != nullptr) RelationClose(rel);
    RelationClose(parent);
    return;
  }
  auto give_up = [&]() {
    p->runs_code = true;
    RelationClose(rel);
    RelationClose(parent);
  };
  if (!PlainBound(parent, p->bound)) return give_up();
  ParseState *pstate = make_parsestate(nullptr);
  PartitionBoundSpec *bound =
      transformPartitionBound(pstate, parent, static_cast<PartitionBoundSpec *>(copyObjectImpl(p->bound)));
  List *constraint = list_concat_copy(get_qual_from_partbound(parent, bound), RelationGetPartitionQual(parent));
  if (RunsCode(reinterpret_cast<Node *>(constraint))) return give_up();
  constraint = reinterpret_cast<List *>(eval_const_expressions(nullptr, reinterpret_cast<Node *>(constraint)));
  constraint = reinterpret_cast<List *>(canonicalize_qual(reinterpret_cast<Expr *>(constraint), true));
  constraint = map_partition_varattnos(list_make1(make_ands_explicit(constraint)), 1, rel, parent);
  List *known = NIL;
  const TupleDesc desc = RelationGetDescr(rel);
  for (int i = 0; i < desc->natts; i++) {
    const Form_pg_attribute att = TupleDescAttr(desc, i);
    if (att->attisdropped || !att->attnotnull) continue;
    NullTest *test = makeNode(NullTest);
    test->arg = reinterpret_cast<Expr *>(makeVar(1, att->attnum, att->atttypid, att->atttypmod, att->attcollation, 0));
    test->nulltesttype = IS_NOT_NULL;
    test->argisrow = false;
    test->location = -1;
    known = lappend(known, test);
  }
  if (desc->constr != nullptr)
    for (int i = 0; i < desc->constr->num_check; i++)
      if (desc->constr->check[i].ccvalid)
        known = list_concat(known, CookedClauses(static_cast<Node *>(stringToNode(desc->constr->check[i].ccbin)),
                                                 &p->runs_code));
  ListCell *lc;
  foreach (lc, p->script_checks) {
    ParseState *cpstate = make_parsestate(nullptr);
    cpstate->p_pre_columnref_hook = ColumnOfRelation;
    cpstate->p_ref_hook_state = rel;
    Node *expr = transformExpr(cpstate, static_cast<Node *>(copyObjectImpl(lfirst(lc))), EXPR_KIND_CHECK_CONSTRAINT);
    expr = coerce_to_boolean(cpstate, expr, "CHECK");
    assign_expr_collations(cpstate, expr);
    known = list_concat(known, CookedClauses(expr, &p->runs_code));
  }
  p->implied = predicate_implied_by(constraint, known, true);
  RelationClose(rel);
  RelationClose(parent);
}

// Would the parent's partitioned index be matched by a plain index the script built on
// the table (CompareIndexInfo() for the simple case: the same plain key columns,
// btree, the default operator families, collations and order, no INCLUDE, no predicate,
// the same uniqueness, and no constraint on the parent's index)?
bool ScriptIndexMatches(Oid parent, Oid parent_index, const Fact *index) {
  if (!index->plain || OidIsValid(get_relation_idx_constraint_oid(parent, parent_index))) return false;
  Relation irel = RelationIdGetRelation(parent_index);
  if (irel == nullptr) return false;
  bool match = irel->rd_rel->relam == BTREE_AM_OID && irel->rd_index->indisunique == index->unique &&
               irel->rd_index->indnkeyatts == irel->rd_index->indnatts &&
               irel->rd_index->indnatts == list_length(index->columns) && RelationGetIndexExpressions(irel) == NIL &&
               RelationGetIndexPredicate(irel) == NIL && !irel->rd_index->indnullsnotdistinct;
  for (int i = 0; match && i < irel->rd_index->indnatts; i++) {
    const AttrNumber attnum = irel->rd_index->indkey.values[i];
    const char *column = attnum > 0 ? get_attname(parent, attnum, true) : nullptr;
    Oid type = InvalidOid, collation = InvalidOid;
    int32 typmod = -1;
    if (column != nullptr) get_atttypetypmodcoll(parent, attnum, &type, &typmod, &collation);
    match = column != nullptr && SameName(column, static_cast<const char *>(list_nth(index->columns, i))) &&
            irel->rd_indoption[i] == 0 && irel->rd_indcollation[i] == collation && OidIsValid(type);
    if (match) {
      const Oid opclass = analysis::DefaultOpclass(type, BTREE_AM_OID);
      match = OidIsValid(opclass) && get_opclass_family(opclass) == irel->rd_opfamily[i];
    }
  }
  RelationClose(irel);
  return match;
}

struct AttachIndexes {
  Oid parent;
  Oid attached;
  const char *reported;  // the parent's indexes the analysis says are built: "a, b"
  List *script_indexes;  // of const Fact *
  bool all_matched;
};

void MatchAttachIndexes(void *arg) {
  auto *p = static_cast<AttachIndexes *>(arg);
  List *names = NIL;
  if (!SplitIdentifierString(pstrdup(p->reported), ',', &names) || names == NIL) return;
  List *claimed = NIL;
  ListCell *lc;
  foreach (lc, names) {
    const Oid index = get_relname_relid(static_cast<const char *>(lfirst(lc)), get_rel_namespace(p->parent));
    if (!OidIsValid(index)) return;
    bool found = false;
    ListCell *ic;
    foreach (ic, p->script_indexes) {
      auto *fact = static_cast<const Fact *>(lfirst(ic));
      if (list_member_ptr(claimed, fact) || !ScriptIndexMatches(p->parent, index, fact)) continue;
      claimed = lappend(claimed, const_cast<Fact *>(fact));
      found = true;
      break;
    }
    if (!found) return;
  }
  p->all_matched = true;
}

// ATTACH PARTITION after the script prepared the table: a validated CHECK that implies
// the bound (no scan), the parent's indexes built on it (none built under the lock).
void AdjustAttach(const ScriptObjects *objects, Oid parent, PartitionCmd *pc, analysis::StatementAnalysis *result) {
  if (pc == nullptr || pc->name == nullptr || pc->bound == nullptr) return;
  const Oid attached = RangeVarGetRelid(pc->name, NoLock, true);
  if (!OidIsValid(attached)) return;
  List *checks = NIL, *indexes = NIL;
  ListCell *lc;
  foreach (lc, objects->checks)
    if (static_cast<const Fact *>(lfirst(lc))->relid == attached)
      checks = lappend(checks, static_cast<const Fact *>(lfirst(lc))->expr);
  foreach (lc, objects->indexes)
    if (static_cast<const Fact *>(lfirst(lc))->relid == attached) indexes = lappend(indexes, lfirst(lc));
  if (checks != NIL && HasFindingOf(result, RuleId::AttachPartitionScan, attached)) {
    AttachProof proof = {parent, attached, pc->bound, checks, false, false};
    if (TryInSubtransaction(ProveAttach, &proof) && proof.implied) {
      RemoveFindingsOf(result, RuleId::AttachPartitionScan, attached);
    } else if (proof.runs_code) {
      ListCell *fc;
      foreach (fc, result->findings) {
        auto *f = static_cast<Finding *>(lfirst(fc));
        if (f->rule == RuleId::AttachPartitionScan && f->relid == attached)
          f->reason = f->reason ? psprintf("%s %s", f->reason, kRunsCode) : kRunsCode;
      }
    }
  }
  const Finding *build = FindingOf(result, RuleId::AttachPartitionIndexBuild, attached);
  if (indexes != NIL && build != nullptr && build->reason != nullptr) {
    // the analysis names the parent's indexes it builds: "... matches the parent's a, b (same ..."
    const char *from = strstr(build->reason, "the parent's ");
    const char *to = from ? strstr(from, " (same columns") : nullptr;
    if (to != nullptr) {
      from += strlen("the parent's ");
      AttachIndexes match = {parent, attached, pnstrdup(from, to - from), indexes, false};
      if (TryInSubtransaction(MatchAttachIndexes, &match) && match.all_matched)
        RemoveFindingsOf(result, RuleId::AttachPartitionIndexBuild, attached);
    }
  }
}

void AdjustAlterTable(const ScriptObjects *objects, AlterTableStmt *stmt, Oid relid,
                      analysis::StatementAnalysis *result) {
  const char relkind = get_rel_relkind(relid);
  const LOCKMODE lock = AlterTableGetLockLevel(stmt->cmds);
  ListCell *lc;
  foreach (lc, stmt->cmds) {
    auto *cmd = static_cast<AlterTableCmd *>(lfirst(lc));
    switch (cmd->subtype) {
      case AT_SetNotNull: {
        // A CHECK (col IS NOT NULL) the script validated proves it: no scan.
        if (cmd->name == nullptr || FindFact(objects->not_null_proven, relid, nullptr, cmd->name) == nullptr) break;
        RemoveFinding(result, RuleId::SetNotNullScan, relid,
                      psprintf("SET NOT NULL on column %s", quote_identifier(cmd->name)));
        break;
      }
      case AT_SetLogged:
      case AT_SetUnLogged: {
        const Fact *set = FindFact(objects->persistence, relid, nullptr, nullptr);
        if (set == nullptr || relkind != RELKIND_RELATION) break;
        const char wanted = cmd->subtype == AT_SetLogged ? RELPERSISTENCE_PERMANENT : RELPERSISTENCE_UNLOGGED;
        const char *what = cmd->subtype == AT_SetLogged ? "SET LOGGED" : "SET UNLOGGED";
        if (set->persistence == wanted) RemoveFinding(result, RuleId::SetPersistenceRewrite, relid, what);
        else if (!HasFinding(result, RuleId::SetPersistenceRewrite, relid, what))
          analysis::AddFinding(result, RuleId::SetPersistenceRewrite, relid, lock, analysis::kRewrite, what);
        break;
      }
      case AT_AddColumn: {
        auto *def = reinterpret_cast<ColumnDef *>(cmd->def);
        if (def == nullptr || !IsA(def, ColumnDef) || def->colname == nullptr || objects->constrained_domains == NIL)
          break;
        const Oid type = TypeOid(def->typeName);
        if (!OidIsValid(type) || !list_member_oid(objects->constrained_domains, type)) break;
        const char *what = psprintf("column %s", quote_identifier(def->colname));
        if (!HasFinding(result, RuleId::AddColumnRewrite, relid, what))
          analysis::AddFinding(result, RuleId::AddColumnRewrite, relid, lock, analysis::kRewrite, what,
                               "The column's type is a domain with constraints, checked for every existing row.");
        break;
      }
      case AT_AddConstraint: {
        // PRIMARY KEY USING an index the script built: nullable key columns are checked.
        auto *con = reinterpret_cast<Constraint *>(cmd->def);
        if (con == nullptr || !IsA(con, Constraint) || con->contype != CONSTR_PRIMARY || con->indexname == nullptr)
          break;
        if (OidIsValid(get_relname_relid(con->indexname, get_rel_namespace(relid)))) break;  // the analysis saw it
        const Fact *index = FindFact(objects->indexes, relid, con->indexname, nullptr);
        if (index == nullptr || !index->unique) break;
        ListCell *cc;
        foreach (cc, index->columns) {
          const char *column = static_cast<const char *>(lfirst(cc));
          if (column == nullptr || NotNullKnown(objects, relid, column)) continue;
          analysis::AddFinding(result, RuleId::SetNotNullScan, relid, lock, analysis::kScan,
                               psprintf("ADD PRIMARY KEY USING INDEX on nullable column %s", quote_identifier(column)));
          break;
        }
        break;
      }
      case AT_AttachPartition:
        AdjustAttach(objects, relid, reinterpret_cast<PartitionCmd *>(cmd->def), result);
        break;
      case AT_AlterColumnType: {
        // An index the script built whose expression or predicate reads the column is
        // always built again (CheckIndexCompatible() does not assess them).
        if (cmd->name == nullptr || HasFindingOf(result, RuleId::AlterColumnTypeRewrite, relid) ||
            HasFindingOf(result, RuleId::AlterColumnTypeIndexRebuild, relid))
          break;
        const char *rebuilt = nullptr;
        ListCell *ic;
        foreach (ic, objects->indexes) {
          auto *index = static_cast<const Fact *>(lfirst(ic));
          if (index->relid != relid || !list_member_string(index->expression_columns, cmd->name)) continue;
          if (get_relname_relid(index->name, get_rel_namespace(relid)) != InvalidOid) continue;  // in the catalog
          rebuilt = rebuilt ? psprintf("%s, %s", rebuilt, quote_identifier(index->name)) : quote_identifier(index->name);
        }
        if (rebuilt != nullptr)
          analysis::AddFinding(result, RuleId::AlterColumnTypeIndexRebuild, relid, lock, analysis::kIndexBuild,
                               psprintf("column %s", quote_identifier(cmd->name)),
                               psprintf("The heap is kept, but these indexes are built again: %s.", rebuilt));
        break;
      }
      default:
        break;
    }
  }
}

void TrackAlterTable(ScriptObjects *objects, AlterTableStmt *stmt, Oid relid) {
  ListCell *lc;
  foreach (lc, stmt->cmds) {
    auto *cmd = static_cast<AlterTableCmd *>(lfirst(lc));
    switch (cmd->subtype) {
      case AT_AddConstraint: {
        auto *con = reinterpret_cast<Constraint *>(cmd->def);
        if (con == nullptr || !IsA(con, Constraint) || con->contype != CONSTR_CHECK || !SG_CONSTRAINT_ENFORCED(con))
          break;
        Fact *check = NewFact(relid, con->conname);
        check->expr = static_cast<Node *>(copyObjectImpl(con->raw_expr));
        if (con->skip_validation) objects->checks_pending = lappend(objects->checks_pending, check);
        else objects->checks = lappend(objects->checks, check);
        List *columns = NIL;
        NotNullColumns(con->raw_expr, &columns);
        ListCell *cc;
        foreach (cc, columns) {
          Fact *f = NewFact(relid, con->conname);
          f->column = static_cast<const char *>(lfirst(cc));
          if (con->skip_validation) objects->not_null_pending = lappend(objects->not_null_pending, f);
          else objects->not_null_proven = lappend(objects->not_null_proven, f);
        }
        break;
      }
      case AT_ValidateConstraint: {
        ListCell *pc;
        foreach (pc, objects->not_null_pending) {
          auto *f = static_cast<Fact *>(lfirst(pc));
          if (f->relid == relid && SameName(f->name, cmd->name))
            objects->not_null_proven = lappend(objects->not_null_proven, f);
        }
        objects->not_null_pending = RemoveFacts(objects->not_null_pending, relid, cmd->name);
        foreach (pc, objects->checks_pending) {
          auto *f = static_cast<Fact *>(lfirst(pc));
          if (f->relid == relid && SameName(f->name, cmd->name)) objects->checks = lappend(objects->checks, f);
        }
        objects->checks_pending = RemoveFacts(objects->checks_pending, relid, cmd->name);
        break;
      }
      case AT_DropConstraint:
        objects->not_null_proven = RemoveFacts(objects->not_null_proven, relid, cmd->name);
        objects->not_null_pending = RemoveFacts(objects->not_null_pending, relid, cmd->name);
        objects->checks = RemoveFacts(objects->checks, relid, cmd->name);
        objects->checks_pending = RemoveFacts(objects->checks_pending, relid, cmd->name);
        break;
      case AT_SetLogged:
      case AT_SetUnLogged: {
        objects->persistence = RemoveFacts(objects->persistence, relid, "");
        Fact *f = NewFact(relid, "");
        f->persistence = cmd->subtype == AT_SetLogged ? RELPERSISTENCE_PERMANENT : RELPERSISTENCE_UNLOGGED;
        objects->persistence = lappend(objects->persistence, f);
        break;
      }
      default:
        break;
    }
  }
}

}  // namespace

bool SplitObjectOnRelation(Node *object, ObjectOnRelation *out) {
  if (object == nullptr || !IsA(object, List) || list_length(castNode(List, object)) < 2) return false;
  List *names = castNode(List, object);
  out->relation_names = list_truncate(list_copy(names), list_length(names) - 1);
  out->name = strVal(llast(names));
  return true;
}

void AdjustForScriptObjects(const ScriptObjects *objects, Node *stmt, Oid relid, analysis::StatementAnalysis *result) {
  if (objects == nullptr || !OidIsValid(relid)) return;
  switch (nodeTag(stmt)) {
    case T_AlterTableStmt:
      AdjustAlterTable(objects, reinterpret_cast<AlterTableStmt *>(stmt), relid, result);
      break;
    case T_DropStmt: {
      // DROP TRIGGER of a trigger the script created: RemoveTriggerById() locks its
      // table ACCESS EXCLUSIVE.
      auto *drop = reinterpret_cast<DropStmt *>(stmt);
      if (drop->removeType != OBJECT_TRIGGER || LockTargeted(result, relid)) break;
      ListCell *lc;
      foreach (lc, drop->objects) {
        ObjectOnRelation object;
        if (SplitObjectOnRelation(static_cast<Node *>(lfirst(lc)), &object) &&
            FindFact(objects->triggers, relid, object.name, nullptr) != nullptr) {
          analysis::AddLockTarget(result, relid, AccessExclusiveLock);
          result->command = "DROP TRIGGER";
          break;
        }
      }
      break;
    }
    default:
      break;
  }
}

ObjectsSnapshot *SaveObjects(const ScriptObjects *objects, MemoryContext context) {
  MemoryContext old = MemoryContextSwitchTo(context);
  auto *snapshot = static_cast<ObjectsSnapshot *>(palloc0(sizeof(ObjectsSnapshot)));
  if (objects != nullptr)
    static_cast<ObjectLists &>(*snapshot) =
        ObjectLists{list_copy(objects->not_null_proven), list_copy(objects->not_null_pending),
                    list_copy(objects->persistence),     list_copy(objects->constrained_domains),
                    list_copy(objects->indexes),         list_copy(objects->triggers),
                    list_copy(objects->checks),          list_copy(objects->checks_pending)};
  MemoryContextSwitchTo(old);
  return snapshot;
}

namespace {
void FreeLists(ObjectLists *lists) {
  list_free(lists->not_null_proven);
  list_free(lists->not_null_pending);
  list_free(lists->persistence);
  list_free(lists->constrained_domains);
  list_free(lists->indexes);
  list_free(lists->triggers);
  list_free(lists->checks);
  list_free(lists->checks_pending);
  *lists = ObjectLists{};
}
}  // namespace

void RestoreObjects(ScriptObjects *objects, ObjectsSnapshot *snapshot) {
  if (snapshot == nullptr) return;
  if (objects != nullptr) {
    FreeLists(objects);
    static_cast<ObjectLists &>(*objects) = static_cast<ObjectLists &>(*snapshot);
    *static_cast<ObjectLists *>(snapshot) = ObjectLists{};
  }
  FreeObjectsSnapshot(snapshot);
}

void FreeObjectsSnapshot(ObjectsSnapshot *snapshot) {
  if (snapshot == nullptr) return;
  FreeLists(snapshot);
  pfree(snapshot);
}

void TrackScriptObjects(ScriptObjects **objects_in, MemoryContext context, Node *stmt, Oid relid) {
  const bool relevant =
      (OidIsValid(relid) && (IsA(stmt, AlterTableStmt) || IsA(stmt, IndexStmt) || IsA(stmt, CreateTrigStmt) ||
                             IsA(stmt, DropStmt))) ||
      IsA(stmt, AlterDomainStmt);
  if (!relevant) return;
  MemoryContext old = MemoryContextSwitchTo(context);
  if (*objects_in == nullptr) *objects_in = static_cast<ScriptObjects *>(palloc0(sizeof(ScriptObjects)));
  ScriptObjects *objects = *objects_in;
  switch (nodeTag(stmt)) {
    case T_AlterTableStmt:
      TrackAlterTable(objects, reinterpret_cast<AlterTableStmt *>(stmt), relid);
      break;
    case T_IndexStmt: {
      auto *ix = reinterpret_cast<IndexStmt *>(stmt);
      if (ix->idxname == nullptr) break;  // the analysis does not find unnamed ones either
      Fact *f = NewFact(relid, ix->idxname);
      f->unique = ix->unique;
      ListCell *lc;
      f->plain = (ix->accessMethod == nullptr || strcmp(ix->accessMethod, "btree") == 0) &&
                 ix->indexIncludingParams == NIL && ix->whereClause == nullptr && ix->excludeOpNames == NIL &&
                 !ix->nulls_not_distinct;
      foreach (lc, ix->indexParams) {
        auto *elem = static_cast<IndexElem *>(lfirst(lc));
        f->columns = lappend(f->columns, elem->name ? pstrdup(elem->name) : nullptr);
        if (elem->expr != nullptr) ColumnRefWalker(elem->expr, &f->expression_columns);
        if (elem->name == nullptr || elem->collation != NIL || elem->opclass != NIL || elem->opclassopts != NIL ||
            elem->ordering != SORTBY_DEFAULT || elem->nulls_ordering != SORTBY_NULLS_DEFAULT)
          f->plain = false;
      }
      if (ix->whereClause != nullptr) ColumnRefWalker(ix->whereClause, &f->expression_columns);
      if (f->expression_columns != NIL)  // then a change of any of its columns rebuilds it
        foreach (lc, f->columns)
          if (lfirst(lc) != nullptr) f->expression_columns = lappend(f->expression_columns, lfirst(lc));
      objects->indexes = lappend(objects->indexes, f);
      break;
    }
    case T_CreateTrigStmt: {
      auto *trig = reinterpret_cast<CreateTrigStmt *>(stmt);
      if (trig->trigname != nullptr) objects->triggers = lappend(objects->triggers, NewFact(relid, trig->trigname));
      break;
    }
    case T_DropStmt: {
      auto *drop = reinterpret_cast<DropStmt *>(stmt);
      if (drop->removeType != OBJECT_TRIGGER) break;
      ListCell *lc;
      foreach (lc, drop->objects) {
        ObjectOnRelation object;
        if (SplitObjectOnRelation(static_cast<Node *>(lfirst(lc)), &object))
          objects->triggers = RemoveFacts(objects->triggers, relid, object.name);
      }
      break;
    }
    case T_AlterDomainStmt: {
      auto *alter = reinterpret_cast<AlterDomainStmt *>(stmt);
      if (alter->subtype != 'C' && alter->subtype != 'O') break;  // ADD CONSTRAINT, SET NOT NULL
      TypeName *name = makeTypeNameFromNameList(alter->typeName);
      const Oid type = TypeOid(name);
      if (OidIsValid(type))
        objects->constrained_domains = list_append_unique_oid(objects->constrained_domains, type);
      break;
    }
    default:
      break;
  }
  MemoryContextSwitchTo(old);
}

}  // namespace schema_guard::script
