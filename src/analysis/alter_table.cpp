// ALTER TABLE: the lock comes from the server's own AlterTableGetLockLevel(); the
// rewrite, scan and index-build decisions follow tablecmds.c (ATExecAddColumn,
// ATPrepAlterColumnType / ATColumnChangeRequiresRewrite, NotNullImpliedByRelConstraints,
// ATExecAttachPartition) using the functions those use.
#include "analysis/analysis.hpp"
#include "analysis/statement_catalog.hpp"
#include "boundary.hpp"

namespace schema_guard::analysis {
namespace {

using policy::RuleId;

Oid RelationAccessMethod(Oid relid) {
  HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (tup == nullptr) return InvalidOid;
  const Oid am = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup))->relam;
  ReleaseSysCache(tup);
  return am;
}

// DETAIL for a conservative finding: the probe that would have told raised an
// error while it evaluated user code (constant folding, a partition bound).
const char *CannotTell(const ErrorData *error, const char *what, const char *assumption) {
  return psprintf("The guard could not evaluate %s (%s), so it assumes %s.", what,
                  error != nullptr && error->message != nullptr ? error->message : "error", assumption);
}

const char *ColumnText(const char *colname) {
  return psprintf("column %s", quote_identifier(colname));
}

// ---------------------------------------------------------------- ADD COLUMN

bool IsSerialTypeName(const TypeName *tn) {
  // Mirrors transformColumnDefinition(): an unqualified serial type name.
  if (tn == nullptr || list_length(tn->names) != 1 || tn->pct_type) return false;
  const char *name = strVal(linitial(tn->names));
  return strcmp(name, "smallserial") == 0 || strcmp(name, "serial2") == 0 ||
         strcmp(name, "serial") == 0 || strcmp(name, "serial4") == 0 ||
         strcmp(name, "bigserial") == 0 || strcmp(name, "serial8") == 0;
}

struct DefaultProbe {
  const ColumnDef *def;
  Node *raw_default;
  bool has_default;          // a default (column's own or the domain's) exists
  bool volatile_default;     // contain_volatile_functions on the planned default
  bool null_default;         // the default is a NULL constant
  bool domain_constraints;   // the type is a domain with constraints
  bool evaluating;           // past parse analysis: user functions may run now
};

void ProbeDefault(void *arg) {
  auto *p = static_cast<DefaultProbe *>(arg);
  Oid typid;
  int32 typmod;
  typenameTypeIdAndMod(nullptr, p->def->typeName, &typid, &typmod);
  p->domain_constraints = SG_DOMAIN_HAS_CONSTRAINTS(typid);
  Node *expr = nullptr;
  if (p->raw_default != nullptr) {
    ParseState *pstate = make_parsestate(nullptr);
    expr = cookDefault(pstate, p->raw_default, typid, typmod, p->def->colname, '\0');
  } else {
    expr = get_typdefault(typid);  // what build_column_default() falls back to
  }
  if (expr == nullptr) return;
  p->has_default = true;
  p->evaluating = true;  // constant folding runs IMMUTABLE functions
  Node *planned = reinterpret_cast<Node *>(expression_planner(reinterpret_cast<Expr *>(expr)));
  p->volatile_default = contain_volatile_functions(planned);
  p->null_default = IsA(planned, Const) && reinterpret_cast<Const *>(planned)->constisnull;
}

void AnalyzeAddColumn(Oid relid, LOCKMODE lock, ColumnDef *def, bool fk_validated,
                      StatementAnalysis *out) {
  if (def == nullptr || def->colname == nullptr) return;
  HeapTuple att = SearchSysCacheAttName(relid, def->colname);
  if (att != nullptr) {  // IF NOT EXISTS skips it; otherwise PostgreSQL raises the error
    ReleaseSysCache(att);
    return;
  }
  const char *what = psprintf("column %s", quote_identifier(def->colname));

  Node *raw_default = nullptr;
  bool identity = false, generated = false, virtual_generated = false, not_null = false;
  bool check = false, foreign = false, unique_or_pk = false;
  ListCell *lc;
  foreach (lc, def->constraints) {
    auto *con = static_cast<Constraint *>(lfirst(lc));
    switch (con->contype) {
      case CONSTR_DEFAULT: raw_default = con->raw_expr; break;
      case CONSTR_IDENTITY: identity = true; break;
      case CONSTR_GENERATED: generated = true; virtual_generated = SG_GENERATED_VIRTUAL(con); break;
      case CONSTR_NOTNULL: not_null = true; break;
      case CONSTR_PRIMARY: not_null = true; unique_or_pk = true; break;
      case CONSTR_UNIQUE: unique_or_pk = true; break;
      case CONSTR_CHECK: check = true; break;
      case CONSTR_FOREIGN: foreign = true; break;
      default: break;
    }
  }

  const char *rewrite_reason = nullptr;
  DefaultProbe probe = {def, raw_default, false, false, false, false, false};
  ErrorData *probe_error = nullptr;
  if (identity) {
    rewrite_reason = "An identity column is filled for every existing row.";
  } else if (virtual_generated) {
    // computed when read: no rewrite, whatever the expression or type (a NOT NULL one
    // is still checked against every row, below)
  } else if (generated) {
    rewrite_reason = "A GENERATED ... STORED column is computed for every existing row.";
  } else if (IsSerialTypeName(def->typeName)) {
    rewrite_reason = "A serial column's default nextval() is volatile: every existing row gets its own value.";
  } else if (RunProbe(ProbeDefault, &probe, &probe_error)) {
    if (probe.has_default && probe.domain_constraints)
      rewrite_reason = "The column's type is a domain with constraints, checked for every existing row.";
    else if (probe.has_default && probe.volatile_default)
      rewrite_reason = "The default is volatile, so it is evaluated for every existing row (a non-volatile default such as now() would be stored once).";
    else if (!probe.has_default && probe.domain_constraints)
      rewrite_reason = "The column's type is a domain with constraints, checked for every existing row.";
  } else if (probe.evaluating) {
    // A function in the default raised while it was folded: it may not raise when
    // PostgreSQL runs it.  Fail closed.
    rewrite_reason = CannotTell(probe_error, "the default", "that it is volatile and every existing row is rewritten");
  } else {
    return;  // parse analysis failed: PostgreSQL will reject the column itself; let it say why
  }

  if (rewrite_reason != nullptr) {
    AddFinding(out, RuleId::AddColumnRewrite, relid, lock, kRewrite, what, rewrite_reason);
  } else {
    // No rewrite: Phase 3 still scans for NOT NULL without a stored non-null value,
    // and for inline CHECK / FOREIGN KEY validation.
    if (not_null && (!probe.has_default || probe.null_default))
      AddFinding(out, RuleId::SetNotNullScan, relid, lock, kScan,
                 psprintf("adding NOT NULL %s without a default", what),
                 "Every existing row is checked, and the statement fails if the table has rows.");
    if (check)
      AddFinding(out, RuleId::AddCheckScan, relid, lock, kScan,
                 psprintf("a CHECK constraint on new %s", what));
  }
  if (foreign) {
    ListCell *fc;
    foreach (fc, def->constraints) {
      auto *con = static_cast<Constraint *>(lfirst(fc));
      if (con->contype == CONSTR_FOREIGN) LockReferencedTable(out, LookupRelation(con->pktable));
    }
  }
  if (foreign && fk_validated)
    AddFinding(out, RuleId::AddForeignKeyScan, relid, lock, kScan,
               psprintf("a FOREIGN KEY on new %s", what));
  if (unique_or_pk)
    AddFinding(out, RuleId::AddConstraintIndexBuild, relid, lock, kIndexBuild,
               psprintf("a UNIQUE or PRIMARY KEY constraint on new %s", what));
}

// --------------------------------------------------------- ALTER COLUMN TYPE

// tablecmds.c ATColumnChangeRequiresRewrite(), which is static there; every
// function it calls is exported.
bool ColumnChangeRequiresRewrite(Node *expr, AttrNumber varattno) {
  for (;;) {
    if (IsA(expr, Var) && reinterpret_cast<Var *>(expr)->varattno == varattno) return false;
    if (IsA(expr, RelabelType)) {
      expr = reinterpret_cast<Node *>(reinterpret_cast<RelabelType *>(expr)->arg);
    } else if (IsA(expr, CoerceToDomain)) {
      auto *d = reinterpret_cast<CoerceToDomain *>(expr);
      if (SG_DOMAIN_HAS_CONSTRAINTS(d->resulttype)) return true;
      expr = reinterpret_cast<Node *>(d->arg);
    } else if (IsA(expr, FuncExpr)) {
      auto *f = reinterpret_cast<FuncExpr *>(expr);
      if ((f->funcid == F_TIMESTAMPTZ_TIMESTAMP || f->funcid == F_TIMESTAMP_TIMESTAMPTZ) &&
          !TimestampTimestampTzRequiresRewrite())
        expr = static_cast<Node *>(linitial(f->args));
      else
        return true;
    } else {
      return true;
    }
  }
}

struct TypeChangeProbe {
  Oid relid;
  const char *colname;
  ColumnDef *def;
  List *cmds;    // the statement's subcommands: every column it changes counts
  bool recurse;  // the statement reaches partitions and inheritance children
  // results
  bool known;
  bool rewrite;
  const char *rebuilt_indexes;  // indexes built again although the heap is kept
  const char *new_type;
  AttrNumber attnum;
  bool evaluating;  // past parse analysis: user functions may run now
  const ScriptColumn *script_column;  // the column is one the script added: its facts
};

// Constraints that depend on the column (pg_depend), as ATExecAlterColumnType finds
// them: validated CHECKs are re-added and re-verified by a scan; a FOREIGN KEY is
// re-added, which locks the table on its other side ACCESS EXCLUSIVE.
struct DependentConstraints {
  bool validated_check;
  List *fk_other_tables;  // of Oid
  List *fk_names;         // of char *, parallel to fk_other_tables' first appearance
};

DependentConstraints ColumnConstraints(Oid relid, AttrNumber attnum) {
  DependentConstraints result = {false, NIL, NIL};
  const ObjectAddress column = {RelationRelationId, relid, attnum};
  ForEachDependent(column, [&result, relid](const FormData_pg_depend &dep) {
    if (dep.classid != ConstraintRelationId) return;
    HeapTuple con = SearchSysCache1(CONSTROID, ObjectIdGetDatum(dep.objid));
    if (con == nullptr) return;
    auto *c = reinterpret_cast<Form_pg_constraint>(GETSTRUCT(con));
    if (c->contype == CONSTRAINT_CHECK && c->convalidated) result.validated_check = true;
    if (c->contype == CONSTRAINT_FOREIGN) {
      const Oid other = c->conrelid == relid ? c->confrelid : c->conrelid;
      if (OidIsValid(other) && other != relid && !list_member_oid(result.fk_other_tables, other)) {
        result.fk_other_tables = lappend_oid(result.fk_other_tables, other);
        result.fk_names = lappend(result.fk_names, pstrdup(NameStr(c->conname)));
      }
    }
    ReleaseSysCache(con);
  });
  return result;
}

// Does USING merely name the column (optionally cast to the new type)?  Then the
// transform is the one PostgreSQL builds without USING.
bool UsingIsPlainColumn(Node *using_expr, const char *colname, CoercionContext *ccontext) {
  Node *e = using_expr;
  *ccontext = COERCION_ASSIGNMENT;
  if (IsA(e, TypeCast)) {
    e = reinterpret_cast<TypeCast *>(e)->arg;
    *ccontext = COERCION_EXPLICIT;
  }
  if (!IsA(e, ColumnRef)) return false;
  List *fields = reinterpret_cast<ColumnRef *>(e)->fields;
  Node *last = static_cast<Node *>(llast(fields));
  return IsA(last, String) && strcmp(strVal(last), colname) == 0;
}

// ---- index reuse: tablecmds.c ATPostAlterTypeParse() -> TryReuseIndex() ->
// indexcmds.c CheckIndexCompatible().  CheckIndexCompatible() itself cannot be
// called here: it judges the index against the column's type after the change is
// in the catalog, and it opens the index.  So its decision is mirrored step by
// step, on the statement PostgreSQL re-creates the index from
// (pg_get_indexdef_string(), or pg_get_constraintdef_command() for a constraint's
// index), parsed the way ComputeIndexAttrs() parses it.

// One column whose type the statement changes.
struct NewColumnType {
  const char *colname;
  Oid type;
  Oid collation;
};

// The columns of `cmds` that change type, resolved as ATPrepAlterColumnType() does.
// Raises PostgreSQL's own error for an unknown type (callers run in a subtransaction).
List *ResolveTypeChanges(List *cmds) {
  List *changes = NIL;
  ListCell *lc;
  foreach (lc, cmds) {
    auto *cmd = static_cast<AlterTableCmd *>(lfirst(lc));
    if (cmd->subtype != AT_AlterColumnType || cmd->name == nullptr || cmd->def == nullptr ||
        !IsA(cmd->def, ColumnDef))
      continue;
    auto *def = reinterpret_cast<ColumnDef *>(cmd->def);
    auto *change = static_cast<NewColumnType *>(palloc(sizeof(NewColumnType)));
    int32 typmod;
    change->colname = cmd->name;
    typenameTypeIdAndMod(nullptr, def->typeName, &change->type, &typmod);
    change->collation = GetColumnDefCollation(nullptr, def, change->type);
    changes = lappend(changes, change);
  }
  return changes;
}

const NewColumnType *FindTypeChange(List *changes, const char *colname) {
  ListCell *lc;
  foreach (lc, changes) {
    auto *c = static_cast<const NewColumnType *>(lfirst(lc));
    if (strcmp(c->colname, colname) == 0) return c;
  }
  return nullptr;
}

List *QualifiedName(Oid nsp, const char *name) {
  return list_make2(makeString(get_namespace_name(nsp)), makeString(pstrdup(name)));
}

// Type of the index's own attribute `attno` (1-based), as stored in its tuple descriptor.
Oid IndexAttributeType(Oid indexoid, AttrNumber attno) {
  HeapTuple tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(indexoid), Int16GetDatum(attno));
  if (tup == nullptr) return InvalidOid;
  const Oid type = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(tup))->atttypid;
  ReleaseSysCache(tup);
  return type;
}

const char *OpclassText(Oid opclass) {
  HeapTuple opc = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclass));
  if (opc == nullptr) return "?";
  const char *name = quote_identifier(pstrdup(NameStr(reinterpret_cast<Form_pg_opclass>(GETSTRUCT(opc))->opcname)));
  ReleaseSysCache(opc);
  return name;
}

const char *CollationText(Oid collation) {
  if (!OidIsValid(collation)) return "none";
  const char *name = get_collation_name(collation);
  return name != nullptr ? quote_identifier(name) : "?";
}

// Would CheckIndexCompatible() accept the re-created index (same storage kept)?
// relid is the index's table, changes the columns whose type the statement changes.
// Returns nullptr when the index is kept, else why it is built again.
const char *IndexRebuildReason(Oid indexoid, Oid relid, List *changes) {
  HeapTuple tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
  if (tup == nullptr) return "it could not be read";  // vanished: cannot tell, assume a rebuild
  auto *index = reinterpret_cast<Form_pg_index>(GETSTRUCT(tup));
  // "We don't assess expressions or predicates; assume incompatibility", nor invalid indexes.
  const char *unjudged = !heap_attisnull(tup, Anum_pg_index_indexprs, nullptr) ? "it has expressions"
                         : !heap_attisnull(tup, Anum_pg_index_indpred, nullptr) ? "it is partial"
                         : !index->indisvalid                                   ? "it is invalid"
                                                                                : nullptr;
  if (unjudged != nullptr) {
    ReleaseSysCache(tup);
    return unjudged;
  }
  bool isnull;
  auto *indclass = reinterpret_cast<oidvector *>(
      DatumGetPointer(SysCacheGetAttr(INDEXRELID, tup, Anum_pg_index_indclass, &isnull)));
  auto *indcoll = reinterpret_cast<oidvector *>(
      DatumGetPointer(SysCacheGetAttr(INDEXRELID, tup, Anum_pg_index_indcollation, &isnull)));
  const int nkeys = index->indnkeyatts;
  AttrNumber keys[INDEX_MAX_KEYS];
  Oid old_class[INDEX_MAX_KEYS], old_coll[INDEX_MAX_KEYS];
  for (int i = 0; i < nkeys && i < INDEX_MAX_KEYS; i++) {
    keys[i] = index->indkey.values[i];
    old_class[i] = indclass->values[i];
    old_coll[i] = indcoll->values[i];
  }
  ReleaseSysCache(tup);

  const Oid am = RelationAccessMethod(indexoid);
  const char *amname = get_am_name(am);
  if (amname == nullptr) return "its access method could not be read";
  // A PRIMARY KEY or UNIQUE constraint is re-created from pg_get_constraintdef_command():
  // column names only, so default operator classes and the columns' collations.  Plain
  // indexes and EXCLUDE constraints are deparsed with COLLATE and operator class
  // wherever they differ from the column's defaults (ruleutils.c pg_get_indexdef_worker).
  const Oid conoid = get_index_constraint(indexoid);
  char contype = '\0';
  Oid *exclops = nullptr;
  if (OidIsValid(conoid)) {
    HeapTuple con = SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid));
    if (con == nullptr) return "its constraint could not be read";
    contype = reinterpret_cast<Form_pg_constraint>(GETSTRUCT(con))->contype;
    if (contype == CONSTRAINT_EXCLUSION) {
      Datum d = SysCacheGetAttr(CONSTROID, con, Anum_pg_constraint_conexclop, &isnull);
      if (!isnull) {
        ArrayType *arr = DatumGetArrayTypePCopy(d);
        if (ARR_NDIM(arr) == 1 && !ARR_HASNULL(arr) && ARR_ELEMTYPE(arr) == OIDOID && ARR_DIMS(arr)[0] == nkeys)
          exclops = reinterpret_cast<Oid *>(ARR_DATA_PTR(arr));
      }
    }
    ReleaseSysCache(con);
    if (contype == CONSTRAINT_EXCLUSION && exclops == nullptr) return "its exclusion operators could not be read";
  }
  const bool decorated = contype != CONSTRAINT_PRIMARY && contype != CONSTRAINT_UNIQUE;

  for (int i = 0; i < nkeys; i++) {
    if (keys[i] == 0) return "it has expressions";
    Oid oldtype, oldcoll;
    int32 oldtypmod;
    get_atttypetypmodcoll(relid, keys[i], &oldtype, &oldtypmod, &oldcoll);
    const char *colname = get_attname(relid, keys[i], true);
    if (colname == nullptr) return "its column could not be read";
    const NewColumnType *change = FindTypeChange(changes, colname);
    const Oid newtype = change ? change->type : oldtype;
    const Oid column_coll = change ? change->collation : oldcoll;

    // What the deparsed definition spells out for this key column.
    const bool has_options = decorated && get_attoptions(indexoid, i + 1) != static_cast<Datum>(0);
    const bool collation_given = decorated && OidIsValid(old_coll[i]) && old_coll[i] != oldcoll;
    const bool opclass_given =
        decorated && (has_options || DefaultOpclass(oldtype, am) != old_class[i]);

    // ComputeIndexAttrs(): the explicit collation or the column's (new) one; PostgreSQL
    // raises an error when it does not fit the type, and the statement fails anyway.
    const Oid collation = collation_given ? old_coll[i] : column_coll;
    if (type_is_collatable(newtype) != OidIsValid(collation)) return "its collation does not fit the new type";
    List *opclass_name = NIL;
    if (opclass_given) {
      HeapTuple opc = SearchSysCache1(CLAOID, ObjectIdGetDatum(old_class[i]));
      if (opc == nullptr) return "its operator class could not be read";
      auto *opcform = reinterpret_cast<Form_pg_opclass>(GETSTRUCT(opc));
      opclass_name = QualifiedName(opcform->opcnamespace, NameStr(opcform->opcname));
      ReleaseSysCache(opc);
    }
    // ResolveOpClass() raises PostgreSQL's error when the named class does not accept
    // the new type, or the type has no default class: the caller's subtransaction
    // turns that into "cannot tell".  (Without a name it is GetDefaultOpClass().)
    const Oid default_class = opclass_name == NIL ? DefaultOpclass(newtype, am) : InvalidOid;
    const Oid opclass = OidIsValid(default_class) ? default_class : ResolveOpClass(opclass_name, newtype, amname, am);
    // "Any change in operator class or collation breaks compatibility."
    if (opclass != old_class[i])
      return psprintf("it would use operator class %s instead of %s", OpclassText(opclass),
                      OpclassText(old_class[i]));
    if (collation != old_coll[i])
      return psprintf("it would use collation %s instead of %s", CollationText(collation),
                      CollationText(old_coll[i]));
    // "For polymorphic opcintype, column type changes break compatibility."
    if (IsPolymorphicType(get_opclass_input_type(opclass)) && IndexAttributeType(indexoid, i + 1) != newtype)
      return psprintf("its operator class %s is polymorphic and the key type changes", OpclassText(opclass));
    // Operator class options are deparsed verbatim and so compare equal.
    if (exclops != nullptr) {
      // "Any change in exclusion operator selections breaks compatibility."
      HeapTuple opr = SearchSysCache1(OPEROID, ObjectIdGetDatum(exclops[i]));
      if (opr == nullptr) return "its exclusion operator could not be read";
      auto *oprform = reinterpret_cast<Form_pg_operator>(GETSTRUCT(opr));
      List *opname = QualifiedName(oprform->oprnamespace, NameStr(oprform->oprname));
      ReleaseSysCache(opr);
      const Oid newop = compatible_oper_opid(opname, newtype, newtype, true);
      if (newop != exclops[i]) return "its exclusion operator changes";
      Oid left, right;
      op_input_types(newop, &left, &right);
      if ((IsPolymorphicType(left) || IsPolymorphicType(right)) && IndexAttributeType(indexoid, i + 1) != newtype)
        return "its exclusion operator is polymorphic and the key type changes";
    }
  }
  return nullptr;
}

// The indexes ATExecAlterColumnType() remembers for re-creation: those that depend
// on the column directly, and those of the constraints that depend on it (PRIMARY
// KEY, UNIQUE, EXCLUDE; a FOREIGN KEY's index belongs to the other table and stays).
List *IndexesOnColumn(Oid relid, AttrNumber attnum) {
  List *indexes = NIL;
  const ObjectAddress column = {RelationRelationId, relid, attnum};
  ForEachDependent(column, [&indexes](const FormData_pg_depend &dep) {
    Oid indexoid = InvalidOid;
    if (dep.classid == RelationRelationId && get_rel_relkind(dep.objid) == RELKIND_INDEX) {
      indexoid = dep.objid;
    } else if (dep.classid == ConstraintRelationId) {
      HeapTuple con = SearchSysCache1(CONSTROID, ObjectIdGetDatum(dep.objid));
      if (con == nullptr) return;
      const char contype = reinterpret_cast<Form_pg_constraint>(GETSTRUCT(con))->contype;
      ReleaseSysCache(con);
      if (contype == CONSTRAINT_PRIMARY || contype == CONSTRAINT_UNIQUE || contype == CONSTRAINT_EXCLUSION)
        indexoid = get_constraint_index(dep.objid);
    }
    if (OidIsValid(indexoid) && get_rel_relkind(indexoid) == RELKIND_INDEX)
      indexes = list_append_unique_oid(indexes, indexoid);
  });
  return indexes;
}

// Indexes the type change of `colname` rebuilds on relid and, when the statement
// recurses, on its partitions and inheritance children (the heap is not rewritten).
// On a partitioned table the partitions' indexes attached to a parent index are
// built again: the parent index is re-created, which creates new partition indexes.
// Returns a palloc'd list of "index (reason)", or nullptr for none.
const char *IndexesRebuiltByTypeChange(Oid relid, bool recurse, const char *colname, List *changes) {
  StringInfoData names;
  initStringInfo(&names);
  List *rels = recurse ? InheritanceTree(relid) : list_make1_oid(relid);
  const bool partitioned = get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE;
  ListCell *lc;
  foreach (lc, rels) {
    const Oid rel = lfirst_oid(lc);
    const AttrNumber attnum = get_attnum(rel, colname);
    if (attnum == InvalidAttrNumber) continue;
    ListCell *ic;
    foreach (ic, IndexesOnColumn(rel, attnum)) {
      const Oid indexoid = lfirst_oid(ic);
      const char *reason = partitioned && get_rel_relispartition(indexoid)
                               ? "its parent index on the partitioned table is re-created"
                               : IndexRebuildReason(indexoid, rel, changes);
      const char *name = get_rel_name(indexoid);
      if (reason != nullptr && name != nullptr)
        appendStringInfo(&names, "%s%s (%s)", names.len ? "; " : "", quote_identifier(name), reason);
    }
  }
  return names.len ? names.data : nullptr;
}

void ProbeTypeChange(void *arg) {
  auto *p = static_cast<TypeChangeProbe *>(arg);
  HeapTuple tup = SearchSysCacheAttName(p->relid, p->colname);
  AttrNumber attnum;
  Oid oldtype, oldcoll;
  int32 oldtypmod;
  if (tup != nullptr) {
    auto *att = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(tup));
    attnum = att->attnum;
    oldtype = att->atttypid;
    oldtypmod = att->atttypmod;
    oldcoll = att->attcollation;
    ReleaseSysCache(tup);
  } else if (p->script_column != nullptr) {
    // Not in the catalog yet: no index or constraint depends on it (attnum matches none).
    attnum = MaxHeapAttributeNumber;
    oldtype = p->script_column->type;
    oldtypmod = p->script_column->typmod;
    oldcoll = p->script_column->collation;
  } else {
    return;  // PostgreSQL reports the missing column
  }

  Oid newtype;
  int32 newtypmod;
  typenameTypeIdAndMod(nullptr, p->def->typeName, &newtype, &newtypmod);
  p->new_type = format_type_with_typemod(newtype, newtypmod);
  p->attnum = attnum;

  CoercionContext ccontext = COERCION_ASSIGNMENT;
  if (p->def->raw_default != nullptr && !UsingIsPlainColumn(p->def->raw_default, p->colname, &ccontext)) {
    // A real USING expression computes a new value for every row.
    p->known = true;
    p->rewrite = true;
    return;
  }
  ParseState *pstate = make_parsestate(nullptr);
  Node *transform = reinterpret_cast<Node *>(makeVar(1, attnum, oldtype, oldtypmod, oldcoll, 0));
  transform = coerce_to_target_type(pstate, transform, oldtype, newtype, newtypmod, ccontext,
                                    COERCE_IMPLICIT_CAST, -1);
  if (transform == nullptr) return;  // no cast: PostgreSQL raises its own error
  assign_expr_collations(pstate, transform);
  p->evaluating = true;  // constant folding may run a user-defined cast function
  transform = reinterpret_cast<Node *>(expression_planner(reinterpret_cast<Expr *>(transform)));
  p->evaluating = false;  // what follows reads the catalog only; PostgreSQL reports its errors
  p->rewrite = ColumnChangeRequiresRewrite(transform, attnum);
  if (!p->rewrite)
    p->rebuilt_indexes = IndexesRebuiltByTypeChange(p->relid, p->recurse, p->colname, ResolveTypeChanges(p->cmds));
  p->known = true;
}

void AnalyzeAlterColumnType(Oid relid, LOCKMODE lock, AlterTableStmt *stmt, AlterTableCmd *cmd,
                            StatementAnalysis *out) {
  auto *def = reinterpret_cast<ColumnDef *>(cmd->def);
  if (cmd->name == nullptr || def == nullptr || !IsA(def, ColumnDef)) return;
  TypeChangeProbe probe = {relid, cmd->name, def, stmt->cmds, stmt->relation->inh,
                           false, false, nullptr, nullptr, 0, false, FindScriptColumn(out, relid, cmd->name)};
  ErrorData *probe_error = nullptr;
  const char *rewrite_reason =
      "The new type is not binary-coercible from the old one (or a length, precision, "
      "constrained domain or the session TimeZone forces every value to be recomputed).";
  if (!RunProbe(ProbeTypeChange, &probe, &probe_error)) {
    if (!probe.evaluating) return;  // parse analysis failed: PostgreSQL reports why
    probe.known = probe.rewrite = true;  // fail closed
    rewrite_reason = CannotTell(probe_error, "the conversion", "that the table is rewritten");
  }
  if (!probe.known) return;
  const char *what = psprintf("column %s to %s", quote_identifier(cmd->name), probe.new_type);
  const DependentConstraints constraints = ColumnConstraints(relid, probe.attnum);
  ListCell *lc;
  foreach (lc, constraints.fk_other_tables)
    if (!IsExemptRelation(lfirst_oid(lc))) AddLockTarget(out, lfirst_oid(lc), AccessExclusiveLock);
  if (probe.rewrite)
    AddFinding(out, RuleId::AlterColumnTypeRewrite, relid, lock, kRewrite | kIndexBuild, what, rewrite_reason);
  else if (probe.rebuilt_indexes != nullptr)
    AddFinding(out, RuleId::AlterColumnTypeIndexRebuild, relid, lock, kIndexBuild, what,
               psprintf("The heap is kept, but these indexes are built again: %s.", probe.rebuilt_indexes));
  // A rewrite changes the FOREIGN KEY's comparison: it is validated again, which
  // scans the table on the other side under ACCESS EXCLUSIVE.
  if (probe.rewrite) {
    ListCell *nc;
    forboth (lc, constraints.fk_other_tables, nc, constraints.fk_names) {
      const Oid other = lfirst_oid(lc);
      if (IsExemptRelation(other)) continue;
      AddFinding(out, RuleId::AddForeignKeyScan, other, AccessExclusiveLock, kScan,
                 psprintf("FOREIGN KEY constraint %s again", quote_identifier(static_cast<char *>(lfirst(nc)))),
                 psprintf("Changing the type of %s re-validates the foreign key.", what));
    }
  }
  if (!probe.rewrite && constraints.validated_check)
    AddFinding(out, RuleId::AlterColumnTypeRecheck, relid, lock, kScan, what,
               "The heap is kept, but the CHECK constraints on the column are added again and "
               "verified against every row.");
}

// ------------------------------------------------------------- SET NOT NULL

// Is NOT NULL on the column already proven by a validated CHECK (or attnotnull)?
// PostgreSQL's NotNullImpliedByRelConstraints() is static; it calls the same
// exported PartConstraintImpliedByRelConstraint() machinery we call here.
bool NotNullProven(Oid relid, const char *colname) {
  HeapTuple tup = SearchSysCacheAttName(relid, colname);
  if (tup == nullptr) return true;
  auto *att = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(tup));
  if (att->attnotnull) {
    ReleaseSysCache(tup);
    return true;
  }
  NullTest *nnulltest = makeNode(NullTest);
  nnulltest->arg = reinterpret_cast<Expr *>(
      makeVar(1, att->attnum, att->atttypid, att->atttypmod, att->attcollation, 0));
  nnulltest->nulltesttype = IS_NOT_NULL;
  nnulltest->argisrow = false;
  nnulltest->location = -1;
  ReleaseSysCache(tup);
  Relation rel = RelationIdGetRelation(relid);
  if (rel == nullptr) return true;
  const bool proven = PartConstraintImpliedByRelConstraint(rel, list_make1(nnulltest));
  RelationClose(rel);
  return proven;
}

// Leaf partitions (or the table itself) whose NOT NULL would need a scan.
bool SetNotNullNeedsScan(Oid relid, const char *colname) {
  if (get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE) return !NotNullProven(relid, colname);
  ListCell *lc;
  foreach (lc, InheritanceTree(relid)) {
    const Oid child = lfirst_oid(lc);
    if (get_rel_relkind(child) == RELKIND_RELATION && !IsExemptRelation(child) &&
        !NotNullProven(child, colname))
      return true;
  }
  return false;
}

// Validation of a new FOREIGN KEY (RI_Initial_Check): one query reads every row of
// the referencing table and joins it to the referenced table on the referenced key,
// while writes to both are blocked.
void AddForeignKeyValidation(StatementAnalysis *out, Oid fkrel, LOCKMODE fklock, Oid pkrel, const char *what) {
  const char *fkname = get_rel_name(fkrel);
  const char *pkname = OidIsValid(pkrel) ? get_rel_name(pkrel) : nullptr;
  if (fkname == nullptr) return;
  AddFinding(out, RuleId::AddForeignKeyScan, fkrel, fklock, kScan, what,
             pkname != nullptr
                 ? psprintf("Every row of %s is read (a full scan) and its key looked up in the referenced "
                            "table %s, whose writes are blocked meanwhile (SHARE ROW EXCLUSIVE).",
                            quote_identifier(fkname), quote_identifier(pkname))
                 : nullptr);
  if (pkname != nullptr && pkrel != fkrel && !IsExemptRelation(pkrel))
    AddFinding(out, RuleId::AddForeignKeyScan, pkrel, ShareRowExclusiveLock, kScan, what,
               psprintf("The referenced table is not scanned row by row on its own: the validation query "
                        "joins every row of %s to it on the referenced key (index probes or a hash join, "
                        "as the planner chooses) while writes to it are blocked.",
                        quote_identifier(fkname)));
}

// ---------------------------------------------------------- ADD CONSTRAINT

void AnalyzeAddConstraint(Oid relid, LOCKMODE lock, Constraint *con, StatementAnalysis *out) {
  if (con == nullptr || !IsA(con, Constraint)) return;
  const char *name = con->conname ? psprintf(" %s", quote_identifier(con->conname)) : "";
  switch (con->contype) {
    case CONSTR_CHECK:
      if (!con->skip_validation && SG_CONSTRAINT_ENFORCED(con))
        AddFinding(out, RuleId::AddCheckScan, relid, lock, kScan, psprintf("CHECK constraint%s", name));
      break;
    case CONSTR_FOREIGN: {
      const Oid pkrel = LookupRelation(con->pktable);
      // Both tables are locked in SHARE ROW EXCLUSIVE while the check runs.
      LockReferencedTable(out, pkrel);
      if (!con->skip_validation && SG_CONSTRAINT_ENFORCED(con))
        AddForeignKeyValidation(out, relid, lock, pkrel, psprintf("FOREIGN KEY constraint%s", name));
      break;
    }
    case CONSTR_PRIMARY:
    case CONSTR_UNIQUE:
      if (con->indexname != nullptr) {
        // USING INDEX: instant, except that a primary key makes nullable columns NOT NULL.
        if (con->contype != CONSTR_PRIMARY) break;
        const Oid indexoid = get_relname_relid(con->indexname, get_rel_namespace(relid));
        if (!OidIsValid(indexoid)) break;
        HeapTuple tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
        if (tup == nullptr) break;
        auto *index = reinterpret_cast<Form_pg_index>(GETSTRUCT(tup));
        const char *nullable = nullptr;
        for (int i = 0; i < index->indnkeyatts && nullable == nullptr; i++) {
          const AttrNumber attnum = index->indkey.values[i];
          const char *attname = attnum > 0 ? get_attname(relid, attnum, true) : nullptr;
          if (attname != nullptr && !NotNullProven(relid, attname)) nullable = attname;
        }
        ReleaseSysCache(tup);
        if (nullable != nullptr)
          AddFinding(out, RuleId::SetNotNullScan, relid, lock, kScan,
                     psprintf("ADD PRIMARY KEY USING INDEX on nullable column %s", quote_identifier(nullable)));
      } else {
        AddFinding(out, RuleId::AddConstraintIndexBuild, relid, lock, kIndexBuild,
                   psprintf("%s constraint%s", con->contype == CONSTR_PRIMARY ? "PRIMARY KEY" : "UNIQUE", name));
      }
      break;
    case CONSTR_EXCLUSION:
      AddFinding(out, RuleId::AddConstraintIndexBuild, relid, lock, kIndexBuild,
                 psprintf("EXCLUDE constraint%s", name));
      break;
    case CONSTR_NOTNULL: {
      // ADD CONSTRAINT name NOT NULL column (18): checked against every row like SET
      // NOT NULL, unless NOT VALID (then VALIDATE CONSTRAINT scans later).
      if (con->skip_validation || list_length(con->keys) != 1) break;
      const char *colname = strVal(linitial(con->keys));
      if (SetNotNullNeedsScan(relid, colname))
        AddFinding(out, RuleId::SetNotNullScan, relid, lock, kScan,
                   psprintf("NOT NULL constraint%s on %s", name, ColumnText(colname)));
      break;
    }
    default:
      break;
  }
}

// ------------------------------------------- SET EXPRESSION, ALTER CONSTRAINT ENFORCED

// ALTER COLUMN ... SET EXPRESSION (17+), as ATExecSetExpression() decides: a STORED
// column is recomputed for every row (a rewrite); a VIRTUAL one (18) rewrites nothing,
// but Phase 3 checks every row when the column is NOT NULL (verify_new_notnull).
void AnalyzeSetExpression(Oid relid, LOCKMODE lock, const char *colname, StatementAnalysis *out) {
  HeapTuple att = colname != nullptr ? SearchSysCacheAttName(relid, colname) : nullptr;
  if (att == nullptr) return;  // PostgreSQL raises its own error
  const auto *form = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(att));
  const char generated = form->attgenerated;
  const bool not_null = form->attnotnull;
  ReleaseSysCache(att);
  if (generated == ATTRIBUTE_GENERATED_STORED)
    AddFinding(out, RuleId::SetExpressionRewrite, relid, lock, kRewrite,
               psprintf("the expression of stored generated %s", ColumnText(colname)));
  else if (SG_ATTGENERATED_VIRTUAL(generated) && not_null)
    AddFinding(out, RuleId::SetNotNullScan, relid, lock, kScan,
               psprintf("SET EXPRESSION on NOT NULL virtual generated %s", ColumnText(colname)));
}

// ALTER CONSTRAINT ... ENFORCED (18) on a foreign key that is NOT ENFORCED: Phase 3
// validates every row, as ADD FOREIGN KEY does.
void AnalyzeEnforceConstraint(Oid relid, LOCKMODE lock, const char *conname, StatementAnalysis *out) {
  if (conname == nullptr) return;
  const Oid conoid = get_relation_constraint_oid(relid, conname, true);
  if (!OidIsValid(conoid)) return;
  HeapTuple tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid));
  if (tup == nullptr) return;
  const auto *con = reinterpret_cast<Form_pg_constraint>(GETSTRUCT(tup));
  const bool validates = con->contype == CONSTRAINT_FOREIGN && !SG_CONENFORCED(con);
  const Oid pkrel = con->confrelid;
  ReleaseSysCache(tup);
  if (!validates) return;
  if (OidIsValid(pkrel) && !IsExemptRelation(pkrel)) AddLockTarget(out, pkrel, ShareRowExclusiveLock);
  AddForeignKeyValidation(out, relid, lock, pkrel,
                          psprintf("ALTER CONSTRAINT %s ENFORCED", quote_identifier(conname)));
}

// --------------------------------------------------------- ATTACH PARTITION

struct AttachProbe {
  Oid parent;
  Oid attached;
  PartitionBoundSpec *bound;
  bool known;
  bool scan_attached;
  bool scan_default;
  Oid default_part;
  bool evaluating;  // the bound's expressions are being evaluated (user functions may run)
  bool opaque_bound;  // not a constant bound: it is not evaluated, both scans are assumed
  const char *built_indexes;  // parent indexes built on the attached table, or nullptr
  List *fk_validated;         // of ParentForeignKey *: created on the table and validated
  List *fk_attached;          // of ParentForeignKey *: an equivalent one of the table is attached
  List *referencing;          // of Oid: tables whose foreign keys reference the parent
};

struct ParentForeignKey {
  const char *name;
  Oid confrelid;
};

// tablecmds.c AttachPartitionEnsureIndexes(): every partitioned index of the parent
// takes the first valid, unattached index of the table that CompareIndexInfo()
// finds equal (and that backs a constraint when the parent's does); the others are
// built.  Relations are read from the relcache without locks.
const char *IndexesBuiltOnAttach(Oid parent, Oid attached) {
  Relation prel = RelationIdGetRelation(parent);
  if (prel == nullptr) return nullptr;
  Relation arel = RelationIdGetRelation(attached);
  if (arel == nullptr || arel->rd_rel->relkind == RELKIND_FOREIGN_TABLE) {
    if (arel != nullptr) RelationClose(arel);
    RelationClose(prel);
    return nullptr;
  }
  List *children = RelationGetIndexList(arel);
  const int n = list_length(children);
  Relation *crels = static_cast<Relation *>(palloc0(sizeof(Relation) * (n + 1)));
  IndexInfo **cinfos = static_cast<IndexInfo **>(palloc0(sizeof(IndexInfo *) * (n + 1)));
  bool *claimed = static_cast<bool *>(palloc0(sizeof(bool) * (n + 1)));
  for (int i = 0; i < n; i++) {
    crels[i] = RelationIdGetRelation(list_nth_oid(children, i));
    if (crels[i] != nullptr) cinfos[i] = BuildIndexInfo(crels[i]);
  }
  AttrMap *attmap = SG_BUILD_ATTRMAP_BY_NAME(RelationGetDescr(arel), RelationGetDescr(prel));
  StringInfoData built;
  initStringInfo(&built);
  ListCell *lc;
  foreach (lc, RelationGetIndexList(prel)) {
    const Oid idx = lfirst_oid(lc);
    Relation irel = RelationIdGetRelation(idx);
    if (irel == nullptr) continue;
    if (irel->rd_rel->relkind != RELKIND_PARTITIONED_INDEX) {
      RelationClose(irel);
      continue;
    }
    IndexInfo *info = BuildIndexInfo(irel);
    const Oid constraint = get_relation_idx_constraint_oid(parent, idx);
    bool found = false;
    for (int i = 0; i < n && !found; i++) {
      if (crels[i] == nullptr || claimed[i] || crels[i]->rd_rel->relispartition || !crels[i]->rd_index->indisvalid)
        continue;
      if (!CompareIndexInfo(cinfos[i], info, crels[i]->rd_indcollation, irel->rd_indcollation,
                            crels[i]->rd_opfamily, irel->rd_opfamily, attmap))
        continue;
      if (OidIsValid(constraint) &&
          !OidIsValid(get_relation_idx_constraint_oid(attached, RelationGetRelid(crels[i]))))
        continue;
      claimed[i] = found = true;
    }
    if (!found) appendStringInfo(&built, "%s%s", built.len ? ", " : "", quote_identifier(RelationGetRelationName(irel)));
    RelationClose(irel);
  }
  for (int i = 0; i < n; i++)
    if (crels[i] != nullptr) RelationClose(crels[i]);
  RelationClose(arel);
  RelationClose(prel);
  return built.len ? built.data : nullptr;
}

// Is `fk` of the table the equivalent tryAttachPartitionForeignKey() accepts for the
// parent's `parent_fk`?
bool ForeignKeyAttaches(const ForeignKeyCacheInfo *fk, const ForeignKeyCacheInfo *parent_fk, Oid parent,
                        Oid attached) {
  if (fk->confrelid != parent_fk->confrelid || fk->nkeys != parent_fk->nkeys) return false;
  for (int i = 0; i < fk->nkeys; i++) {
    const char *col = get_attname(parent, parent_fk->conkey[i], true);
    if (col == nullptr || fk->conkey[i] != get_attnum(attached, col) || fk->confkey[i] != parent_fk->confkey[i] ||
        fk->conpfeqop[i] != parent_fk->conpfeqop[i])
      return false;
  }
  HeapTuple ptup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(parent_fk->conoid));
  HeapTuple ctup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(fk->conoid));
  bool ok = ptup != nullptr && ctup != nullptr;
  if (ok) {
    auto *p = reinterpret_cast<Form_pg_constraint>(GETSTRUCT(ptup));
    auto *c = reinterpret_cast<Form_pg_constraint>(GETSTRUCT(ctup));
    ok = !OidIsValid(c->conparentid) && c->convalidated && c->condeferrable == p->condeferrable &&
         c->condeferred == p->condeferred && c->confupdtype == p->confupdtype &&
         c->confdeltype == p->confdeltype && c->confmatchtype == p->confmatchtype;
  }
  if (ptup != nullptr) ReleaseSysCache(ptup);
  if (ctup != nullptr) ReleaseSysCache(ctup);
  return ok;
}

// CloneFkReferencing() and CloneFkReferenced() for a new partition.
void ProbeForeignKeysOnAttach(AttachProbe *p) {
  Relation prel = RelationIdGetRelation(p->parent);
  if (prel == nullptr) return;
  List *parent_fks = static_cast<List *>(copyObjectImpl(RelationGetFKeyList(prel)));
  RelationClose(prel);
  List *own_fks = NIL;
  if (OidIsValid(p->attached)) {
    Relation arel = RelationIdGetRelation(p->attached);
    if (arel != nullptr) {
      own_fks = static_cast<List *>(copyObjectImpl(RelationGetFKeyList(arel)));
      RelationClose(arel);
    }
  }
  List *claimed = NIL;
  ListCell *lc;
  foreach (lc, parent_fks) {
    auto *pfk = static_cast<ForeignKeyCacheInfo *>(lfirst(lc));
    HeapTuple con = SearchSysCache1(CONSTROID, ObjectIdGetDatum(pfk->conoid));
    if (con == nullptr) continue;
    auto *form = reinterpret_cast<Form_pg_constraint>(GETSTRUCT(con));
    const bool inherited = OidIsValid(form->conparentid);
    auto *info = static_cast<ParentForeignKey *>(palloc(sizeof(ParentForeignKey)));
    info->name = pstrdup(NameStr(form->conname));
    info->confrelid = pfk->confrelid;
    ReleaseSysCache(con);
    if (inherited) continue;  // cloned with the constraint it comes from
    bool attaches = false;
    ListCell *oc;
    foreach (oc, own_fks) {
      auto *fk = static_cast<ForeignKeyCacheInfo *>(lfirst(oc));
      if (list_member_oid(claimed, fk->conoid) || !ForeignKeyAttaches(fk, pfk, p->parent, p->attached)) continue;
      claimed = lappend_oid(claimed, fk->conoid);
      attaches = true;
      break;
    }
    if (attaches)
      p->fk_attached = lappend(p->fk_attached, info);
    else
      p->fk_validated = lappend(p->fk_validated, info);
  }
  // Foreign keys of other tables that reference the parent: their tables are locked
  // SHARE ROW EXCLUSIVE while the new partition gets its action triggers.
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_constraint_confrelid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(p->parent));
  Relation conRel = table_open(ConstraintRelationId, AccessShareLock);
  SysScanDesc scan = systable_beginscan(conRel, InvalidOid, false, nullptr, 1, &key);
  HeapTuple tup;
  while (HeapTupleIsValid(tup = systable_getnext(scan))) {
    auto *form = reinterpret_cast<Form_pg_constraint>(GETSTRUCT(tup));
    if (form->contype == CONSTRAINT_FOREIGN && !OidIsValid(form->conparentid))
      p->referencing = list_append_unique_oid(p->referencing, form->conrelid);
  }
  systable_endscan(scan);
  table_close(conRel, AccessShareLock);
}

bool ImpliedOnLeaves(Oid relid, List *constraint, Relation parent) {
  // QueuePartitionConstraintValidation(): a partitioned table defers to its leaves.
  Relation rel = RelationIdGetRelation(relid);
  if (rel == nullptr) return true;
  List *mapped = map_partition_varattnos(constraint, 1, rel, parent);
  bool implied = PartConstraintImpliedByRelConstraint(rel, mapped);
  const bool partitioned = rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE;
  RelationClose(rel);
  if (implied || !partitioned) return implied;
  ListCell *lc;
  foreach (lc, InheritanceTree(relid)) {
    const Oid child = lfirst_oid(lc);
    if (child == relid || get_rel_relkind(child) != RELKIND_RELATION) continue;
    Relation crel = RelationIdGetRelation(child);
    if (crel == nullptr) continue;
    List *cmapped = map_partition_varattnos(constraint, 1, crel, parent);
    const bool cimplied = PartConstraintImpliedByRelConstraint(crel, cmapped);
    RelationClose(crel);
    if (!cimplied) return false;
  }
  return true;
}

void ProbeAttach(void *arg) {
  auto *p = static_cast<AttachProbe *>(arg);
  Relation parent = RelationIdGetRelation(p->parent);
  if (parent == nullptr) return;
  p->default_part = get_default_oid_from_partdesc(RelationGetPartitionDesc(parent, true));
  if (p->opaque_bound) {
    p->scan_attached = OidIsValid(p->attached);
    p->scan_default = OidIsValid(p->default_part) && !p->bound->is_default;
  } else {
    ParseState *pstate = make_parsestate(nullptr);
    p->evaluating = true;  // transformPartitionBound() evaluates the bound's expressions
    PartitionBoundSpec *bound = transformPartitionBound(pstate, parent, p->bound);
    List *boundConstraint = get_qual_from_partbound(parent, bound);
    List *constraint = list_concat_copy(boundConstraint, RelationGetPartitionQual(parent));
    if (constraint != NIL && OidIsValid(p->attached)) {
      constraint = reinterpret_cast<List *>(eval_const_expressions(nullptr, reinterpret_cast<Node *>(constraint)));
      constraint = reinterpret_cast<List *>(canonicalize_qual(reinterpret_cast<Expr *>(constraint), true));
      constraint = list_make1(make_ands_explicit(constraint));
      p->scan_attached = !ImpliedOnLeaves(p->attached, constraint, parent);
    }
    if (OidIsValid(p->default_part) && !bound->is_default) {
      List *defConstraint = get_proposed_default_constraint(boundConstraint);
      p->scan_default = !ImpliedOnLeaves(p->default_part, defConstraint, parent);
    }
  }
  RelationClose(parent);
  if (OidIsValid(p->attached)) p->built_indexes = IndexesBuiltOnAttach(p->parent, p->attached);
  ProbeForeignKeysOnAttach(p);
  p->known = true;
}

void AnalyzeAttachPartition(Oid relid, PartitionCmd *pc, StatementAnalysis *out) {
  if (get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE || pc->bound == nullptr) return;
  const Oid attached = LookupRelation(pc->name);
  // Dropped since its name was resolved: PostgreSQL reports the missing relation.
  const char *name = OidIsValid(attached) ? get_rel_name(attached) : nullptr;
  if (name == nullptr) return;
  AnalyzeNewPartitionBound(relid, attached, pc->bound, psprintf("ATTACH PARTITION %s", quote_identifier(name)), out);
}

// ------------------------------------------------------------- the command list

Oid TablespaceOid(Oid relid) {
  HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (tup == nullptr) return InvalidOid;
  Oid ts = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup))->reltablespace;
  ReleaseSysCache(tup);
  return OidIsValid(ts) ? ts : MyDatabaseTableSpace;
}

// transformAlterTableStmt(): foreign keys on new columns are not validated (the
// columns are all NULL) unless the statement adds a column with a default or adds
// a FOREIGN KEY constraint.
bool AddedForeignKeysAreValidated(List *cmds) {
  ListCell *lc;
  foreach (lc, cmds) {
    auto *cmd = static_cast<AlterTableCmd *>(lfirst(lc));
    if (cmd->subtype == AT_AddColumn && cmd->def != nullptr && IsA(cmd->def, ColumnDef)) {
      auto *def = reinterpret_cast<ColumnDef *>(cmd->def);
      if (IsSerialTypeName(def->typeName)) return true;
      ListCell *cc;
      foreach (cc, def->constraints)
        if (static_cast<Constraint *>(lfirst(cc))->contype == CONSTR_DEFAULT) return true;
    } else if (cmd->subtype == AT_AddConstraint && cmd->def != nullptr && IsA(cmd->def, Constraint) &&
               reinterpret_cast<Constraint *>(cmd->def)->contype == CONSTR_FOREIGN) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool ColumnNotNullProven(Oid relid, const char *colname) { return NotNullProven(relid, colname); }

bool PartitionBoundIsConstant(const PartitionBoundSpec *bound) {
  // MINVALUE and MAXVALUE are ColumnRefs (transformPartitionRangeBounds()); any other
  // ColumnRef is refused by transformExpr() before anything runs.
  auto constant = [](const Node *value) {
    if (value == nullptr) return false;
    if (IsA(value, A_Const) || IsA(value, ColumnRef)) return true;
    if (IsA(value, TypeCast)) {
      const Node *arg = reinterpret_cast<const TypeCast *>(value)->arg;
      return arg != nullptr && IsA(arg, A_Const);
    }
    return false;
  };
  List *const values[] = {bound->listdatums, bound->lowerdatums, bound->upperdatums};
  for (List *list : values) {
    ListCell *lc;
    foreach (lc, list)
      if (!constant(static_cast<const Node *>(lfirst(lc)))) return false;
  }
  return true;
}

void AnalyzeNewPartitionBound(Oid parent, Oid attached, PartitionBoundSpec *bound, const char *what,
                              StatementAnalysis *out) {
  // Without a partition key there is no bound to transform: PostgreSQL reports the error.
  if (get_rel_relkind(parent) != RELKIND_PARTITIONED_TABLE) return;
  // The attached table (and the default partition) are locked ACCESS EXCLUSIVE.
  const bool attached_exempt = !OidIsValid(attached) || IsExemptRelation(attached);
  if (!attached_exempt) AddLockTarget(out, attached, AccessExclusiveLock);
  AttachProbe probe = {parent, attached, bound, false, false, false, InvalidOid, false,
                       !PartitionBoundIsConstant(bound), nullptr, NIL, NIL, NIL};
  ErrorData *probe_error = nullptr;
  const char *attached_reason = "No validated CHECK constraint on the new partition implies its partition bound.";
  const char *default_reason =
      "The default partition is scanned to prove it holds no rows of the new bound; a validated CHECK on it that excludes the bound avoids the scan.";
  if (probe.opaque_bound)
    attached_reason = default_reason =
        "The guard does not evaluate a partition bound that is not a constant (evaluating it twice could "
        "change what it is, as nextval() does), so it assumes that the tables are scanned.";
  if (!RunProbe(ProbeAttach, &probe, &probe_error)) {
    if (!probe.evaluating) return;  // PostgreSQL reports why
    // Fail closed: both scans happen unless the guard can prove otherwise.
    probe.known = true;
    probe.scan_attached = OidIsValid(attached);
    probe.default_part = get_default_partition_oid(parent);
    probe.scan_default = OidIsValid(probe.default_part) && !bound->is_default;
    attached_reason = default_reason = CannotTell(probe_error, "the partition bound", "that the tables are scanned");
  }
  if (!probe.known) return;
  if (probe.scan_attached && !attached_exempt)
    AddFinding(out, RuleId::AttachPartitionScan, attached, AccessExclusiveLock, kScan, what, attached_reason);
  if (probe.built_indexes != nullptr && !attached_exempt)
    AddFinding(out, RuleId::AttachPartitionIndexBuild, attached, AccessExclusiveLock, kIndexBuild, what,
               psprintf("No valid index of the table matches the parent's %s (same columns, operator "
                        "families, collations, predicate and constraint): each is built under the lock.",
                        probe.built_indexes));
  ListCell *lc;
  foreach (lc, probe.fk_validated) {
    // CloneFkReferencing(): the referenced table is locked SHARE ROW EXCLUSIVE and the
    // cloned constraint is validated on the new partition (an empty new table: nothing to read).
    auto *fk = static_cast<ParentForeignKey *>(lfirst(lc));
    if (!IsExemptRelation(fk->confrelid)) AddLockTarget(out, fk->confrelid, ShareRowExclusiveLock);
    if (!attached_exempt)
      AddForeignKeyValidation(out, attached, AccessExclusiveLock, fk->confrelid,
                              psprintf("the parent's FOREIGN KEY constraint %s", quote_identifier(fk->name)));
  }
  foreach (lc, probe.fk_attached) {
    // tryAttachPartitionForeignKey(): the table's own action triggers on the referenced
    // table are dropped, which locks it ACCESS EXCLUSIVE; nothing is validated.
    auto *fk = static_cast<ParentForeignKey *>(lfirst(lc));
    if (!IsExemptRelation(fk->confrelid)) AddLockTarget(out, fk->confrelid, AccessExclusiveLock);
  }
  foreach (lc, probe.referencing)
    if (!IsExemptRelation(lfirst_oid(lc))) AddLockTarget(out, lfirst_oid(lc), ShareRowExclusiveLock);
  if (OidIsValid(probe.default_part) && !IsExemptRelation(probe.default_part)) {
    AddLockTarget(out, probe.default_part, AccessExclusiveLock);
    if (probe.scan_default)
      AddFinding(out, RuleId::AttachPartitionScan, probe.default_part, AccessExclusiveLock, kScan, what,
                 default_reason);
  }
}

namespace {

// Does any subcommand reach the partitions and inheritance children?
bool CommandsRecurse(List *cmds) {
  ListCell *lc;
  foreach (lc, cmds) {
    if (SgIsSetExpression(static_cast<AlterTableCmd *>(lfirst(lc))->subtype)) return true;
    switch (static_cast<AlterTableCmd *>(lfirst(lc))->subtype) {
      case AT_AddColumn:
      case AT_AlterColumnType:
      case AT_SetNotNull:
      case AT_DropNotNull:
      case AT_ColumnDefault:
      case AT_DropColumn:
      case AT_AddConstraint:
      case AT_DropConstraint:
      case AT_ValidateConstraint:
      case AT_SetStatistics:
      case AT_SetOptions:
      case AT_ResetOptions:
      case AT_SetStorage:
      case AT_SetCompression:
      case AT_AddIdentity:
      case AT_SetIdentity:
      case AT_DropIdentity:
      case AT_DropExpression:
        return true;
      default:
        break;
    }
  }
  return false;
}

// ALTER INDEX / VIEW / FOREIGN TABLE / SEQUENCE (or ALTER TABLE naming one): the lock
// AlterTableGetLockLevel() gives the subcommands; an index's SET TABLESPACE copies it
// (an index locked ACCESS EXCLUSIVE also stops every query planned on its table, since
// the planner opens all of a table's indexes).
void AnalyzeAlterOtherRelation(Oid relid, char relkind, AlterTableStmt *stmt, StatementAnalysis *out) {
  const bool is_index = relkind == RELKIND_INDEX || relkind == RELKIND_PARTITIONED_INDEX;
  const Oid owner = is_index ? IndexGetRelation(relid, true) : relid;
  if (!OidIsValid(owner) || IsExemptRelation(owner) || IsExemptRelation(relid)) return;
  Statement kind;
  switch (relkind) {
    case RELKIND_VIEW: kind = Statement::AlterView; break;
    case RELKIND_FOREIGN_TABLE: kind = Statement::AlterForeignTable; break;
    case RELKIND_SEQUENCE: kind = Statement::AlterSequence; break;
    default: kind = Statement::AlterIndex; break;
  }
  const LOCKMODE lock = AlterTableGetLockLevel(stmt->cmds);
  SetStatement(out, kind,
               is_index ? "ALTER INDEX"
               : relkind == RELKIND_VIEW ? "ALTER VIEW"
               : relkind == RELKIND_SEQUENCE ? "ALTER SEQUENCE"
                                               : "ALTER FOREIGN TABLE");
  AddLockTarget(out, relid, lock);
  ListCell *lc;
  foreach (lc, stmt->cmds) {
    auto *cmd = static_cast<AlterTableCmd *>(lfirst(lc));
    if (cmd->subtype == AT_SetTableSpace && relkind == RELKIND_INDEX) {
      const Oid ts = get_tablespace_oid(cmd->name, true);
      if (OidIsValid(ts) && ts != TablespaceOid(relid))
        AddFinding(out, RuleId::SetTablespaceCopy, relid, lock, kRewrite,
                   psprintf("SET TABLESPACE %s", quote_identifier(cmd->name)),
                   psprintf("Queries on %s wait too: the planner opens every index of the table.",
                            get_rel_name(owner)));
    } else if (cmd->subtype == AT_AttachPartition && is_index && cmd->def != nullptr &&
               IsA(cmd->def, PartitionCmd)) {
      // ATExecAttachPartitionIdx(): the partition's index is locked ACCESS EXCLUSIVE;
      // it is compared with the parent index, not built.
      const Oid part = LookupRelation(reinterpret_cast<PartitionCmd *>(cmd->def)->name);
      if (OidIsValid(part) && !IsExemptRelation(part)) AddLockTarget(out, part, AccessExclusiveLock);
    }
  }
}

// ALTER TYPE ... ADD / DROP / ALTER ATTRIBUTE: with CASCADE PostgreSQL applies the
// subcommands to every typed table (ATTypedTableRecursion), judged here as the
// ALTER TABLE they become, before any lock is taken.
void AnalyzeAlterTypeAttributes(Oid typrelid, AlterTableStmt *stmt, StatementAnalysis *out) {
  List *cascaded = NIL;
  ListCell *lc;
  foreach (lc, stmt->cmds) {
    auto *cmd = static_cast<AlterTableCmd *>(lfirst(lc));
    if (cmd->behavior == DROP_CASCADE) cascaded = lappend(cascaded, cmd);
  }
  if (cascaded == NIL) return;  // typed tables make PostgreSQL refuse; without any, only the type changes
  List *tables = TypedTables(typrelid);
  foreach (lc, tables) {
    const Oid relid = lfirst_oid(lc);
    const char *nsp = get_namespace_name(get_rel_namespace(relid));
    const char *name = get_rel_name(relid);
    if (nsp == nullptr || name == nullptr) continue;
    AlterTableStmt *as_table = makeNode(AlterTableStmt);
    as_table->relation = makeRangeVar(pstrdup(nsp), pstrdup(name), -1);
    as_table->cmds = cascaded;
    as_table->objtype = OBJECT_TABLE;
    AnalyzeAlterTable(as_table, out);
  }
  SetStatement(out, Statement::AlterTypeAttribute, "ALTER TYPE");
}

}  // namespace

void AnalyzeAlterTableMoveAll(AlterTableMoveAllStmt *stmt, StatementAnalysis *out) {
  // tablecmds.c AlterTableMoveAll(): every relation of the kind in the tablespace
  // (not catalogs, temporary or TOAST relations; only the roles' with OWNED BY) is
  // locked ACCESS EXCLUSIVE, then each is copied.
  if (stmt->objtype != OBJECT_TABLE && stmt->objtype != OBJECT_INDEX && stmt->objtype != OBJECT_MATVIEW) return;
  Oid from = get_tablespace_oid(stmt->orig_tablespacename, true);
  Oid to = get_tablespace_oid(stmt->new_tablespacename, true);
  if (!OidIsValid(from) || !OidIsValid(to)) return;
  if (from == MyDatabaseTableSpace) from = InvalidOid;
  if (to == MyDatabaseTableSpace) to = InvalidOid;
  if (from == to) return;
  List *roles = NIL;
  ListCell *lc;
  foreach (lc, stmt->roles) roles = lappend_oid(roles, get_rolespec_oid(static_cast<RoleSpec *>(lfirst(lc)), true));
  const Statement kind = stmt->objtype == OBJECT_INDEX ? Statement::AlterIndexAllInTablespace
                                                       : Statement::AlterTableAllInTablespace;
  SetStatement(out, kind, stmt->objtype == OBJECT_INDEX ? "ALTER INDEX ALL IN TABLESPACE" : "ALTER TABLE ALL IN TABLESPACE");
  const char *what = psprintf("SET TABLESPACE %s", quote_identifier(stmt->new_tablespacename));
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_class_reltablespace, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(from));
  Relation classRel = table_open(RelationRelationId, AccessShareLock);
  SysScanDesc scan = systable_beginscan(classRel, InvalidOid, false, nullptr, 1, &key);
  HeapTuple tup;
  while (HeapTupleIsValid(tup = systable_getnext(scan))) {
    auto *form = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup));
    if (IsCatalogNamespace(form->relnamespace) || form->relisshared || isAnyTempNamespace(form->relnamespace) ||
        IsToastNamespace(form->relnamespace))
      continue;
    const char k = form->relkind;
    if ((stmt->objtype == OBJECT_TABLE && k != RELKIND_RELATION && k != RELKIND_PARTITIONED_TABLE) ||
        (stmt->objtype == OBJECT_INDEX && k != RELKIND_INDEX && k != RELKIND_PARTITIONED_INDEX) ||
        (stmt->objtype == OBJECT_MATVIEW && k != RELKIND_MATVIEW))
      continue;
    if (roles != NIL && !list_member_oid(roles, form->relowner)) continue;
    const Oid relid = form->oid;
    const Oid owner = (k == RELKIND_INDEX || k == RELKIND_PARTITIONED_INDEX) ? IndexGetRelation(relid, true) : relid;
    if (!OidIsValid(owner) || IsExemptRelation(owner)) continue;
    if (!stmt->nowait) AddLockTarget(out, relid, StatementLock(kind));
    if (RELKIND_HAS_STORAGE(k))
      AddFinding(out, RuleId::SetTablespaceCopy, relid, StatementLock(kind), kRewrite, what,
                 "ALL IN TABLESPACE locks every relation it moves before copying the first one.");
  }
  systable_endscan(scan);
  table_close(classRel, AccessShareLock);
}

void AnalyzeAlterTable(AlterTableStmt *stmt, StatementAnalysis *out) {
  const Oid relid = LookupRelation(stmt->relation);
  if (!OidIsValid(relid)) return;
  const char relkind = get_rel_relkind(relid);
  if (relkind == RELKIND_COMPOSITE_TYPE) {
    if (stmt->objtype == OBJECT_TYPE) AnalyzeAlterTypeAttributes(relid, stmt, out);
    return;
  }
  if (relkind == RELKIND_INDEX || relkind == RELKIND_PARTITIONED_INDEX || relkind == RELKIND_VIEW ||
      relkind == RELKIND_FOREIGN_TABLE || relkind == RELKIND_SEQUENCE) {
    AnalyzeAlterOtherRelation(relid, relkind, stmt, out);
    return;
  }
  if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE && relkind != RELKIND_MATVIEW)
    return;
  if (stmt->objtype != OBJECT_TABLE && stmt->objtype != OBJECT_MATVIEW && stmt->objtype != OBJECT_TYPE &&
      stmt->objtype != OBJECT_FOREIGN_TABLE && stmt->objtype != OBJECT_VIEW && stmt->objtype != OBJECT_INDEX)
    return;
  SetStatement(out, relkind == RELKIND_MATVIEW ? Statement::AlterMaterializedView : Statement::AlterTable,
               "ALTER TABLE");
  if (IsExemptRelation(relid)) {
    // Nobody sees the new table, but a FOREIGN KEY still locks the referenced one.
    ListCell *lc;
    foreach (lc, stmt->cmds) {
      auto *cmd = static_cast<AlterTableCmd *>(lfirst(lc));
      auto *con = reinterpret_cast<Constraint *>(cmd->def);
      if (cmd->subtype == AT_AddConstraint && con != nullptr && IsA(con, Constraint) &&
          con->contype == CONSTR_FOREIGN) {
        const Oid pkrel = LookupRelation(con->pktable);
        LockReferencedTable(out, pkrel);
      }
    }
    out->command = "ALTER TABLE";
    return;
  }

  const LOCKMODE lock = AlterTableGetLockLevel(stmt->cmds);
  out->command = "ALTER TABLE";
  AddLockTarget(out, relid, lock);
  // Subcommands that recurse (ATSimpleRecursion, ATPrepCmd's recursion) lock every
  // partition and inheritance child in the same mode.
  if (stmt->relation->inh && CommandsRecurse(stmt->cmds) &&
      (relkind == RELKIND_PARTITIONED_TABLE || RelationHasInheritors(relid))) {
    ListCell *ic;
    foreach (ic, InheritanceTree(relid))
      if (lfirst_oid(ic) != relid && !IsExemptRelation(lfirst_oid(ic))) AddLockTarget(out, lfirst_oid(ic), lock);
  }

  const char relpersistence = RelationPersistence(relid);
  const bool fk_validated = AddedForeignKeysAreValidated(stmt->cmds);
  ListCell *lc;
  foreach (lc, stmt->cmds) {
    auto *cmd = static_cast<AlterTableCmd *>(lfirst(lc));
    if (SgIsSetExpression(cmd->subtype)) {  // 17+
      AnalyzeSetExpression(relid, lock, cmd->name, out);
      continue;
    }
    if (SgAlterConstraintEnforces(cmd)) {  // 18+
      AnalyzeEnforceConstraint(relid, lock, SgAlterConstraintName(cmd), out);
      continue;
    }
    switch (cmd->subtype) {
      case AT_AddColumn:
        AnalyzeAddColumn(relid, lock, reinterpret_cast<ColumnDef *>(cmd->def), fk_validated, out);
        break;
      case AT_AlterColumnType:
        AnalyzeAlterColumnType(relid, lock, stmt, cmd, out);
        break;
      case AT_SetNotNull:
        if (const ScriptColumn *added = FindScriptColumn(out, relid, cmd->name)) {
          if (!added->not_null)  // all NULL or its default: no CHECK can prove it yet
            AddFinding(out, RuleId::SetNotNullScan, relid, lock, kScan,
                       psprintf("SET NOT NULL on %s", ColumnText(cmd->name)));
        } else if (cmd->name != nullptr && SetNotNullNeedsScan(relid, cmd->name))
          AddFinding(out, RuleId::SetNotNullScan, relid, lock, kScan,
                     psprintf("SET NOT NULL on %s", ColumnText(cmd->name)));
        break;
      case AT_AddConstraint:
        AnalyzeAddConstraint(relid, lock, reinterpret_cast<Constraint *>(cmd->def), out);
        break;
      case AT_SetLogged:
      case AT_SetUnLogged: {
        const char wanted = cmd->subtype == AT_SetLogged ? RELPERSISTENCE_PERMANENT : RELPERSISTENCE_UNLOGGED;
        if (relkind == RELKIND_RELATION && relpersistence != wanted)
          AddFinding(out, RuleId::SetPersistenceRewrite, relid, lock, kRewrite,
                     cmd->subtype == AT_SetLogged ? "SET LOGGED" : "SET UNLOGGED");
        break;
      }
      case AT_SetAccessMethod: {
        const Oid am = get_table_am_oid(cmd->name, true);
        if ((relkind == RELKIND_RELATION || relkind == RELKIND_MATVIEW) && OidIsValid(am) &&
            am != RelationAccessMethod(relid))
          AddFinding(out, RuleId::SetAccessMethodRewrite, relid, lock, kRewrite,
                     psprintf("SET ACCESS METHOD %s", quote_identifier(cmd->name)));
        break;
      }
      case AT_SetTableSpace: {
        const Oid ts = get_tablespace_oid(cmd->name, true);
        if (relkind != RELKIND_PARTITIONED_TABLE && OidIsValid(ts) && ts != TablespaceOid(relid))
          AddFinding(out, RuleId::SetTablespaceCopy, relid, lock, kRewrite,
                     psprintf("SET TABLESPACE %s", quote_identifier(cmd->name)));
        break;
      }
      case AT_DropConstraint: {
        // RemoveConstraintById(): a foreign key's triggers on the referenced table go
        // too (ACCESS EXCLUSIVE there); CASCADE takes dependents along.
        const Oid conoid = cmd->name ? get_relation_constraint_oid(relid, cmd->name, true) : InvalidOid;
        if (OidIsValid(conoid)) {
          const ObjectAddress con = {ConstraintRelationId, conoid, 0};
          JudgeDependentsOfDrop(con, cmd->behavior == DROP_CASCADE, "ALTER TABLE ... DROP CONSTRAINT ... CASCADE", out);
        }
        break;
      }
      case AT_DropColumn: {
        HeapTuple att = cmd->name ? SearchSysCacheAttName(relid, cmd->name) : nullptr;
        if (att == nullptr && FindScriptColumn(out, relid, cmd->name) != nullptr) {
          AddFinding(out, RuleId::DropColumn, relid, lock, kBreaks, ColumnText(cmd->name));
          break;
        }
        if (att == nullptr) break;
        const AttrNumber attnum = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(att))->attnum;
        ReleaseSysCache(att);
        AddFinding(out, RuleId::DropColumn, relid, lock, kBreaks, ColumnText(cmd->name));
        // Its indexes, constraints (a foreign key's triggers live on the referenced
        // table) and, with CASCADE, views and other tables' objects go with it.
        const ObjectAddress column = {RelationRelationId, relid, attnum};
        JudgeDependentsOfDrop(column, cmd->behavior == DROP_CASCADE, "ALTER TABLE ... DROP COLUMN ... CASCADE", out);
        break;
      }
      case AT_ValidateConstraint:
        // Cheap on its own (SHARE UPDATE EXCLUSIVE), unless this transaction already
        // holds a lock that blocks writes: then the scan runs under that lock.
        if (WritesBlockedByThisTransaction(relid, out->held_locks))
          AddFinding(out, RuleId::ValidateUnderStrongLock, relid, StrongestLockHeld(relid), kScan,
                     cmd->name ? quote_identifier(cmd->name) : "");
        break;
      case AT_AttachPartition:
        AnalyzeAttachPartition(relid, reinterpret_cast<PartitionCmd *>(cmd->def), out);
        break;
      case AT_DetachPartition: {
        auto *pc = reinterpret_cast<PartitionCmd *>(cmd->def);
        if (pc->concurrent) break;
        const Oid part = LookupRelation(pc->name);
        if (OidIsValid(part) && !IsExemptRelation(part)) AddLockTarget(out, part, AccessExclusiveLock);
        // ATExecDetachPartition(): the default partition's constraint changes (ACCESS
        // EXCLUSIVE); the partition's inherited foreign keys get their own triggers on
        // the referenced tables (SHARE ROW EXCLUSIVE).
        const Oid def = get_default_partition_oid(relid);
        if (OidIsValid(def) && def != part && !IsExemptRelation(def)) AddLockTarget(out, def, AccessExclusiveLock);
        if (OidIsValid(part)) {
          Relation prel = RelationIdGetRelation(part);
          if (prel != nullptr) {
            ListCell *fc;
            foreach (fc, RelationGetFKeyList(prel)) {
              const Oid confrelid = static_cast<ForeignKeyCacheInfo *>(lfirst(fc))->confrelid;
              if (!IsExemptRelation(confrelid)) AddLockTarget(out, confrelid, ShareRowExclusiveLock);
            }
            RelationClose(prel);
          }
        }
        AddFinding(out, RuleId::DetachPartitionBlocking, relid, lock, 0,
                   psprintf("DETACH PARTITION %s", pc->name ? quote_identifier(pc->name->relname) : ""));
        break;
      }
      default:
        break;
    }
  }
}

}  // namespace schema_guard::analysis
