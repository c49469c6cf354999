// The SQL text of a policy's expressions, as written and as rewritten by the
// recipes of rls_audit(): current_setting(name [, false]) and a bare
// current_setting(name, true) become NULLIF(current_setting(name, true), ''),
// and calls that run per row although they do not read the row are wrapped in
// a scalar subquery, evaluated once per statement.
//
// Deparsing is the server's own deparser (ruleutils).  The policy's table is
// not opened: its column names come from the syscache (TableContext).  The
// tables a subquery of the policy reads are opened and locked by the
// deparser, so that runs only while this backend holds an ACCESS SHARE lock
// on each of them, taken with ConditionalLockRelationOid (never waiting, so
// never queued behind DDL) and released right after; then the deparser runs
// in a subtransaction that is rolled back, which drops the holds it added and
// turns a policy it cannot print into a missing fix, not a failed audit.
// When a lock is not available at once, nothing is deparsed.
#include "audit/audit.hpp"
#include "boundary.hpp"

namespace schema_guard::audit {
namespace {

struct RewriteState {
  int subquery_depth;
  bool changed;
};

static_assert(std::is_trivially_destructible_v<RewriteState>);

bool IsCurrentSetting(const Node *node) {
  if (node == nullptr || !IsA(node, FuncExpr)) return false;
  const Oid f = reinterpret_cast<const FuncExpr *>(node)->funcid;
  return f == F_CURRENT_SETTING_TEXT || f == F_CURRENT_SETTING_TEXT_BOOL;
}

bool IsMissingOkCall(const Node *node) {
  if (!IsCurrentSetting(node)) return false;
  auto *call = reinterpret_cast<const FuncExpr *>(node);
  return call->funcid == F_CURRENT_SETTING_TEXT_BOOL && IsConstTrue(static_cast<const Node *>(lsecond(call->args)));
}

// NULLIF(current_setting(name, true), '')
bool IsSafeSettingRead(const Node *node) {
  if (node == nullptr || !IsA(node, NullIfExpr)) return false;
  List *args = reinterpret_cast<const NullIfExpr *>(node)->args;
  return list_length(args) == 2 && IsMissingOkCall(static_cast<Node *>(linitial(args))) &&
         IsEmptyTextConst(static_cast<Node *>(lsecond(args)));
}

// (SELECT expr): an initplan, evaluated once per statement.
Node *ScalarSubquery(Node *expr) {
  Query *query = makeNode(Query);
  query->commandType = CMD_SELECT;
  query->querySource = QSRC_ORIGINAL;
  query->canSetTag = true;
  query->jointree = makeFromExpr(NIL, nullptr);
  query->targetList = list_make1(makeTargetEntry(reinterpret_cast<Expr *>(expr), 1, nullptr, false));
  SubLink *link = makeNode(SubLink);
  link->subLinkType = EXPR_SUBLINK;
  link->subselect = reinterpret_cast<Node *>(query);
  link->location = -1;
  return reinterpret_cast<Node *>(link);
}

Node *SafeSettingRead(const FuncExpr *call) {
  FuncExpr *read = makeFuncExpr(F_CURRENT_SETTING_TEXT_BOOL, TEXTOID,
                                list_make2(linitial(call->args), makeBoolConst(true, false)), call->funccollid,
                                call->inputcollid, COERCE_EXPLICIT_CALL);
  NullIfExpr *nullif = makeNode(NullIfExpr);
  nullif->opno = TextEqualOperator;
  nullif->opfuncid = F_TEXTEQ;
  nullif->opresulttype = TEXTOID;
  nullif->opcollid = call->funccollid;
  nullif->inputcollid = DEFAULT_COLLATION_OID;
  nullif->args = list_make2(read, makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1, CStringGetTextDatum(""), false, false));
  nullif->location = -1;
  return reinterpret_cast<Node *>(nullif);
}

// A user function that runs per row without reading the row (the
// per_row_function check): not immutable, not set-returning.
bool IsPerRowUserCall(const Node *node) {
  if (node == nullptr || !IsA(node, FuncExpr)) return false;
  auto *call = reinterpret_cast<const FuncExpr *>(node);
  if (call->funcid < FirstNormalObjectId || call->funcretset) return false;
  return func_volatile(call->funcid) != PROVOLATILE_IMMUTABLE &&
         !ContainsVar(reinterpret_cast<Node *>(call->args));
}

Node *Rewrite(Node *node, void *context) {
  if (node == nullptr) return nullptr;
  auto *state = static_cast<RewriteState *>(context);
  if (IsA(node, Query)) {
    state->subquery_depth++;
    Node *result = reinterpret_cast<Node *>(
        query_tree_mutator(reinterpret_cast<Query *>(node), SG_MUTATOR(Rewrite), context, 0));
    state->subquery_depth--;
    return result;
  }
  const bool top_level = state->subquery_depth == 0;
  if (IsSafeSettingRead(node)) {
    if (!top_level || ContainsVar(node)) return static_cast<Node *>(copyObjectImpl(node));
    state->changed = true;
    return ScalarSubquery(static_cast<Node *>(copyObjectImpl(node)));
  }
  if (IsCurrentSetting(node)) {
    auto *call = reinterpret_cast<FuncExpr *>(node);
    state->changed = true;
    Node *safe = SafeSettingRead(call);
    return top_level && !ContainsVar(safe) ? ScalarSubquery(safe) : safe;
  }
  if (top_level && IsPerRowUserCall(node)) {
    state->changed = true;
    return ScalarSubquery(static_cast<Node *>(copyObjectImpl(node)));
  }
  return expression_tree_mutator(node, SG_MUTATOR(Rewrite), context);
}

// A deparse context for the policy's table that needs no relation opened:
// one range-table entry that is not a relation (so ruleutils takes its column
// names from eref) named like the table, with the table's column names from
// the syscache (dropped columns as "").  Opening the table would build its
// relcache entry, row-security descriptor included, for every audited table.
List *TableContext(Oid relid) {
  HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (!HeapTupleIsValid(tuple)) elog(ERROR, "cache lookup failed for relation %u", relid);
  auto *rel = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple));
  char *relname = pstrdup(NameStr(rel->relname));
  const int natts = rel->relnatts;
  ReleaseSysCache(tuple);
  List *colnames = NIL;
  for (int attnum = 1; attnum <= natts; attnum++) {
    char *name = pstrdup("");
    HeapTuple att = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
    if (HeapTupleIsValid(att)) {
      auto *form = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(att));
      if (!form->attisdropped) name = pstrdup(NameStr(form->attname));
      ReleaseSysCache(att);
    }
    colnames = lappend(colnames, makeString(name));
  }
  RangeTblEntry *rte = makeNode(RangeTblEntry);
  rte->rtekind = RTE_VALUES;
  rte->eref = makeAlias(relname, colnames);
  rte->inFromCl = true;
  PlannedStmt *stmt = makeNode(PlannedStmt);
  stmt->rtable = list_make1(rte);
  return deparse_context_for_plan_tree(stmt, list_make1(relname));
}

// A system column or a whole-row reference: the non-relation context of
// TableContext cannot name those, the relation itself has to be looked at.
bool ReadsSpecialColumn(Node *node, void *context) {
  if (node == nullptr) return false;
  if (IsA(node, Var)) return reinterpret_cast<Var *>(node)->varattno <= 0;
  if (IsA(node, Query))
    return query_tree_walker(reinterpret_cast<Query *>(node), SG_WALKER(ReadsSpecialColumn), context, 0);
  return expression_tree_walker(node, SG_WALKER(ReadsSpecialColumn), context);
}

struct DeparseJob {
  Node *nodes[2];
  Oid relid;
  bool open_relation;
  PolicySql *out;
};

static_assert(std::is_trivially_destructible_v<DeparseJob>);

void RunDeparse(void *arg) {
  auto *job = static_cast<DeparseJob *>(arg);
  List *context = job->open_relation ? deparse_context_for(get_rel_name(job->relid), job->relid)
                                     : TableContext(job->relid);
  for (int i = 0; i < 2; i++) {
    if (job->nodes[i] == nullptr) continue;
    RewriteState state = {0, false};
    Node *rewritten = Rewrite(job->nodes[i], &state);
    (i == 0 ? job->out->qual : job->out->check) = deparse_expression(job->nodes[i], context, false, false);
    if (state.changed)
      (i == 0 ? job->out->qual_rewritten : job->out->check_rewritten) =
          deparse_expression(rewritten, context, false, false);
  }
}

// Does the tree read other relations (a sublink's subquery)?
bool ContainsSubLink(Node *node, void *context) {
  if (node == nullptr) return false;
  if (IsA(node, SubLink)) return true;
  return expression_tree_walker(node, SG_WALKER(ContainsSubLink), context);
}

// ACCESS SHARE on relid without waiting: true when held (by this call or
// already by the transaction); *taken says whether this call took it.
bool TryShareLock(Oid relid, bool *taken) {
  *taken = false;
  if (CheckRelationOidLockedByMe(relid, AccessShareLock, true)) return true;
  if (!ConditionalLockRelationOid(relid, AccessShareLock)) return false;
  *taken = true;
  return true;
}

}  // namespace

bool DeparsePolicy(Oid policy_oid, PolicySql *out) {
  *out = {};
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_policy_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(policy_oid));
  Relation pg_policy = table_open(PolicyRelationId, AccessShareLock);
  SysScanDesc scan = systable_beginscan(pg_policy, PolicyOidIndexId, true, nullptr, 1, &key);
  HeapTuple tuple = systable_getnext(scan);
  Oid relid = InvalidOid;
  char *trees[2] = {nullptr, nullptr};
  if (HeapTupleIsValid(tuple)) {
    relid = reinterpret_cast<Form_pg_policy>(GETSTRUCT(tuple))->polrelid;
    bool isnull;
    Datum qual = heap_getattr(tuple, Anum_pg_policy_polqual, RelationGetDescr(pg_policy), &isnull);
    if (!isnull) trees[0] = TextDatumGetCString(qual);
    Datum check = heap_getattr(tuple, Anum_pg_policy_polwithcheck, RelationGetDescr(pg_policy), &isnull);
    if (!isnull) trees[1] = TextDatumGetCString(check);
  }
  systable_endscan(scan);
  table_close(pg_policy, AccessShareLock);
  if (!OidIsValid(relid)) return false;

  Node *nodes[2] = {nullptr, nullptr};
  bool reads_others = false, open_relation = false;
  for (int i = 0; i < 2; i++) {
    if (trees[i] == nullptr) continue;
    nodes[i] = static_cast<Node *>(stringToNode(trees[i]));
    reads_others |= ContainsSubLink(nodes[i], nullptr);
    open_relation |= ReadsSpecialColumn(nodes[i], nullptr);
  }

  // the relations the deparser opens: those its subqueries read
  List *relations = open_relation ? list_make1_oid(relid) : NIL;
  if (reads_others) {
    ScanKeyData dep_keys[2];
    ScanKeyInit(&dep_keys[0], Anum_pg_depend_classid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(PolicyRelationId));
    ScanKeyInit(&dep_keys[1], Anum_pg_depend_objid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(policy_oid));
    Relation pg_depend = table_open(DependRelationId, AccessShareLock);
    SysScanDesc deps = systable_beginscan(pg_depend, DependDependerIndexId, true, nullptr, 2, dep_keys);
    while (HeapTupleIsValid(tuple = systable_getnext(deps))) {
      auto *form = reinterpret_cast<Form_pg_depend>(GETSTRUCT(tuple));
      if (form->refclassid == RelationRelationId) relations = list_append_unique_oid(relations, form->refobjid);
    }
    systable_endscan(deps);
    table_close(pg_depend, AccessShareLock);
  }

  List *taken = NIL;
  bool available = true;
  ListCell *cell;
  foreach (cell, relations) {
    bool took;
    if (!TryShareLock(lfirst_oid(cell), &took)) {
      available = false;
      break;
    }
    if (took) taken = lappend_oid(taken, lfirst_oid(cell));
  }
  if (available) {
    // the server's deparser, one context for both expressions; a policy it
    // cannot print leaves its fixes out instead of failing the audit
    DeparseJob job = {{nodes[0], nodes[1]}, relid, open_relation, out};
    if (!reads_others && !open_relation) {
      RunDeparse(&job);  // columns of the policy's table only: nothing opened, nothing locked
    } else if (!TryInSubtransaction(RunDeparse, &job)) {
      *out = {};
      available = false;
    }
  }
  // the deparser's own holds (AcquireRewriteLocks keeps them until the end of
  // the transaction) went with the discarded subtransaction; release ours
  foreach (cell, taken) UnlockRelationOid(lfirst_oid(cell), AccessShareLock);
  return available;
}

}  // namespace schema_guard::audit
