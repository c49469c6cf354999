// Foreign keys whose referencing side has no index the RI check can use.
//
// The RI check that runs for every UPDATE/DELETE of a referenced row is
// "SELECT 1 FROM ONLY fktable x WHERE $1 pfeqop fkcol [AND ...] FOR KEY SHARE OF x"
// (ri_triggers.c).  An index serves it when its leading key columns are the FK
// columns (any order), the commutated pfeqop is the equality member of each
// column's operator family with the column's own type as its input, the
// collations agree, and a predicate follows from the FK columns being NOT NULL
// (decided by the planner's own predicate_implied_by()).
//
// pg_index is read once with a heap scan into a hash table keyed by table;
// predicates and expressions are parsed only for the few indexes that need it.
#include "audit/audit.hpp"
#include "citus/citus.hpp"

namespace schema_guard::audit {
namespace {

struct IndexLite {
  Oid indexrelid;
  int16 nkeyatts;
  int16 natts;
  bool usable;      // valid, ready and live
  bool has_pred;
  bool has_exprs;
  const int16 *keys;       // natts
  const Oid *opclasses;    // nkeyatts
  const Oid *collations;   // nkeyatts
  IndexLite *next;         // the next index of the same table
};

struct TableIndexes {
  Oid relid;  // hash key
  IndexLite *first;
};

static_assert(std::is_trivially_destructible_v<IndexLite>);
static_assert(std::is_trivially_destructible_v<TableIndexes>);

// Tens of thousands of small records that live as long as the audit: carved
// from large blocks (no per-chunk header, and far fewer fresh pages touched,
// which is what a big catalog's audit spends its time on otherwise).
struct Bump {
  char *next;
  Size left;
};

void *BumpAlloc(Bump *bump, Size size) {
  size = MAXALIGN(size);
  if (size > bump->left) {
    const Size block = Max(size, Size{256 * 1024});
    bump->next = static_cast<char *>(palloc(block));
    bump->left = block;
  }
  void *result = bump->next;
  bump->next += size;
  bump->left -= size;
  return result;
}

HTAB *ReadAllIndexes() {
  HASHCTL ctl = {};
  ctl.keysize = sizeof(Oid);
  ctl.entrysize = sizeof(TableIndexes);
  ctl.hcxt = CurrentMemoryContext;
  HTAB *tables = hash_create("schema_guard fk audit indexes", 4096, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
  Bump bump = {nullptr, 0};

  Relation pg_index = table_open(IndexRelationId, AccessShareLock);
  TupleDesc desc = RelationGetDescr(pg_index);
  SysScanDesc scan = systable_beginscan(pg_index, InvalidOid, false, nullptr, 0, nullptr);
  HeapTuple tuple;
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    auto *form = reinterpret_cast<Form_pg_index>(GETSTRUCT(tuple));
    const int natts = form->indnatts, nkeyatts = form->indnkeyatts;
    // one record: the struct, then the opclasses, collations and keys
    char *mem = static_cast<char *>(BumpAlloc(&bump, MAXALIGN(sizeof(IndexLite)) + 2 * sizeof(Oid) * nkeyatts +
                                                        sizeof(int16) * natts));
    auto *ix = reinterpret_cast<IndexLite *>(mem);
    Oid *opclasses = reinterpret_cast<Oid *>(mem + MAXALIGN(sizeof(IndexLite)));
    Oid *collations = opclasses + nkeyatts;
    int16 *keys = reinterpret_cast<int16 *>(collations + nkeyatts);
    ix->indexrelid = form->indexrelid;
    ix->nkeyatts = nkeyatts;
    ix->natts = natts;
    ix->usable = form->indisvalid && form->indisready && form->indislive;
    memcpy(keys, form->indkey.values, sizeof(int16) * natts);
    // the vectors and trees follow a variable-length column: deform once
    Datum values[Natts_pg_index];
    bool nulls[Natts_pg_index];
    heap_deform_tuple(tuple, desc, values, nulls);
    memcpy(opclasses, reinterpret_cast<oidvector *>(DatumGetPointer(values[Anum_pg_index_indclass - 1]))->values,
           sizeof(Oid) * nkeyatts);
    memcpy(collations, reinterpret_cast<oidvector *>(DatumGetPointer(values[Anum_pg_index_indcollation - 1]))->values,
           sizeof(Oid) * nkeyatts);
    ix->has_pred = !nulls[Anum_pg_index_indpred - 1];
    ix->has_exprs = !nulls[Anum_pg_index_indexprs - 1];
    ix->keys = keys;
    ix->opclasses = opclasses;
    ix->collations = collations;
    bool found;
    auto *entry = static_cast<TableIndexes *>(hash_search(tables, &form->indrelid, HASH_ENTER, &found));
    ix->next = found ? entry->first : nullptr;
    entry->first = ix;
  }
  systable_endscan(scan);
  table_close(pg_index, AccessShareLock);
  return tables;
}

// The foreign key as the grading needs it.
struct ForeignKey {
  Oid conoid;
  Oid conrelid;
  Oid confrelid;
  int n;
  const int16 *conkey;     // on conrelid
  const int16 *confkey;
  const Oid *pfeqop;       // "pk = fk" operators
};

static_assert(std::is_trivially_destructible_v<ForeignKey>);

struct OpclassFacts {
  Oid method;
  Oid family;
  Oid input_type;
};

OpclassFacts LookupOpclass(Oid opclass) {
  OpclassFacts facts = {InvalidOid, InvalidOid, InvalidOid};
  HeapTuple tuple = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclass));
  if (HeapTupleIsValid(tuple)) {
    auto *form = reinterpret_cast<Form_pg_opclass>(GETSTRUCT(tuple));
    facts = {form->opcmethod, form->opcfamily, form->opcintype};
    ReleaseSysCache(tuple);
  }
  return facts;
}

bool IsEqualityMethod(Oid method) { return method == BTREE_AM_OID || method == HASH_AM_OID; }

// Can an index column with this operator class serve "$1 pfeqop column"?  The
// planner commutes the clause to "column comm $1" and needs comm in the
// column's operator family as its equality strategy; the column must be the
// operator's right input without a conversion.
bool OpclassServesProbe(const OpclassFacts &opc, Oid pfeqop) {
  if (!IsEqualityMethod(opc.method)) return false;
  if (OperatorRightType(pfeqop) != opc.input_type) return false;
  const Oid commutator = get_commutator(pfeqop);
  if (!OidIsValid(commutator)) return false;
  const int strategy = opc.method == BTREE_AM_OID ? BTEqualStrategyNumber : HTEqualStrategyNumber;
  return get_op_opfamily_strategy(commutator, opc.family) == strategy;
}

// The (operator class, pfeqop) pairs graded so far in this call: a schema has
// a handful of them, and each costs four catalog cache lookups.  Reset by
// FindUncoveredForeignKeys(), so a catalog change between calls is seen.
struct ProbeMemo {
  Oid opclass;
  Oid pfeqop;
  Oid method;
  bool served;
};
constexpr int kProbeMemoSize = 64;
ProbeMemo probe_memo[kProbeMemoSize];
int probe_memo_used = 0;

// Can an index column of this operator class serve the probe's pfeqop?
// *method: the class's access method.
bool ProbeServed(Oid opclass, Oid pfeqop, Oid *method) {
  for (int i = 0; i < probe_memo_used; i++)
    if (probe_memo[i].opclass == opclass && probe_memo[i].pfeqop == pfeqop) {
      *method = probe_memo[i].method;
      return probe_memo[i].served;
    }
  const OpclassFacts opc = LookupOpclass(opclass);
  const bool served = OpclassServesProbe(opc, pfeqop);
  if (probe_memo_used < kProbeMemoSize) probe_memo[probe_memo_used++] = {opclass, pfeqop, opc.method, served};
  *method = opc.method;
  return served;
}

char *IndexTreeText(Oid indexrelid, AttrNumber attribute) {
  HeapTuple tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexrelid));
  if (!HeapTupleIsValid(tuple)) return nullptr;
  bool isnull;
  Datum datum = SysCacheGetAttr(INDEXRELID, tuple, attribute, &isnull);
  char *tree = isnull ? nullptr : TextDatumGetCString(datum);
  ReleaseSysCache(tuple);
  return tree;
}

// Does the index predicate follow from "every FK column IS NOT NULL" (what the
// strict equality of the probe proves)?
bool PredicateImpliedByNotNull(const IndexLite &ix, Oid relid, const int16 *attnums, int n) {
  char *tree = IndexTreeText(ix.indexrelid, Anum_pg_index_indpred);
  if (tree == nullptr) return true;
  List *predicate = make_ands_implicit(static_cast<Expr *>(stringToNode(tree)));
  List *clauses = NIL;
  for (int k = 0; k < n; k++) {
    Oid type, collation;
    int32 typmod;
    get_atttypetypmodcoll(relid, attnums[k], &type, &typmod, &collation);
    NullTest *test = makeNode(NullTest);
    test->arg = reinterpret_cast<Expr *>(makeVar(1, attnums[k], type, typmod, collation, 0));
    test->nulltesttype = IS_NOT_NULL;
    test->argisrow = false;
    test->location = -1;
    clauses = lappend(clauses, test);
  }
  return predicate_implied_by(predicate, clauses, false);
}

int PositionOf(const int16 *values, int n, int16 value) {
  for (int i = 0; i < n; i++)
    if (values[i] == value) return i;
  return -1;
}

// Are the first n of values exactly the n attnums, in any order?
bool IsPermutation(const int16 *values, const int16 *attnums, int n) {
  for (int k = 0; k < n; k++)
    if (PositionOf(values, n, attnums[k]) < 0) return false;
  for (int j = 0; j < n; j++)
    if (PositionOf(attnums, n, values[j]) < 0) return false;
  return true;
}

// Grade of an index whose leading key columns (pos[k] for FK column k) are the
// FK columns, or casts of them (cast_type/cast_func per index position, 0 for
// a plain column).
FkGrade GradeLeadingIndex(const IndexLite &ix, const ForeignKey &fk, Oid relid, const int16 *attnums,
                          const int *pos, const Oid *cast_type, const Oid *cast_func) {
  for (int k = 0; k < fk.n; k++) {
    const int p = pos[k];
    Oid method;
    const bool served = ProbeServed(ix.opclasses[p], fk.pfeqop[k], &method);
    if (!IsEqualityMethod(method)) return kWrongAccessMethod;
    if (cast_type != nullptr && OidIsValid(cast_type[p])) {
      // the expression must be the very cast the probe writes: FK type -> operator input
      const Oid right = OperatorRightType(fk.pfeqop[k]);
      const Oid fk_type = get_atttype(fk.conrelid, fk.conkey[k]);
      Oid castfunc = InvalidOid;
      HeapTuple cast = SearchSysCache2(CASTSOURCETARGET, ObjectIdGetDatum(fk_type), ObjectIdGetDatum(right));
      if (HeapTupleIsValid(cast)) {
        castfunc = reinterpret_cast<Form_pg_cast>(GETSTRUCT(cast))->castfunc;
        ReleaseSysCache(cast);
      }
      if (cast_type[p] != right || !OidIsValid(castfunc) || cast_func[p] != castfunc) return kOperatorMismatch;
    }
    if (!served) return kOperatorMismatch;
  }
  for (int k = 0; k < fk.n; k++) {
    const Oid collation = ix.collations[pos[k]];
    if (OidIsValid(collation) && collation != ProbeCollation(fk.conrelid, fk.conkey[k], fk.confrelid, fk.confkey[k]))
      return kCollationDiffers;
  }
  if (ix.has_pred && !PredicateImpliedByNotNull(ix, relid, attnums, fk.n)) return kPartialNotImplied;
  if (!ix.usable) return kIndexInvalid;
  return kCovered;
}

// An expression index whose leading key columns are casts of the FK columns
// ("(a::numeric)" for an int column referencing a numeric key, which the probe
// casts too).  -1 when the leading columns are not that.
int GradeExpressionIndex(const IndexLite &ix, const ForeignKey &fk, Oid relid, const int16 *attnums) {
  const int n = fk.n;
  if (n > ix.nkeyatts) return -1;
  char *tree = IndexTreeText(ix.indexrelid, Anum_pg_index_indexprs);
  if (tree == nullptr) return -1;
  List *exprs = static_cast<List *>(stringToNode(tree));
  int16 *cols = static_cast<int16 *>(palloc(sizeof(int16) * n));
  Oid *cast_type = static_cast<Oid *>(palloc0(sizeof(Oid) * n));
  Oid *cast_func = static_cast<Oid *>(palloc0(sizeof(Oid) * n));
  int next_expr = 0;
  for (int j = 0; j < n; j++) {
    if (ix.keys[j] != 0) {
      cols[j] = ix.keys[j];
      continue;
    }
    if (next_expr >= list_length(exprs)) return -1;
    Node *e = static_cast<Node *>(list_nth(exprs, next_expr++));
    if (!IsA(e, FuncExpr)) return -1;
    auto *call = reinterpret_cast<FuncExpr *>(e);
    if ((call->funcformat != COERCE_EXPLICIT_CAST && call->funcformat != COERCE_IMPLICIT_CAST) ||
        list_length(call->args) != 1 || !IsA(linitial(call->args), Var))
      return -1;
    cols[j] = static_cast<Var *>(linitial(call->args))->varattno;
    cast_type[j] = call->funcresulttype;
    cast_func[j] = call->funcid;
  }
  if (!IsPermutation(cols, attnums, n)) return -1;
  int *pos = static_cast<int *>(palloc(sizeof(int) * n));
  for (int k = 0; k < n; k++) pos[k] = PositionOf(cols, n, attnums[k]);
  return GradeLeadingIndex(ix, fk, relid, attnums, pos, cast_type, cast_func);
}

FkGrade GradeIndex(const IndexLite &ix, const ForeignKey &fk, Oid relid, const int16 *attnums) {
  const int n = fk.n;
  if (n <= ix.nkeyatts && IsPermutation(ix.keys, attnums, n)) {
    int pos[INDEX_MAX_KEYS];
    for (int k = 0; k < n; k++) pos[k] = PositionOf(ix.keys, n, attnums[k]);
    return GradeLeadingIndex(ix, fk, relid, attnums, pos, nullptr, nullptr);
  }
  if (ix.has_exprs && PositionOf(ix.keys, Min(n, static_cast<int>(ix.nkeyatts)), 0) >= 0) {
    const int grade = GradeExpressionIndex(ix, fk, relid, attnums);
    if (grade >= 0) return static_cast<FkGrade>(grade);
  }
  bool all_in_keys = true, all_in_index = true;
  for (int k = 0; k < n; k++) {
    all_in_keys &= PositionOf(ix.keys, ix.nkeyatts, attnums[k]) >= 0;
    all_in_index &= PositionOf(ix.keys, ix.natts, attnums[k]) >= 0;
  }
  if (all_in_keys) return kNotLeading;
  if (all_in_index && ix.natts > ix.nkeyatts) return kOnlyInclude;
  return kNoIndex;
}

// The best index of relid for the FK (attnums: the FK columns in relid).
void BestIndex(HTAB *indexes, const ForeignKey &fk, Oid relid, const int16 *attnums, FkGrade *grade, Oid *index) {
  *grade = kNoIndex;
  *index = InvalidOid;
  auto *entry = static_cast<TableIndexes *>(hash_search(indexes, &relid, HASH_FIND, nullptr));
  for (IndexLite *ix = entry ? entry->first : nullptr; ix != nullptr; ix = ix->next) {
    bool overlaps = ix->has_exprs;
    for (int k = 0; k < fk.n && !overlaps; k++) overlaps = PositionOf(ix->keys, ix->natts, attnums[k]) >= 0;
    if (!overlaps) continue;
    const FkGrade g = GradeIndex(*ix, fk, relid, attnums);
    if (g < *grade || (g == *grade && (!OidIsValid(*index) || ix->indexrelid < *index))) {
      *grade = g;
      *index = ix->indexrelid;
    }
  }
}

// The elements of a one-dimensional catalog array without NULLs (int2[] or
// oid[]), copied to out (room for INDEX_MAX_KEYS); false when it is not that.
template <typename T>
bool ArrayElements(Datum datum, T *out, int *n) {
  ArrayType *array = DatumGetArrayTypeP(datum);  // copies only a short or toasted value
  *n = ARR_NDIM(array) == 1 && !ARR_HASNULL(array) ? ARR_DIMS(array)[0] : 0;
  if (*n <= 0 || *n > INDEX_MAX_KEYS) return false;
  memcpy(out, ARR_DATA_PTR(array), sizeof(T) * *n);
  if (reinterpret_cast<Pointer>(array) != DatumGetPointer(datum)) pfree(array);
  return true;
}

}  // namespace

FkFinding *FindUncoveredForeignKeys(const Oid *namespaces, int n_namespaces, int *count) {
  probe_memo_used = 0;
  HTAB *indexes = ReadAllIndexes();
  int capacity = 256;
  int found = 0;
  FkFinding *findings = static_cast<FkFinding *>(palloc(sizeof(FkFinding) * capacity));
  Bump bump = {nullptr, 0};
  // what grading one foreign key allocates (parsed predicates, partition
  // lists) is freed before the next
  MemoryContext outer = CurrentMemoryContext;
  MemoryContext scratch = AllocSetContextCreate(outer, "schema_guard fk grading", ALLOCSET_SMALL_SIZES);

  Relation pg_constraint = table_open(ConstraintRelationId, AccessShareLock);
  TupleDesc desc = RelationGetDescr(pg_constraint);
  SysScanDesc scan = systable_beginscan(pg_constraint, InvalidOid, false, nullptr, 0, nullptr);
  HeapTuple tuple;
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    auto *form = reinterpret_cast<Form_pg_constraint>(GETSTRUCT(tuple));
    if (form->contype != CONSTRAINT_FOREIGN || OidIsValid(form->conparentid) ||
        !OidInSorted(namespaces, n_namespaces, form->connamespace))
      continue;
    MemoryContextReset(scratch);
    MemoryContextSwitchTo(scratch);
    int16 conkey[INDEX_MAX_KEYS], confkey[INDEX_MAX_KEYS];
    Oid pfeqop[INDEX_MAX_KEYS];
    Datum values[Natts_pg_constraint];
    bool nulls[Natts_pg_constraint];
    heap_deform_tuple(tuple, desc, values, nulls);
    int n = 0, n_pk = 0, n_op = 0;
    if (nulls[Anum_pg_constraint_conkey - 1] || nulls[Anum_pg_constraint_confkey - 1] ||
        nulls[Anum_pg_constraint_conpfeqop - 1] ||
        !ArrayElements(values[Anum_pg_constraint_conkey - 1], conkey, &n) ||
        !ArrayElements(values[Anum_pg_constraint_confkey - 1], confkey, &n_pk) ||
        !ArrayElements(values[Anum_pg_constraint_conpfeqop - 1], pfeqop, &n_op) || n_pk != n || n_op != n) {
      MemoryContextSwitchTo(outer);
      continue;
    }
    ForeignKey fk = {form->oid, form->conrelid, form->confrelid, n, conkey, confkey, pfeqop};

    FkGrade grade;
    Oid candidate;
    BestIndex(indexes, fk, fk.conrelid, fk.conkey, &grade, &candidate);
    if (grade == kCovered || citus::HiddenFromAudits(fk.conrelid)) {
      MemoryContextSwitchTo(outer);
      continue;
    }

    const bool partitioned = get_rel_relkind(fk.conrelid) == RELKIND_PARTITIONED_TABLE;
    int n_leaves = 0, n_uncovered = 0;
    Oid *uncovered = nullptr;
    if (partitioned) {
      // each leaf needs its own usable index (the probe runs on the leaves)
      List *tree = find_all_inheritors(fk.conrelid, NoLock, nullptr);
      uncovered = static_cast<Oid *>(MemoryContextAlloc(outer, sizeof(Oid) * list_length(tree)));
      // the FK columns by name: attribute numbers differ from leaf to leaf
      char *names[INDEX_MAX_KEYS];
      for (int k = 0; k < fk.n; k++) names[k] = get_attname(fk.conrelid, fk.conkey[k], true);
      int16 leaf_attnums[INDEX_MAX_KEYS];
      ListCell *cell;
      foreach (cell, tree) {
        const Oid leaf = lfirst_oid(cell);
        if (get_rel_relkind(leaf) != RELKIND_RELATION) continue;
        n_leaves++;
        bool mapped = true;
        for (int k = 0; k < fk.n && mapped; k++) {
          leaf_attnums[k] = names[k] ? get_attnum(leaf, names[k]) : InvalidAttrNumber;
          mapped = leaf_attnums[k] != InvalidAttrNumber;
        }
        FkGrade leaf_grade = kNoIndex;
        Oid leaf_index = InvalidOid;
        if (mapped) BestIndex(indexes, fk, leaf, leaf_attnums, &leaf_grade, &leaf_index);
        if (leaf_grade != kCovered) uncovered[n_uncovered++] = leaf;
      }
    }
    MemoryContextSwitchTo(outer);
    if (partitioned && n_leaves > 0 && n_uncovered == 0) continue;  // every leaf is covered
    if (found == capacity) {
      capacity *= 2;
      findings = static_cast<FkFinding *>(repalloc(findings, sizeof(FkFinding) * capacity));
    }
    auto *keys = static_cast<int16 *>(BumpAlloc(&bump, 2 * sizeof(int16) * n));
    auto *ops = static_cast<Oid *>(BumpAlloc(&bump, sizeof(Oid) * n));
    memcpy(keys, conkey, sizeof(int16) * n);
    memcpy(keys + n, confkey, sizeof(int16) * n);
    memcpy(ops, pfeqop, sizeof(Oid) * n);
    auto *conname = static_cast<char *>(BumpAlloc(&bump, strlen(NameStr(form->conname)) + 1));
    strcpy(conname, NameStr(form->conname));
    findings[found++] = {fk.conoid, fk.conrelid, conname, fk.confrelid, form->confdeltype, form->confupdtype, n,
                         keys, keys + n, ops, grade, grade == kNoIndex ? InvalidOid : candidate,
                         partitioned, n_uncovered, uncovered};
  }
  systable_endscan(scan);
  table_close(pg_constraint, AccessShareLock);
  MemoryContextDelete(scratch);
  hash_destroy(indexes);
  *count = found;
  return findings;
}

bool OidInSorted(const Oid *oids, int n, Oid oid) {
  return n > 0 && bsearch(&oid, oids, n, sizeof(Oid), oid_cmp) != nullptr;
}

Oid OperatorRightType(Oid opno) {
  Oid left, right;
  op_input_types(opno, &left, &right);
  return right;
}

Oid ProbeCollation(Oid conrelid, AttrNumber fk_attnum, Oid confrelid, AttrNumber pk_attnum) {
  Oid type, fk_coll, pk_coll;
  int32 typmod;
  get_atttypetypmodcoll(conrelid, fk_attnum, &type, &typmod, &fk_coll);
  get_atttypetypmodcoll(confrelid, pk_attnum, &type, &typmod, &pk_coll);
  if (pk_coll != fk_coll && OidIsValid(pk_coll) && !get_collation_isdeterministic(pk_coll)) return pk_coll;
  return fk_coll;
}

}  // namespace schema_guard::audit
