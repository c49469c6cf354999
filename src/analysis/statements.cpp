// Dispatch by statement type, and the analyzers for every family but ALTER TABLE.
// Lock modes are the ones the server code requests (indexcmds.c, index.c,
// matview.c, cluster.c, vacuum.c, typecmds.c, tablecmds.c RenameRelation/renameatt).
#include "analysis/analysis.hpp"
#include "analysis/statement_catalog.hpp"
#include "boundary.hpp"

namespace schema_guard::analysis {
namespace {

using policy::RuleId;

// A boolean option of VACUUM or REINDEX as the server reads it: ExecVacuum() and
// ExecReindex() loop over every option, so a repeated one counts by its last value.
bool HasOption(List *options, const char *name) {
  bool value = false;
  ListCell *lc;
  foreach (lc, options) {
    auto *opt = static_cast<DefElem *>(lfirst(lc));
    if (strcmp(opt->defname, name) == 0) value = defGetBoolean(opt);
  }
  return value;
}

// An existing relation that others can see, or InvalidOid.
Oid VisibleRelation(const RangeVar *rv) {
  const Oid relid = LookupRelation(rv);
  return OidIsValid(relid) && !IsExemptRelation(relid) ? relid : InvalidOid;
}

// Lock `relid` and, when the statement recurses, its partitions and inheritance children.
void LockTree(StatementAnalysis *out, Oid relid, bool recurse, LOCKMODE lock) {
  if (!OidIsValid(relid)) return;
  if (!recurse || (get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE && !RelationHasInheritors(relid))) {
    AddLockTarget(out, relid, lock);
    return;
  }
  ListCell *lc;
  foreach (lc, InheritanceTree(relid))
    if (!IsExemptRelation(lfirst_oid(lc))) AddLockTarget(out, lfirst_oid(lc), lock);
}

void AnalyzeIndex(IndexStmt *stmt, StatementAnalysis *out) {
  if (stmt->concurrent) return;
  const Oid relid = VisibleRelation(stmt->relation);
  if (!OidIsValid(relid)) return;
  // The SHARE lock is taken before anything else is decided (ProcessUtilitySlow), so
  // an IF NOT EXISTS that finds the name, and ON ONLY a partitioned parent (an invalid
  // index, nothing built), still wait for it.
  SetStatement(out, Statement::CreateIndex, "CREATE INDEX");
  AddLockTarget(out, relid, StatementLock(Statement::CreateIndex));
  if (get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE && !stmt->relation->inh) return;
  if (stmt->if_not_exists && stmt->idxname != nullptr &&
      OidIsValid(get_relname_relid(stmt->idxname, get_rel_namespace(relid))))
    return;
  // DefineIndex() on a partitioned table locks and builds on every partition.
  if (get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE)
    LockTree(out, relid, true, StatementLock(Statement::CreateIndex));
  AddFinding(out, RuleId::CreateIndexBlocking, relid, ShareLock, kIndexBuild,
             stmt->idxname ? psprintf("CREATE %sINDEX %s", stmt->unique ? "UNIQUE " : "",
                                      quote_identifier(stmt->idxname))
                           : (stmt->unique ? "CREATE UNIQUE INDEX" : "CREATE INDEX"));
}

// reindex_relation(): the table's indexes, and its TOAST table's index.  A table with
// no index and no TOAST data has nothing to rebuild (a partitioned table: its partitions).
bool HasIndexesToRebuild(Oid relid) {
  if (get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE) {
    ListCell *lc;
    foreach (lc, InheritanceTree(relid))
      if (lfirst_oid(lc) != relid && get_rel_relkind(lfirst_oid(lc)) == RELKIND_RELATION &&
          HasIndexesToRebuild(lfirst_oid(lc)))
        return true;
    return false;
  }
  Relation rel = RelationIdGetRelation(relid);
  if (rel == nullptr) return false;
  const bool has_indexes = RelationGetIndexList(rel) != NIL;
  const Oid toast = rel->rd_rel->reltoastrelid;
  RelationClose(rel);
  return has_indexes || (OidIsValid(toast) && RelationSizeBytes(toast) > 0);
}

void AnalyzeReindex(ReindexStmt *stmt, StatementAnalysis *out) {
  if (HasOption(stmt->params, "concurrently")) return;
  out->command = "REINDEX";
  switch (stmt->kind) {
    case REINDEX_OBJECT_INDEX: {
      const Oid indexoid = LookupRelation(stmt->relation);
      if (!OidIsValid(indexoid)) return;
      const Oid relid = IndexGetRelation(indexoid, true);
      if (!OidIsValid(relid) || IsExemptRelation(relid)) return;
      AddLockTarget(out, relid, ShareLock);
      AddLockTarget(out, indexoid, AccessExclusiveLock);  // reindex_index(): queries planned on the table wait
      AddFinding(out, RuleId::ReindexBlocking, relid, ShareLock, kIndexBuild,
                 psprintf("REINDEX INDEX %s", quote_identifier(stmt->relation->relname)),
                 "The index itself is locked ACCESS EXCLUSIVE: queries that would use it wait too.");
      return;
    }
    case REINDEX_OBJECT_TABLE: {
      const Oid relid = VisibleRelation(stmt->relation);
      if (!OidIsValid(relid)) return;
      SetStatement(out, Statement::Reindex, "REINDEX");
      AddLockTarget(out, relid, ShareLock);
      if (!HasIndexesToRebuild(relid)) return;  // "table has no indexes to reindex"
      AddFinding(out, RuleId::ReindexBlocking, relid, ShareLock, kIndexBuild, "REINDEX TABLE",
                 "Each index is locked ACCESS EXCLUSIVE while it is rebuilt.");
      return;
    }
    default: {
      const char *scope = stmt->kind == REINDEX_OBJECT_SCHEMA
                              ? psprintf("every table in schema %s", quote_identifier(stmt->name))
                              : "every table in the database";
      AddFinding(out, RuleId::ReindexBlocking, InvalidOid, ShareLock, kIndexBuild,
                 stmt->kind == REINDEX_OBJECT_SCHEMA ? "REINDEX SCHEMA" : "REINDEX DATABASE");
      static_cast<Finding *>(llast(out->findings))->rel_text = scope;
      return;
    }
  }
}

void AnalyzeRefresh(RefreshMatViewStmt *stmt, StatementAnalysis *out) {
  if (stmt->concurrent) return;
  const Oid relid = VisibleRelation(stmt->relation);
  if (!OidIsValid(relid)) return;
  out->command = "REFRESH MATERIALIZED VIEW";
  AddLockTarget(out, relid, AccessExclusiveLock);
  AddFinding(out, RuleId::RefreshMatviewBlocking, relid, AccessExclusiveLock, kIndexBuild | kRewrite,
             "REFRESH MATERIALIZED VIEW");
}

// get_all_vacuum_rels(): the tables and materialized views VACUUM without a table
// processes for a caller that does not own the database (the others are skipped).
int VacuumableTables() {
  int count = 0;
  Relation classRel = table_open(RelationRelationId, AccessShareLock);
  SysScanDesc scan = systable_beginscan(classRel, InvalidOid, false, nullptr, 0, nullptr);
  HeapTuple tup;
  while (HeapTupleIsValid(tup = systable_getnext(scan))) {
    const auto *form = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup));
    if ((form->relkind == RELKIND_RELATION || form->relkind == RELKIND_MATVIEW) && CallerMayVacuum(form->oid)) count++;
  }
  systable_endscan(scan);
  table_close(classRel, AccessShareLock);
  return count;
}

// get_tables_to_cluster(): the tables with a clustered index the caller may maintain.
int ClusterableTables() {
  int count = 0;
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_index_indisclustered, BTEqualStrategyNumber, F_BOOLEQ, BoolGetDatum(true));
  Relation indexRel = table_open(IndexRelationId, AccessShareLock);
  SysScanDesc scan = systable_beginscan(indexRel, InvalidOid, false, nullptr, 1, &key);
  HeapTuple tup;
  while (HeapTupleIsValid(tup = systable_getnext(scan)))
    if (CallerMayMaintain(reinterpret_cast<Form_pg_index>(GETSTRUCT(tup))->indrelid)) count++;
  systable_endscan(scan);
  table_close(indexRel, AccessShareLock);
  return count;
}

void AnalyzeVacuum(VacuumStmt *stmt, StatementAnalysis *out) {
  if (!stmt->is_vacuumcmd || !HasOption(stmt->options, "full")) return;
  out->command = "VACUUM FULL";
  if (stmt->rels == NIL) {
    const char *scope = "every table in the database";
    if (!SG_DATABASE_OWNERCHECK(MyDatabaseId, GetUserId())) {
      const int tables = VacuumableTables();
      if (tables == 0) return;  // every table is skipped
      scope = psprintf("each of the %d tables of the database that you may vacuum", tables);
    }
    AddFinding(out, RuleId::VacuumFull, InvalidOid, AccessExclusiveLock, kRewrite, "VACUUM FULL");
    static_cast<Finding *>(llast(out->findings))->rel_text = scope;
    return;
  }
  ListCell *lc;
  foreach (lc, stmt->rels) {
    auto *vrel = static_cast<VacuumRelation *>(lfirst(lc));
    const Oid relid = VisibleRelation(vrel->relation);
    if (!OidIsValid(relid)) continue;
    if (get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE) {
      // expand_vacuum_rel() adds every partition whoever owns the parent, and
      // vacuum_rel() vacuums (or skips) each on its own: when the caller may not
      // vacuum them all, the ones it may are what is judged.
      List *tree = InheritanceTree(relid);
      bool all = true;
      ListCell *part;
      foreach (part, tree)
        if (!CallerMayVacuum(lfirst_oid(part))) all = false;
      if (!all) {
        foreach (part, tree) {
          const Oid p = lfirst_oid(part);
          if (!RELKIND_HAS_STORAGE(get_rel_relkind(p)) || IsExemptRelation(p) || !CallerMayVacuum(p)) continue;
          AddLockTarget(out, p, AccessExclusiveLock);
          AddFinding(out, RuleId::VacuumFull, p, AccessExclusiveLock, kRewrite, "VACUUM FULL");
        }
        continue;
      }
    } else if (!CallerMayVacuum(relid)) {
      // vacuum_rel() skips, with a WARNING, a table the caller may not vacuum: it is
      // not rewritten, and not the guard's business.
      continue;
    }
    AddLockTarget(out, relid, AccessExclusiveLock);
    AddFinding(out, RuleId::VacuumFull, relid, AccessExclusiveLock, kRewrite, "VACUUM FULL");
  }
}

void AnalyzeCluster(SgClusterStmt *stmt, StatementAnalysis *out) {
  const char *command = SG_CLUSTER_COMMAND(stmt);
  out->command = command;
  RangeVar *relation = SG_CLUSTER_RELATION(stmt);
  if (relation == nullptr) {
    if (ClusterableTables() == 0) return;  // nothing the caller may cluster
    AddFinding(out, RuleId::Cluster, InvalidOid, AccessExclusiveLock, kRewrite, command);
    static_cast<Finding *>(llast(out->findings))->rel_text = "every previously clustered table";
    return;
  }
  const Oid relid = VisibleRelation(relation);
  if (!OidIsValid(relid)) return;
  AddLockTarget(out, relid, AccessExclusiveLock);
  AddFinding(out, RuleId::Cluster, relid, AccessExclusiveLock, kRewrite, command);
}

void AnalyzeRename(RenameStmt *stmt, StatementAnalysis *out) {
  switch (stmt->renameType) {
    case OBJECT_TABLE:
    case OBJECT_VIEW:
    case OBJECT_MATVIEW:
    case OBJECT_FOREIGN_TABLE:
    case OBJECT_SEQUENCE:
    case OBJECT_INDEX: {  // ALTER INDEX ... RENAME accepts a table too (RangeVarCallbackForAlterRelation)
      const Oid relid = VisibleRelation(stmt->relation);
      if (!OidIsValid(relid)) return;
      const char kind = get_rel_relkind(relid);
      const bool is_index = kind == RELKIND_INDEX || kind == RELKIND_PARTITIONED_INDEX;
      // RenameRelation(): ALTER INDEX takes SHARE UPDATE EXCLUSIVE on an index; every
      // other spelling (and ALTER INDEX on a non-index) ACCESS EXCLUSIVE.
      if (is_index && stmt->renameType == OBJECT_INDEX) return;
      SetStatement(out, Statement::RenameTable, "ALTER TABLE");
      if (is_index || kind == RELKIND_SEQUENCE) {
        if (stmt->renameType != OBJECT_SEQUENCE || kind == RELKIND_SEQUENCE)
          AddLockTarget(out, relid, StatementLock(Statement::RenameTable));
        return;
      }
      if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE && kind != RELKIND_VIEW &&
          kind != RELKIND_MATVIEW && kind != RELKIND_FOREIGN_TABLE)
        return;
      // ALTER VIEW / MATERIALIZED VIEW / FOREIGN TABLE / SEQUENCE insist on their own kind:
      // PostgreSQL reports a mismatch itself.
      if ((stmt->renameType == OBJECT_VIEW && kind != RELKIND_VIEW) ||
          (stmt->renameType == OBJECT_MATVIEW && kind != RELKIND_MATVIEW) ||
          (stmt->renameType == OBJECT_FOREIGN_TABLE && kind != RELKIND_FOREIGN_TABLE) ||
          stmt->renameType == OBJECT_SEQUENCE)
        return;
      AddLockTarget(out, relid, AccessExclusiveLock);
      AddFinding(out, RuleId::RenameTable, relid, AccessExclusiveLock, kBreaks,
                 psprintf("RENAME TO %s", quote_identifier(stmt->newname)));
      return;
    }
    case OBJECT_SCHEMA:
      AnalyzeRenameSchema(stmt, out);
      return;
    case OBJECT_COLUMN: {
      const Oid relid = VisibleRelation(stmt->relation);
      if (!OidIsValid(relid) || stmt->subname == nullptr) return;
      HeapTuple att = SearchSysCacheAttName(relid, stmt->subname);
      if (att == nullptr && FindScriptColumn(out, relid, stmt->subname) == nullptr) return;
      if (att != nullptr) ReleaseSysCache(att);
      SetStatement(out, Statement::RenameColumn, "ALTER TABLE");
      // renameatt_internal() recurses to partitions and inheritance children.
      LockTree(out, relid, stmt->relation->inh, AccessExclusiveLock);
      AddFinding(out, RuleId::RenameColumn, relid, AccessExclusiveLock, kBreaks,
                 psprintf("column %s", quote_identifier(stmt->subname)));
      return;
    }
    case OBJECT_ATTRIBUTE: {
      // ALTER TYPE ... RENAME ATTRIBUTE: with CASCADE the typed tables' columns are
      // renamed (without it PostgreSQL refuses when typed tables exist).
      const Oid typrel = LookupRelation(stmt->relation);
      if (!OidIsValid(typrel) || get_rel_relkind(typrel) != RELKIND_COMPOSITE_TYPE || stmt->subname == nullptr ||
          stmt->behavior != DROP_CASCADE)
        return;
      SetStatement(out, Statement::RenameAttribute, "ALTER TYPE");
      ListCell *lc;
      foreach (lc, TypedTables(typrel)) {
        const Oid relid = lfirst_oid(lc);
        if (IsExemptRelation(relid)) continue;
        LockTree(out, relid, true, AccessExclusiveLock);
        AddFinding(out, RuleId::RenameColumn, relid, AccessExclusiveLock, kBreaks,
                   psprintf("column %s", quote_identifier(stmt->subname)),
                   psprintf("The table is of type %s: RENAME ATTRIBUTE ... CASCADE renames its column.",
                            format_type_be(get_rel_type_id(typrel))));
      }
      return;
    }
    case OBJECT_TABCONSTRAINT:
    case OBJECT_TRIGGER:
    case OBJECT_RULE: {
      // RenameConstraint(), renametrig() and RenameRewriteRule() lock the table ACCESS
      // EXCLUSIVE; a constraint is renamed on the children too, a trigger on the partitions.
      const Oid relid = VisibleRelation(stmt->relation);
      if (!OidIsValid(relid)) return;
      const Statement kind = stmt->renameType == OBJECT_TABCONSTRAINT ? Statement::RenameConstraint
                             : stmt->renameType == OBJECT_TRIGGER     ? Statement::RenameTrigger
                                                                      : Statement::RenameRule;
      SetStatement(out, kind,
                   kind == Statement::RenameConstraint ? "ALTER TABLE"
                   : kind == Statement::RenameTrigger  ? "ALTER TRIGGER"
                                                       : "ALTER RULE");
      bool recurse = stmt->relation->inh && stmt->renameType == OBJECT_TRIGGER;
      if (stmt->renameType == OBJECT_TABCONSTRAINT && stmt->relation->inh && stmt->subname != nullptr) {
        // rename_constraint_internal() recurses for an inheritable CHECK constraint only.
        HeapTuple con = SearchSysCache1(CONSTROID, ObjectIdGetDatum(get_relation_constraint_oid(relid, stmt->subname, true)));
        if (con != nullptr) {
          auto *form = reinterpret_cast<Form_pg_constraint>(GETSTRUCT(con));
          recurse = form->contype == CONSTRAINT_CHECK && !form->connoinherit;
          ReleaseSysCache(con);
        }
      }
      LockTree(out, relid, recurse, StatementLock(kind));
      return;
    }
    default:
      return;
  }
}

// Tables with a foreign key to one of `relids` (heap_truncate_find_FKs()).
List *ReferencingTables(List *relids) {
  List *result = NIL;
  Relation conRel = table_open(ConstraintRelationId, AccessShareLock);
  SysScanDesc scan = systable_beginscan(conRel, InvalidOid, false, nullptr, 0, nullptr);
  HeapTuple tup;
  while (HeapTupleIsValid(tup = systable_getnext(scan))) {
    auto *con = reinterpret_cast<Form_pg_constraint>(GETSTRUCT(tup));
    if (con->contype == CONSTRAINT_FOREIGN && list_member_oid(relids, con->confrelid) &&
        !list_member_oid(relids, con->conrelid))
      result = list_append_unique_oid(result, con->conrelid);
  }
  systable_endscan(scan);
  table_close(conRel, AccessShareLock);
  return result;
}

// ExecuteTruncate(): each table and (without ONLY) its partitions and inheritance
// children are locked ACCESS EXCLUSIVE; CASCADE adds every table that references
// one of them, repeatedly, with its partitions.
void AnalyzeTruncate(TruncateStmt *stmt, StatementAnalysis *out) {
  SetStatement(out, Statement::Truncate, "TRUNCATE");
  List *truncated = NIL;
  ListCell *lc;
  foreach (lc, stmt->relations) {
    auto *rv = static_cast<RangeVar *>(lfirst(lc));
    const Oid relid = LookupRelation(rv);
    if (!OidIsValid(relid)) continue;
    truncated = list_concat_unique_oid(truncated, rv->inh ? InheritanceTree(relid)
                                                          : list_make1_oid(relid));
    if (IsExemptRelation(relid)) continue;
    AddFinding(out, RuleId::Truncate, relid, AccessExclusiveLock, kBreaks,
               stmt->behavior == DROP_CASCADE ? "TRUNCATE ... CASCADE" : "TRUNCATE");
  }
  if (stmt->behavior == DROP_CASCADE) {
    for (List *added = ReferencingTables(truncated); added != NIL; added = ReferencingTables(truncated)) {
      foreach (lc, added) {
        const Oid relid = lfirst_oid(lc);
        truncated = list_concat_unique_oid(truncated, InheritanceTree(relid));
        if (IsExemptRelation(relid)) continue;
        AddFinding(out, RuleId::Truncate, relid, AccessExclusiveLock, kBreaks, "TRUNCATE ... CASCADE",
                   "It has a foreign key to a truncated table, so CASCADE truncates it too.");
      }
    }
  }
  foreach (lc, truncated)
    if (!IsExemptRelation(lfirst_oid(lc))) AddLockTarget(out, lfirst_oid(lc), AccessExclusiveLock);
}

// typecmds.c get_rels_with_domain(): every relation with a column of the domain or
// of a domain over it is locked SHARE; tables and materialized views are then read.
void RelationsWithDomain(Oid domain, List **relations, int depth) {
  if (depth > 32) return;  // domains over domains this deep do not occur; stop a cycle
  List *derived = NIL;
  const ObjectAddress type = {TypeRelationId, domain, 0};
  ForEachDependent(type, [&derived, relations](const FormData_pg_depend &dep) {
    if (dep.classid == TypeRelationId && get_typtype(dep.objid) == TYPTYPE_DOMAIN)
      derived = lappend_oid(derived, dep.objid);
    else if (dep.classid == RelationRelationId && dep.objsubid > 0)
      *relations = list_append_unique_oid(*relations, dep.objid);
  });
  ListCell *lc;
  foreach (lc, derived) RelationsWithDomain(lfirst_oid(lc), relations, depth + 1);
}

void AnalyzeAlterDomain(AlterDomainStmt *stmt, StatementAnalysis *out) {
  const char *what = nullptr;
  switch (stmt->subtype) {
    case 'C': {  // ADD CONSTRAINT
      auto *con = reinterpret_cast<Constraint *>(stmt->def);
      if (con == nullptr || !IsA(con, Constraint) || con->skip_validation) return;
      what = "ALTER DOMAIN ... ADD CONSTRAINT";
      break;
    }
    case 'O': what = "ALTER DOMAIN ... SET NOT NULL"; break;
    case 'V': what = "ALTER DOMAIN ... VALIDATE CONSTRAINT"; break;
    default: return;
  }
  TypeName *tn = makeTypeNameFromNameList(stmt->typeName);
  const Oid domain = LookupTypeNameOid(nullptr, tn, true);
  if (!OidIsValid(domain)) return;
  SetStatement(out, Statement::AlterDomain, "ALTER DOMAIN");
  List *relations = NIL;
  RelationsWithDomain(domain, &relations, 0);
  ListCell *lc;
  foreach (lc, relations) {
    const Oid relid = lfirst_oid(lc);
    // Only tables and materialized views are read, and keep their lock to the end of
    // the transaction; any other relation (a partitioned parent, a view's composite
    // type) is released at once and waits only behind its partitions' own locks.
    const char kind = get_rel_relkind(relid);
    if (IsExemptRelation(relid) || (kind != RELKIND_RELATION && kind != RELKIND_MATVIEW)) continue;
    AddLockTarget(out, relid, StatementLock(Statement::AlterDomain));
    AddFinding(out, RuleId::AlterDomainScan, relid, StatementLock(Statement::AlterDomain), kScan, what);
  }
}

// The FOREIGN KEYs of a CREATE TABLE: column constraints in their ColumnDef, table
// constraints among the elements (where the parser leaves them: transformCreateStmt()
// moves them to `constraints` only when the statement runs).
template <typename Fn>
void ForEachForeignKey(const CreateStmt *stmt, Fn fn) {
  auto each = [&fn](List *constraints) {
    ListCell *lc;
    foreach (lc, constraints) {
      auto *con = static_cast<Constraint *>(lfirst(lc));
      if (IsA(con, Constraint) && con->contype == CONSTR_FOREIGN) fn(con);
    }
  };
  each(stmt->constraints);
  ListCell *lc;
  foreach (lc, stmt->tableElts) {
    Node *element = static_cast<Node *>(lfirst(lc));
    if (IsA(element, ColumnDef))
      each(reinterpret_cast<ColumnDef *>(element)->constraints);
    else if (IsA(element, Constraint) && reinterpret_cast<Constraint *>(element)->contype == CONSTR_FOREIGN)
      fn(reinterpret_cast<Constraint *>(element));
  }
}

bool IsPartitionOf(const CreateStmt *stmt) {
  return stmt->partbound != nullptr && list_length(stmt->inhRelations) == 1;
}

// Statements judged for their locks only (lock_timeout_missing, lock_conflict),
// plus the default-partition scan of CREATE TABLE ... PARTITION OF.
void AnalyzeCreateTable(CreateStmt *stmt, StatementAnalysis *out) {
  out->command = "CREATE TABLE";
  if (IsPartitionOf(stmt)) {
    // PARTITION OF takes ACCESS EXCLUSIVE on the parent (tablecmds.c DefineRelation).
    const Oid parent = VisibleRelation(static_cast<RangeVar *>(linitial(stmt->inhRelations)));
    if (OidIsValid(parent)) {
      AddLockTarget(out, parent, AccessExclusiveLock);
      if (!stmt->partbound->is_default)
        AnalyzeNewPartitionBound(parent, InvalidOid, stmt->partbound,
                                 psprintf("CREATE TABLE %s PARTITION OF", quote_identifier(stmt->relation->relname)),
                                 out);
    }
  }
  // FOREIGN KEYs lock the referenced tables in SHARE ROW EXCLUSIVE.
  ForEachForeignKey(stmt, [out](const Constraint *con) { LockReferencedTable(out, LookupRelation(con->pktable)); });
}

void AnalyzeLockOnly(Node *stmt, StatementAnalysis *out) {
  switch (nodeTag(stmt)) {
    case T_CreateTrigStmt:
      SetStatement(out, Statement::CreateTrigger, "CREATE TRIGGER");
      AddLockTarget(out, VisibleRelation(reinterpret_cast<CreateTrigStmt *>(stmt)->relation),
                    StatementLock(Statement::CreateTrigger));
      break;
    case T_CreatePolicyStmt:
      SetStatement(out, Statement::CreatePolicy, "CREATE POLICY");
      AddLockTarget(out, VisibleRelation(reinterpret_cast<CreatePolicyStmt *>(stmt)->table),
                    StatementLock(Statement::CreatePolicy));
      break;
    case T_AlterPolicyStmt:
      SetStatement(out, Statement::AlterPolicy, "ALTER POLICY");
      AddLockTarget(out, VisibleRelation(reinterpret_cast<AlterPolicyStmt *>(stmt)->table),
                    StatementLock(Statement::AlterPolicy));
      break;
    case T_ViewStmt: {
      // CREATE OR REPLACE VIEW of an existing view: DefineVirtualRelation() opens it
      // ACCESS EXCLUSIVE.  A new view locks nothing that exists.
      auto *view = reinterpret_cast<ViewStmt *>(stmt);
      if (!view->replace) break;
      const Oid relid = VisibleRelation(view->view);
      if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_VIEW) break;
      SetStatement(out, Statement::CreateOrReplaceView, "CREATE OR REPLACE VIEW");
      AddLockTarget(out, relid, StatementLock(Statement::CreateOrReplaceView));
      break;
    }
    case T_RuleStmt:
      // DefineQueryRewrite(): table_open(event relation, AccessExclusiveLock).
      SetStatement(out, Statement::CreateRule, "CREATE RULE");
      AddLockTarget(out, VisibleRelation(reinterpret_cast<RuleStmt *>(stmt)->relation),
                    StatementLock(Statement::CreateRule));
      break;
    case T_AlterObjectDependsStmt: {
      // ExecAlterObjectDependsStmt(): get_object_address_rv(..., AccessExclusiveLock)
      // locks the index, materialized view or the trigger's table.
      auto *deps = reinterpret_cast<AlterObjectDependsStmt *>(stmt);
      if (deps->relation == nullptr) break;
      if (deps->objectType != OBJECT_INDEX && deps->objectType != OBJECT_MATVIEW &&
          deps->objectType != OBJECT_TRIGGER)
        break;
      const Oid relid = LookupRelation(deps->relation);
      const Oid owner = OidIsValid(relid) && deps->objectType == OBJECT_INDEX ? IndexGetRelation(relid, true) : relid;
      if (!OidIsValid(owner) || IsExemptRelation(owner)) break;
      SetStatement(out, Statement::AlterObjectDepends, "ALTER ... DEPENDS ON EXTENSION");
      AddLockTarget(out, relid, StatementLock(Statement::AlterObjectDepends));
      break;
    }
    case T_AlterSeqStmt:
      SetStatement(out, Statement::AlterSequence, "ALTER SEQUENCE");
      AddLockTarget(out, VisibleRelation(reinterpret_cast<AlterSeqStmt *>(stmt)->sequence),
                    StatementLock(Statement::AlterSequence));
      break;
    case T_LockStmt: {
      auto *lock = reinterpret_cast<LockStmt *>(stmt);
      if (lock->nowait) break;  // fails at once instead of waiting
      SetStatement(out, Statement::LockTable, "LOCK TABLE");
      ListCell *lc;
      // LockTableRecurse(): without ONLY, partitions and inheritance children too.
      foreach (lc, lock->relations) {
        auto *rv = static_cast<RangeVar *>(lfirst(lc));
        LockTree(out, VisibleRelation(rv), rv->inh, lock->mode);
      }
      break;
    }
    default:
      break;
  }
}

}  // namespace

bool IsJudgedStatement(const Node *parsetree) {
  switch (nodeTag(parsetree)) {
    case T_AlterTableStmt:
    case T_IndexStmt:
    case T_ReindexStmt:
    case T_RefreshMatViewStmt:
    case T_VacuumStmt:
    case SG_T_CLUSTER_STMT:
    case T_RenameStmt:
    case T_DropStmt:
    case T_TruncateStmt:
    case T_AlterDomainStmt:
    case T_CreateStmt:
    case T_CreateForeignTableStmt:
    case T_CreateTrigStmt:
    case T_CreatePolicyStmt:
    case T_AlterPolicyStmt:
    case T_LockStmt:
    case T_DropOwnedStmt:
    case T_ReassignOwnedStmt:
    case T_AlterTableMoveAllStmt:
    case T_ViewStmt:
    case T_RuleStmt:
    case T_AlterSeqStmt:
    case T_AlterObjectSchemaStmt:
    case T_AlterObjectDependsStmt:
    case T_CreateSchemaStmt:
      return true;
    default:
      return false;
  }
}

bool NothingToJudge(const Node *parsetree) {
  // Each case is the analyzer's own first test, on the parse tree alone.
  switch (nodeTag(parsetree)) {
    case T_CreateStmt:
    case T_CreateForeignTableStmt: {
      auto *stmt = reinterpret_cast<const CreateStmt *>(parsetree);
      bool references = false;
      ForEachForeignKey(stmt, [&references](const Constraint *) { references = true; });
      return !IsPartitionOf(stmt) && !references;  // a new table, locking nothing that exists
    }
    case T_IndexStmt: return reinterpret_cast<const IndexStmt *>(parsetree)->concurrent;
    case T_RefreshMatViewStmt: return reinterpret_cast<const RefreshMatViewStmt *>(parsetree)->concurrent;
    case T_DropStmt: {
      auto *stmt = reinterpret_cast<const DropStmt *>(parsetree);
      return stmt->removeType == OBJECT_INDEX && stmt->concurrent;
    }
    case T_VacuumStmt: {  // VACUUM without FULL, ANALYZE (an option named "full" is judged, whatever its value)
      auto *stmt = reinterpret_cast<const VacuumStmt *>(parsetree);
      if (!stmt->is_vacuumcmd) return true;
      ListCell *lc;
      foreach (lc, stmt->options)
        if (strcmp(static_cast<DefElem *>(lfirst(lc))->defname, "full") == 0) return false;
      return true;
    }
    case T_LockStmt: return reinterpret_cast<const LockStmt *>(parsetree)->nowait;
    case T_ViewStmt: return !reinterpret_cast<const ViewStmt *>(parsetree)->replace;  // a new view
    case T_CreateSchemaStmt: {  // judged as its elements
      ListCell *lc;
      foreach (lc, reinterpret_cast<const CreateSchemaStmt *>(parsetree)->schemaElts) {
        const Node *element = static_cast<const Node *>(lfirst(lc));
        if (IsJudgedStatement(element) && !NothingToJudge(element)) return false;
      }
      return true;
    }
    default: return false;
  }
}

// The local lock table, asked without the relcache (CheckRelationLockedByMe() needs a
// Relation, and opening one that was dropped meanwhile raises "deleted while still in
// use" outside the analysis' subtransaction).
bool LockHeldByThisTransaction(Oid relid, LOCKMODE lock) {
  LOCKTAG tag;
  SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
  for (LOCKMODE m = lock; m <= MaxLockMode; m++)
    if (SG_LOCK_HELD_BY_ME(&tag, m)) return true;
  return false;
}

LOCKMODE StrongestLockHeld(Oid relid) {
  LOCKTAG tag;
  SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
  for (LOCKMODE m = AccessExclusiveLock; m > ShareLock; m--)
    if (SG_LOCK_HELD_BY_ME(&tag, m)) return m;
  return ShareLock;  // known to a script only as "SHARE or stronger"
}

bool WritesBlockedByThisTransaction(Oid relid, List *held_locks) {
  return list_member_oid(held_locks, relid) || LockHeldByThisTransaction(relid, ShareLock);
}

const ScriptColumn *FindScriptColumn(const StatementAnalysis *out, Oid relid, const char *name) {
  ListCell *lc;
  foreach (lc, out->script_columns) {
    auto *c = static_cast<const ScriptColumn *>(lfirst(lc));
    if (c->relid == relid && name != nullptr && strcmp(c->name, name) == 0) return c;
  }
  return nullptr;
}

namespace {

void AnalyzeCreateSchema(CreateSchemaStmt *stmt, StatementAnalysis *out);

// One statement's analyzer, adding to `out`.
void Dispatch(Node *parsetree, StatementAnalysis *out) {
  switch (nodeTag(parsetree)) {
    case T_AlterTableStmt: AnalyzeAlterTable(reinterpret_cast<AlterTableStmt *>(parsetree), out); break;
    case T_IndexStmt: AnalyzeIndex(reinterpret_cast<IndexStmt *>(parsetree), out); break;
    case T_ReindexStmt: AnalyzeReindex(reinterpret_cast<ReindexStmt *>(parsetree), out); break;
    case T_RefreshMatViewStmt: AnalyzeRefresh(reinterpret_cast<RefreshMatViewStmt *>(parsetree), out); break;
    case T_VacuumStmt: AnalyzeVacuum(reinterpret_cast<VacuumStmt *>(parsetree), out); break;
    case SG_T_CLUSTER_STMT: AnalyzeCluster(reinterpret_cast<SgClusterStmt *>(parsetree), out); break;
    case T_RenameStmt: AnalyzeRename(reinterpret_cast<RenameStmt *>(parsetree), out); break;
    case T_DropStmt: AnalyzeDrop(reinterpret_cast<DropStmt *>(parsetree), out); break;
    case T_DropOwnedStmt: AnalyzeDropOwned(reinterpret_cast<DropOwnedStmt *>(parsetree), out); break;
    case T_ReassignOwnedStmt: AnalyzeReassignOwned(reinterpret_cast<ReassignOwnedStmt *>(parsetree), out); break;
    case T_AlterTableMoveAllStmt:
      AnalyzeAlterTableMoveAll(reinterpret_cast<AlterTableMoveAllStmt *>(parsetree), out);
      break;
    case T_CreateStmt:
    case T_CreateForeignTableStmt:  // a CreateStmt with server options (PARTITION OF locks the parent)
      AnalyzeCreateTable(reinterpret_cast<CreateStmt *>(parsetree), out);
      break;
    case T_ViewStmt:
    case T_RuleStmt:
    case T_AlterSeqStmt:
    case T_AlterObjectDependsStmt:
    case T_CreateTrigStmt:
    case T_CreatePolicyStmt:
    case T_AlterPolicyStmt:
    case T_LockStmt: AnalyzeLockOnly(parsetree, out); break;
    case T_TruncateStmt: AnalyzeTruncate(reinterpret_cast<TruncateStmt *>(parsetree), out); break;
    case T_AlterDomainStmt: AnalyzeAlterDomain(reinterpret_cast<AlterDomainStmt *>(parsetree), out); break;
    case T_AlterObjectSchemaStmt: AnalyzeSetSchema(reinterpret_cast<AlterObjectSchemaStmt *>(parsetree), out); break;
    case T_CreateSchemaStmt: AnalyzeCreateSchema(reinterpret_cast<CreateSchemaStmt *>(parsetree), out); break;
    default: break;
  }
}

// CREATE SCHEMA ... CREATE TABLE / INDEX / TRIGGER ...: ProcessUtility runs each element
// as a sub-statement (which the hook does not judge), so the whole is judged here, as
// the elements would be on their own.
void AnalyzeCreateSchema(CreateSchemaStmt *stmt, StatementAnalysis *out) {
  ListCell *lc;
  foreach (lc, CreateSchemaElements(stmt))
    if (IsJudgedStatement(static_cast<Node *>(lfirst(lc)))) Dispatch(static_cast<Node *>(lfirst(lc)), out);
  out->command = "CREATE SCHEMA";
}

}  // namespace

List *CreateSchemaElements(const CreateSchemaStmt *stmt) {
  const char *schema = stmt->schemaname;
  if (schema == nullptr && stmt->authrole != nullptr) {
    const Oid role = get_rolespec_oid(stmt->authrole, true);
    schema = OidIsValid(role) ? GetUserNameFromId(role, true) : nullptr;
  }
  // An existing schema is an error before any element runs (and IF NOT EXISTS takes no
  // elements).
  if (schema == nullptr || stmt->schemaElts == NIL || OidIsValid(get_namespace_oid(schema, true))) return NIL;
  bool refused = false;
  // setSchemaName(): the element's own object is in the new schema (another schema named
  // is an error).
  auto own = [schema, &refused](RangeVar *rv) {
    if (rv == nullptr) return;
    if (rv->schemaname != nullptr && strcmp(rv->schemaname, schema) != 0) refused = true;
    rv->schemaname = pstrdup(schema);
  };
  // transformCreateSchemaStmt()'s order: sequences, tables, views, indexes, triggers.
  List *sequences = NIL, *tables = NIL, *views = NIL, *indexes = NIL, *triggers = NIL;
  ListCell *lc;
  foreach (lc, stmt->schemaElts) {
    Node *element = static_cast<Node *>(copyObjectImpl(lfirst(lc)));
    switch (nodeTag(element)) {
      case T_CreateSeqStmt:
        own(reinterpret_cast<CreateSeqStmt *>(element)->sequence);
        sequences = lappend(sequences, element);
        break;
      case T_CreateStmt:
        own(reinterpret_cast<CreateStmt *>(element)->relation);
        tables = lappend(tables, element);
        break;
      case T_ViewStmt:
        own(reinterpret_cast<ViewStmt *>(element)->view);
        views = lappend(views, element);
        break;
      case T_IndexStmt:
        own(reinterpret_cast<IndexStmt *>(element)->relation);
        indexes = lappend(indexes, element);
        break;
      case T_CreateTrigStmt:
        own(reinterpret_cast<CreateTrigStmt *>(element)->relation);
        triggers = lappend(triggers, element);
        break;
      default:
        break;  // GRANT: nothing to judge
    }
  }
  if (refused) return NIL;  // PostgreSQL reports the schema mismatch
  List *elements = list_concat(list_concat(list_concat(list_concat(sequences, tables), views), indexes), triggers);
  // While the elements run the new schema is first on the search path: an unqualified
  // name of a relation an earlier element created finds it there, not an existing one.
  List *created = NIL;
  auto reference = [schema, &created](RangeVar *rv) {
    if (rv == nullptr || rv->schemaname != nullptr || rv->relname == nullptr) return;
    ListCell *c;
    foreach (c, created)
      if (strcmp(static_cast<const char *>(lfirst(c)), rv->relname) == 0) rv->schemaname = pstrdup(schema);
  };
  foreach (lc, elements) {
    Node *element = static_cast<Node *>(lfirst(lc));
    const RangeVar *made = nullptr;
    switch (nodeTag(element)) {
      case T_CreateSeqStmt: made = reinterpret_cast<CreateSeqStmt *>(element)->sequence; break;
      case T_CreateStmt: {
        auto *create = reinterpret_cast<CreateStmt *>(element);
        ListCell *parent;
        foreach (parent, create->inhRelations) reference(static_cast<RangeVar *>(lfirst(parent)));
        // its FOREIGN KEYs are added once it exists: one may reference the table itself
        if (create->relation != nullptr && create->relation->relname != nullptr)
          created = lappend(created, create->relation->relname);
        ForEachForeignKey(create, [&reference](const Constraint *con) { reference(con->pktable); });
        break;
      }
      case T_ViewStmt: made = reinterpret_cast<ViewStmt *>(element)->view; break;
      case T_CreateTrigStmt: reference(reinterpret_cast<CreateTrigStmt *>(element)->constrrel); break;
      default: break;
    }
    if (made != nullptr && made->relname != nullptr) created = lappend(created, made->relname);
  }
  return elements;
}

void AnalyzeStatement(Node *parsetree, StatementAnalysis *out, List *held_locks, List *script_columns) {
  out->held_locks = held_locks;
  out->script_columns = script_columns;
  out->findings = NIL;
  out->lock_targets = NIL;
  out->rewrites = NIL;
  out->command = "statement";
  out->statement = -1;
  Dispatch(parsetree, out);
}

}  // namespace schema_guard::analysis
