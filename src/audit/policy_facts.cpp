// What rls_audit() needs from a policy's stored USING / WITH CHECK trees,
// read from the node trees themselves (stringToNode + the backend's tree
// walkers), never from deparsed text.
#include "audit/audit.hpp"

namespace schema_guard::audit {
namespace {

struct WalkState {
  List *calls;
  int subquery_depth;
  Node *pending_parent;  // the node whose first child comes next
};

static_assert(std::is_trivially_destructible_v<WalkState>);

const char *NodeTagName(const Node *node) {
  switch (nodeTag(node)) {
    case T_FuncExpr: return "FUNCEXPR";
    case T_OpExpr: return "OPEXPR";
    case T_NullIfExpr: return "NULLIFEXPR";
    case T_CoerceViaIO: return "COERCEVIAIO";
    case T_RelabelType: return "RELABELTYPE";
    case T_BoolExpr: return "BOOLEXPR";
    case T_CoalesceExpr: return "COALESCEEXPR";
    case T_ScalarArrayOpExpr: return "SCALARARRAYOPEXPR";
    case T_CaseExpr: return "CASEEXPR";
    default: return "OTHER";
  }
}

bool IsConst(const Node *node, Oid type) {
  return node != nullptr && IsA(node, Const) && reinterpret_cast<const Const *>(node)->consttype == type;
}

bool IsConstFalse(const Node *node) {
  if (!IsConst(node, BOOLOID)) return false;
  auto *c = reinterpret_cast<const Const *>(node);
  return !c->constisnull && !DatumGetBool(c->constvalue);
}

bool ContainsVarWalker(Node *node, void *context) {
  if (node == nullptr) return false;
  if (IsA(node, Var)) return true;
  if (IsA(node, Query))
    return query_tree_walker(reinterpret_cast<Query *>(node), SG_WALKER(ContainsVarWalker), context, 0);
  return expression_tree_walker(node, SG_WALKER(ContainsVarWalker), context);
}

PolicyCall *DescribeCall(FuncExpr *call, const Node *parent, const Node *grandparent_args_next, WalkState *state) {
  auto *c = static_cast<PolicyCall *>(palloc0(sizeof(PolicyCall)));
  c->funcid = call->funcid;
  c->in_subquery = state->subquery_depth > 0;
  c->parent = parent ? NodeTagName(parent) : nullptr;
  c->has_var = -1;
  c->missing_ok = -1;
  c->nullif_empty = -1;
  if (call->funcid == F_CURRENT_SETTING_TEXT || call->funcid == F_CURRENT_SETTING_TEXT_BOOL) {
    const Node *name = static_cast<const Node *>(linitial(call->args));
    if (IsConst(name, TEXTOID) && !reinterpret_cast<const Const *>(name)->constisnull)
      c->setting = TextDatumGetCString(reinterpret_cast<const Const *>(name)->constvalue);
    if (call->funcid == F_CURRENT_SETTING_TEXT_BOOL) {
      const Node *missing_ok = static_cast<const Node *>(lsecond(call->args));
      // not a literal: it may be true
      c->missing_ok = IsConst(missing_ok, BOOLOID) ? IsConstTrue(missing_ok) : 1;
      c->nullif_empty = grandparent_args_next != nullptr && IsEmptyTextConst(grandparent_args_next);
    } else {
      c->nullif_empty = 0;
    }
  } else if (call->funcid >= FirstNormalObjectId) {
    c->has_var = ContainsVar(reinterpret_cast<Node *>(call->args));
  }
  return c;
}

bool CollectCalls(Node *node, void *context) {
  if (node == nullptr) return false;
  auto *state = static_cast<WalkState *>(context);
  if (IsA(node, List)) {  // transparent: its first element is the parent's first child
    return expression_tree_walker(node, SG_WALKER(CollectCalls), context);
  }
  Node *parent = state->pending_parent;
  state->pending_parent = nullptr;
  if (IsA(node, Query)) {
    state->subquery_depth++;
    const bool stop = query_tree_walker(reinterpret_cast<Query *>(node), SG_WALKER(CollectCalls), context, 0);
    state->subquery_depth--;
    state->pending_parent = nullptr;
    return stop;
  }
  if (IsA(node, FuncExpr)) {
    // NULLIF(call, '') : the sibling after the call in the NULLIF's arguments
    const Node *next_sibling = nullptr;
    if (parent != nullptr && IsA(parent, NullIfExpr)) {
      List *args = reinterpret_cast<NullIfExpr *>(parent)->args;
      if (list_length(args) == 2 && linitial(args) == node) next_sibling = static_cast<Node *>(lsecond(args));
    }
    state->calls = lappend(state->calls, DescribeCall(reinterpret_cast<FuncExpr *>(node), parent, next_sibling, state));
  }
  state->pending_parent = node;
  const bool stop = expression_tree_walker(node, SG_WALKER(CollectCalls), context);
  state->pending_parent = nullptr;
  return stop;
}

// Always true, judged on the tree: a constant true; an OR with such an arm; an
// AND of such arms; NOT of a constant false; an equality of one constant with
// itself.
bool AlwaysTrue(const Node *node) {
  if (node == nullptr) return false;
  if (IsA(node, Const)) return IsConstTrue(node);
  if (IsA(node, BoolExpr)) {
    auto *b = reinterpret_cast<const BoolExpr *>(node);
    ListCell *cell;
    switch (b->boolop) {
      case OR_EXPR:
        foreach (cell, b->args)
          if (AlwaysTrue(static_cast<Node *>(lfirst(cell)))) return true;
        return false;
      case AND_EXPR:
        foreach (cell, b->args)
          if (!AlwaysTrue(static_cast<Node *>(lfirst(cell)))) return false;
        return b->args != NIL;
      case NOT_EXPR:
        return list_length(b->args) == 1 && IsConstFalse(static_cast<Node *>(linitial(b->args)));
    }
    return false;
  }
  if (IsA(node, OpExpr)) {
    auto *op = reinterpret_cast<const OpExpr *>(node);
    if (list_length(op->args) != 2) return false;
    auto *left = static_cast<const Node *>(linitial(op->args));
    auto *right = static_cast<const Node *>(lsecond(op->args));
    if (!IsA(left, Const) || reinterpret_cast<const Const *>(left)->constisnull || !equal(left, right)) return false;
    // an equality operator (hashable or mergeable "="): c = c holds
    HeapTuple tuple = SearchSysCache1(OPEROID, ObjectIdGetDatum(op->opno));
    if (!HeapTupleIsValid(tuple)) return false;
    auto *form = reinterpret_cast<Form_pg_operator>(GETSTRUCT(tuple));
    const bool equality = strcmp(NameStr(form->oprname), "=") == 0 && (form->oprcanhash || form->oprcanmerge);
    ReleaseSysCache(tuple);
    return equality;
  }
  return false;
}

void ReadTree(const char *tree, WalkState *state, bool *always_true) {
  *always_true = false;
  if (tree == nullptr) return;
  Node *node = static_cast<Node *>(stringToNode(tree));
  *always_true = AlwaysTrue(node);
  state->pending_parent = nullptr;
  CollectCalls(node, state);
}

}  // namespace

bool IsConstTrue(const Node *node) {
  if (!IsConst(node, BOOLOID)) return false;
  auto *c = reinterpret_cast<const Const *>(node);
  return !c->constisnull && DatumGetBool(c->constvalue);
}

bool IsEmptyTextConst(const Node *node) {
  if (!IsConst(node, TEXTOID)) return false;
  auto *c = reinterpret_cast<const Const *>(node);
  return !c->constisnull && VARSIZE_ANY_EXHDR(DatumGetPointer(c->constvalue)) == 0;
}

bool ContainsVar(Node *node) { return ContainsVarWalker(node, nullptr); }

void ReadPolicyFacts(const char *qual_tree, const char *check_tree, PolicyFacts *out) {
  WalkState state = {NIL, 0, nullptr};
  ReadTree(qual_tree, &state, &out->qual_true);
  ReadTree(check_tree, &state, &out->check_true);
  out->calls = state.calls;
}

}  // namespace schema_guard::audit
