// Dispatch by statement type, and the analyzers for every family but ALTER TABLE.
// Lock modes are the ones the server code requests (indexcmds.c, index.c,
// matview.c, cluster.c, vacuum.c, typecmds.c, tablecmds.c RenameRelation/renameatt).
#include "analysis/analysis.hpp"

namespace schema_guard::analysis {
namespace {

using policy::RuleId;

bool HasOption(List *options, const char *name) {
  ListCell *lc;
  foreach (lc, options) {
    auto *opt = static_cast<DefElem *>(lfirst(lc));
    if (strcmp(opt->defname, name) == 0) return defGetBoolean(opt);
  }
  return false;
}

// An existing relation that others can see, or InvalidOid.
Oid VisibleRelation(const RangeVar *rv) {
  const Oid relid = LookupRelation(rv);
  return OidIsValid(relid) && !IsExemptRelation(relid) ? relid : InvalidOid;
}

void AnalyzeIndex(IndexStmt *stmt, StatementAnalysis *out) {
  if (stmt->concurrent) return;
  const Oid relid = VisibleRelation(stmt->relation);
  if (!OidIsValid(relid)) return;
  // CREATE INDEX ... ON ONLY a partitioned parent creates an invalid index and builds nothing.
  if (get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE && !stmt->relation->inh) return;
  if (stmt->if_not_exists && stmt->idxname != nullptr &&
      OidIsValid(get_relname_relid(stmt->idxname, get_rel_namespace(relid))))
    return;
  out->command = "CREATE INDEX";
  AddLockTarget(out, relid, ShareLock);
  AddFinding(out, RuleId::CreateIndexBlocking, relid, ShareLock, kIndexBuild,
             stmt->idxname ? psprintf("CREATE %sINDEX %s", stmt->unique ? "UNIQUE " : "",
                                      quote_identifier(stmt->idxname))
                           : (stmt->unique ? "CREATE UNIQUE INDEX" : "CREATE INDEX"));
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
      AddFinding(out, RuleId::ReindexBlocking, relid, ShareLock, kIndexBuild,
                 psprintf("REINDEX INDEX %s", quote_identifier(stmt->relation->relname)),
                 "The index itself is locked ACCESS EXCLUSIVE: queries that would use it wait too.");
      return;
    }
    case REINDEX_OBJECT_TABLE: {
      const Oid relid = VisibleRelation(stmt->relation);
      if (!OidIsValid(relid)) return;
      AddLockTarget(out, relid, ShareLock);
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

void AnalyzeVacuum(VacuumStmt *stmt, StatementAnalysis *out) {
  if (!stmt->is_vacuumcmd || !HasOption(stmt->options, "full")) return;
  out->command = "VACUUM FULL";
  if (stmt->rels == NIL) {
    AddFinding(out, RuleId::VacuumFull, InvalidOid, AccessExclusiveLock, kRewrite, "VACUUM FULL");
    static_cast<Finding *>(llast(out->findings))->rel_text = "every table in the database";
    return;
  }
  ListCell *lc;
  foreach (lc, stmt->rels) {
    auto *vrel = static_cast<VacuumRelation *>(lfirst(lc));
    const Oid relid = VisibleRelation(vrel->relation);
    if (!OidIsValid(relid)) continue;
    AddLockTarget(out, relid, AccessExclusiveLock);
    AddFinding(out, RuleId::VacuumFull, relid, AccessExclusiveLock, kRewrite, "VACUUM FULL");
  }
}

void AnalyzeCluster(ClusterStmt *stmt, StatementAnalysis *out) {
  out->command = "CLUSTER";
  if (stmt->relation == nullptr) {
    AddFinding(out, RuleId::Cluster, InvalidOid, AccessExclusiveLock, kRewrite, "CLUSTER");
    static_cast<Finding *>(llast(out->findings))->rel_text = "every previously clustered table";
    return;
  }
  const Oid relid = VisibleRelation(stmt->relation);
  if (!OidIsValid(relid)) return;
  AddLockTarget(out, relid, AccessExclusiveLock);
  AddFinding(out, RuleId::Cluster, relid, AccessExclusiveLock, kRewrite, "CLUSTER");
}

void AnalyzeRename(RenameStmt *stmt, StatementAnalysis *out) {
  switch (stmt->renameType) {
    case OBJECT_TABLE:
    case OBJECT_VIEW:
    case OBJECT_MATVIEW:
    case OBJECT_FOREIGN_TABLE:
    case OBJECT_INDEX: {  // ALTER INDEX ... RENAME accepts a table too (RangeVarCallbackForAlterRelation)
      const Oid relid = VisibleRelation(stmt->relation);
      if (!OidIsValid(relid)) return;
      const char kind = get_rel_relkind(relid);
      if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE && kind != RELKIND_VIEW &&
          kind != RELKIND_MATVIEW && kind != RELKIND_FOREIGN_TABLE)
        return;
      // ALTER VIEW / MATERIALIZED VIEW / FOREIGN TABLE insist on their own kind: PostgreSQL
      // reports a mismatch itself.
      if ((stmt->renameType == OBJECT_VIEW && kind != RELKIND_VIEW) ||
          (stmt->renameType == OBJECT_MATVIEW && kind != RELKIND_MATVIEW) ||
          (stmt->renameType == OBJECT_FOREIGN_TABLE && kind != RELKIND_FOREIGN_TABLE))
        return;
      out->command = "ALTER TABLE";
      AddLockTarget(out, relid, AccessExclusiveLock);
      AddFinding(out, RuleId::RenameTable, relid, AccessExclusiveLock, kBreaks,
                 psprintf("RENAME TO %s", quote_identifier(stmt->newname)));
      return;
    }
    case OBJECT_COLUMN: {
      const Oid relid = VisibleRelation(stmt->relation);
      if (!OidIsValid(relid) || stmt->subname == nullptr) return;
      HeapTuple att = SearchSysCacheAttName(relid, stmt->subname);
      if (att == nullptr) return;
      ReleaseSysCache(att);
      out->command = "ALTER TABLE";
      AddLockTarget(out, relid, AccessExclusiveLock);
      AddFinding(out, RuleId::RenameColumn, relid, AccessExclusiveLock, kBreaks,
                 psprintf("column %s", quote_identifier(stmt->subname)));
      return;
    }
    default:
      return;
  }
}

void AnalyzeDrop(DropStmt *stmt, StatementAnalysis *out) {
  if (stmt->removeType != OBJECT_TABLE && stmt->removeType != OBJECT_INDEX) return;
  ListCell *lc;
  foreach (lc, stmt->objects) {
    RangeVar *rv = makeRangeVarFromNameList(static_cast<List *>(lfirst(lc)));
    const Oid objid = LookupRelation(rv);
    if (!OidIsValid(objid)) continue;
    if (stmt->removeType == OBJECT_TABLE) {
      if (IsExemptRelation(objid)) continue;
      out->command = "DROP TABLE";
      AddLockTarget(out, objid, AccessExclusiveLock);
      AddFinding(out, RuleId::DropTable, objid, AccessExclusiveLock, kBreaks, "DROP TABLE");
    } else {
      if (stmt->concurrent || get_rel_relkind(objid) != RELKIND_INDEX) continue;
      const Oid relid = IndexGetRelation(objid, true);
      if (!OidIsValid(relid) || IsExemptRelation(relid)) continue;
      out->command = "DROP INDEX";
      AddLockTarget(out, relid, AccessExclusiveLock);
      AddFinding(out, RuleId::DropIndexBlocking, relid, AccessExclusiveLock, 0,
                 psprintf("DROP INDEX %s", quote_identifier(rv->relname)));
    }
  }
}

void AnalyzeTruncate(TruncateStmt *stmt, StatementAnalysis *out) {
  ListCell *lc;
  foreach (lc, stmt->relations) {
    const Oid relid = VisibleRelation(static_cast<RangeVar *>(lfirst(lc)));
    if (!OidIsValid(relid)) continue;
    out->command = "TRUNCATE";
    AddLockTarget(out, relid, AccessExclusiveLock);
    AddFinding(out, RuleId::Truncate, relid, AccessExclusiveLock, kBreaks,
               stmt->behavior == DROP_CASCADE ? "TRUNCATE ... CASCADE" : "TRUNCATE");
  }
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
  out->command = "ALTER DOMAIN";
  // Columns of the domain type are recorded as normal dependencies of pg_class rows.
  ScanKeyData key[2];
  ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
              ObjectIdGetDatum(TypeRelationId));
  ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(domain));
  Relation depRel = table_open(DependRelationId, AccessShareLock);
  SysScanDesc scan = systable_beginscan(depRel, DependReferenceIndexId, true, nullptr, 2, key);
  List *seen = NIL;
  HeapTuple tup;
  while (HeapTupleIsValid(tup = systable_getnext(scan))) {
    auto *dep = reinterpret_cast<Form_pg_depend>(GETSTRUCT(tup));
    if (dep->classid != RelationRelationId || dep->objsubid <= 0 || list_member_oid(seen, dep->objid)) continue;
    const char kind = get_rel_relkind(dep->objid);
    if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE) continue;
    seen = lappend_oid(seen, dep->objid);
  }
  systable_endscan(scan);
  table_close(depRel, AccessShareLock);
  ListCell *lc;
  foreach (lc, seen) {
    const Oid relid = lfirst_oid(lc);
    if (IsExemptRelation(relid)) continue;
    AddLockTarget(out, relid, ShareLock);
    AddFinding(out, RuleId::AlterDomainScan, relid, ShareLock, kScan, what);
  }
}

// Statements judged for their locks only (lock_timeout_missing, lock_conflict),
// plus the default-partition scan of CREATE TABLE ... PARTITION OF.
void AnalyzeCreateTable(CreateStmt *stmt, StatementAnalysis *out) {
  out->command = "CREATE TABLE";
  if (stmt->partbound != nullptr && list_length(stmt->inhRelations) == 1) {
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
  List *constraints = list_copy(stmt->constraints);
  ListCell *lc;
  foreach (lc, stmt->tableElts)
    if (IsA(lfirst(lc), ColumnDef)) constraints = list_concat(constraints, static_cast<ColumnDef *>(lfirst(lc))->constraints);
  foreach (lc, constraints) {
    auto *con = static_cast<Constraint *>(lfirst(lc));
    if (IsA(con, Constraint) && con->contype == CONSTR_FOREIGN) {
      const Oid pk = VisibleRelation(con->pktable);
      if (OidIsValid(pk)) AddLockTarget(out, pk, ShareRowExclusiveLock);
    }
  }
}

void AnalyzeLockOnly(Node *stmt, StatementAnalysis *out) {
  switch (nodeTag(stmt)) {
    case T_CreateTrigStmt:
      out->command = "CREATE TRIGGER";
      AddLockTarget(out, VisibleRelation(reinterpret_cast<CreateTrigStmt *>(stmt)->relation), ShareRowExclusiveLock);
      break;
    case T_CreatePolicyStmt:
      out->command = "CREATE POLICY";
      AddLockTarget(out, VisibleRelation(reinterpret_cast<CreatePolicyStmt *>(stmt)->table), AccessExclusiveLock);
      break;
    case T_AlterPolicyStmt:
      out->command = "ALTER POLICY";
      AddLockTarget(out, VisibleRelation(reinterpret_cast<AlterPolicyStmt *>(stmt)->table), AccessExclusiveLock);
      break;
    case T_LockStmt: {
      auto *lock = reinterpret_cast<LockStmt *>(stmt);
      if (lock->nowait) break;  // fails at once instead of waiting
      out->command = "LOCK TABLE";
      ListCell *lc;
      foreach (lc, lock->relations) AddLockTarget(out, VisibleRelation(static_cast<RangeVar *>(lfirst(lc))), lock->mode);
      break;
    }
    default:
      break;
  }
}

// DROP TRIGGER / DROP POLICY name the table in all but the last name.
void AnalyzeDropOnTable(DropStmt *stmt, StatementAnalysis *out) {
  out->command = stmt->removeType == OBJECT_TRIGGER ? "DROP TRIGGER" : "DROP POLICY";
  ListCell *lc;
  foreach (lc, stmt->objects) {
    List *names = static_cast<List *>(lfirst(lc));
    if (list_length(names) < 2) continue;
    RangeVar *rv = makeRangeVarFromNameList(list_truncate(list_copy(names), list_length(names) - 1));
    AddLockTarget(out, VisibleRelation(rv), AccessExclusiveLock);
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
    case T_ClusterStmt:
    case T_RenameStmt:
    case T_DropStmt:
    case T_TruncateStmt:
    case T_AlterDomainStmt:
    case T_CreateStmt:
    case T_CreateTrigStmt:
    case T_CreatePolicyStmt:
    case T_AlterPolicyStmt:
    case T_LockStmt:
      return true;
    default:
      return false;
  }
}

bool LockHeldByThisTransaction(Oid relid, LOCKMODE lock) {
  Relation rel = RelationIdGetRelation(relid);
  if (rel == nullptr) return false;
  const bool held = CheckRelationLockedByMe(rel, lock, true);
  RelationClose(rel);
  return held;
}

bool WritesBlockedByThisTransaction(Oid relid, List *held_locks) {
  return list_member_oid(held_locks, relid) || LockHeldByThisTransaction(relid, ShareLock);
}

void AnalyzeStatement(Node *parsetree, StatementAnalysis *out, List *held_locks) {
  out->held_locks = held_locks;
  out->findings = NIL;
  out->lock_targets = NIL;
  out->rewrites = NIL;
  out->command = "statement";
  switch (nodeTag(parsetree)) {
    case T_AlterTableStmt: AnalyzeAlterTable(reinterpret_cast<AlterTableStmt *>(parsetree), out); break;
    case T_IndexStmt: AnalyzeIndex(reinterpret_cast<IndexStmt *>(parsetree), out); break;
    case T_ReindexStmt: AnalyzeReindex(reinterpret_cast<ReindexStmt *>(parsetree), out); break;
    case T_RefreshMatViewStmt: AnalyzeRefresh(reinterpret_cast<RefreshMatViewStmt *>(parsetree), out); break;
    case T_VacuumStmt: AnalyzeVacuum(reinterpret_cast<VacuumStmt *>(parsetree), out); break;
    case T_ClusterStmt: AnalyzeCluster(reinterpret_cast<ClusterStmt *>(parsetree), out); break;
    case T_RenameStmt: AnalyzeRename(reinterpret_cast<RenameStmt *>(parsetree), out); break;
    case T_DropStmt: {
      auto *drop = reinterpret_cast<DropStmt *>(parsetree);
      if (drop->removeType == OBJECT_TRIGGER || drop->removeType == OBJECT_POLICY)
        AnalyzeDropOnTable(drop, out);
      else
        AnalyzeDrop(drop, out);
      break;
    }
    case T_CreateStmt: AnalyzeCreateTable(reinterpret_cast<CreateStmt *>(parsetree), out); break;
    case T_CreateTrigStmt:
    case T_CreatePolicyStmt:
    case T_AlterPolicyStmt:
    case T_LockStmt: AnalyzeLockOnly(parsetree, out); break;
    case T_TruncateStmt: AnalyzeTruncate(reinterpret_cast<TruncateStmt *>(parsetree), out); break;
    case T_AlterDomainStmt: AnalyzeAlterDomain(reinterpret_cast<AlterDomainStmt *>(parsetree), out); break;
    default: break;
  }
}

}  // namespace schema_guard::analysis
