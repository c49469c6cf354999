// What the caller may do and see.  The hook runs before PostgreSQL's own permission
// checks: a role that may not run a statement must get PostgreSQL's "must be owner"
// or "permission denied", not the guard's verdict (which would also tell it sizes and
// lock holders of tables it has no privilege on).  The checks are the ones the server
// makes for each statement (ownership, or the ACL bit it tests), read without raising
// an error when the object is gone: a vanished object is PostgreSQL's to report.
#include "analysis/analysis.hpp"

namespace schema_guard::analysis {
namespace {

constexpr AclMode kAnyTablePrivilege = ACL_SELECT | ACL_INSERT | ACL_UPDATE | ACL_DELETE | ACL_TRUNCATE |
                                       ACL_REFERENCES | ACL_TRIGGER;

// Ownership as pg_class_ownercheck() decides it (superusers own everything).
bool OwnsRelation(Oid relid) {
  if (!OidIsValid(relid)) return true;  // missing: PostgreSQL says so
  HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (tup == nullptr) return true;
  const Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup))->relowner;
  ReleaseSysCache(tup);
  return has_privs_of_role(GetUserId(), owner);
}

bool OwnsNamespace(Oid nsp) {
  HeapTuple tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nsp));
  if (tup == nullptr) return true;
  const Oid owner = reinterpret_cast<Form_pg_namespace>(GETSTRUCT(tup))->nspowner;
  ReleaseSysCache(tup);
  return has_privs_of_role(GetUserId(), owner);
}

bool HasTablePrivilege(Oid relid, AclMode mode) {
  if (!OidIsValid(relid)) return true;
  // any of the mode's privileges (pg_class_aclcheck is pg_class_aclmask with ACLMASK_ANY)
  bool missing = false;
  const AclResult result = pg_class_aclcheck_ext(relid, GetUserId(), mode, &missing);
  return missing || result == ACLCHECK_OK;
}

bool Owns(const RangeVar *rv) { return rv == nullptr || OwnsRelation(LookupRelation(rv)); }

// LockTableAclCheck(): the privilege LOCK TABLE needs for a mode.
AclMode LockPrivilege(LOCKMODE mode) {
  if (mode == AccessShareLock) return ACL_SELECT | ACL_UPDATE | ACL_DELETE | ACL_TRUNCATE;
  if (mode == RowExclusiveLock) return ACL_INSERT | ACL_UPDATE | ACL_DELETE | ACL_TRUNCATE;
  return ACL_UPDATE | ACL_DELETE | ACL_TRUNCATE;
}

bool MayAlterTable(const AlterTableStmt *stmt) {
  if (!Owns(stmt->relation)) return false;  // ATSimplePermissions(): must be owner
  ListCell *lc;
  foreach (lc, stmt->cmds) {
    auto *cmd = static_cast<AlterTableCmd *>(lfirst(lc));
    if (cmd->subtype == AT_AttachPartition && cmd->def != nullptr && IsA(cmd->def, PartitionCmd) &&
        !Owns(reinterpret_cast<PartitionCmd *>(cmd->def)->name))
      return false;  // the attached table must be owned too
    if (cmd->subtype == AT_AddConstraint && cmd->def != nullptr && IsA(cmd->def, Constraint)) {
      auto *con = reinterpret_cast<Constraint *>(cmd->def);
      if (con->contype == CONSTR_FOREIGN && !HasTablePrivilege(LookupRelation(con->pktable), ACL_REFERENCES))
        return false;  // checkFkeyPermissions()
    }
  }
  return true;
}

bool OwnsType(Oid typid) {
  HeapTuple tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
  if (tup == nullptr) return true;
  const Oid owner = reinterpret_cast<Form_pg_type>(GETSTRUCT(tup))->typowner;
  ReleaseSysCache(tup);
  return has_privs_of_role(GetUserId(), owner);
}

// DROP OWNED / REASSIGN OWNED: the caller must have the privileges of every role named.
bool MemberOfAll(List *roles) {
  ListCell *lc;
  foreach (lc, roles) {
    const Oid role = get_rolespec_oid(static_cast<RoleSpec *>(lfirst(lc)), true);
    if (OidIsValid(role) && !has_privs_of_role(GetUserId(), role)) return false;
  }
  return true;
}

bool MayDrop(const DropStmt *stmt) {
  ListCell *lc;
  switch (stmt->removeType) {
    case OBJECT_TABLE:
    case OBJECT_INDEX:
    case OBJECT_VIEW:
    case OBJECT_MATVIEW:
    case OBJECT_SEQUENCE:
    case OBJECT_FOREIGN_TABLE:
    case OBJECT_TRIGGER:
    case OBJECT_POLICY:
    case OBJECT_RULE:
      break;
    case OBJECT_TYPE:
    case OBJECT_DOMAIN:
      foreach (lc, stmt->objects) {
        const Oid typid = LookupTypeNameOid(nullptr, static_cast<TypeName *>(lfirst(lc)), true);
        if (OidIsValid(typid) && !OwnsType(typid)) return false;
      }
      return true;
    case OBJECT_SCHEMA:
      foreach (lc, stmt->objects) {
        const Oid nsp = get_namespace_oid(strVal(lfirst(lc)), true);
        if (OidIsValid(nsp) && !OwnsNamespace(nsp)) return false;
      }
      return true;
    default:
      // Other objects (functions, operators, ...): PostgreSQL's ownership check
      // comes after the guard's verdict.
      return true;
  }
  foreach (lc, stmt->objects) {
    List *names = static_cast<List *>(lfirst(lc));
    if (stmt->removeType == OBJECT_TRIGGER || stmt->removeType == OBJECT_POLICY || stmt->removeType == OBJECT_RULE) {
      if (list_length(names) < 2) continue;
      if (!Owns(makeRangeVarFromNameList(list_truncate(list_copy(names), list_length(names) - 1)))) return false;
      continue;
    }
    const Oid relid = LookupRelation(makeRangeVarFromNameList(names));
    // RemoveRelations(): the owner of the relation or of its schema
    if (!OwnsRelation(relid) && !OwnsNamespace(get_rel_namespace(relid))) return false;
  }
  return true;
}

}  // namespace

bool CallerMayInspect(Oid relid) {
  return OwnsRelation(relid) || HasTablePrivilege(relid, kAnyTablePrivilege);
}

bool CallerMayRun(Node *parsetree) {
  ListCell *lc;
  switch (nodeTag(parsetree)) {
    case T_AlterTableStmt: return MayAlterTable(reinterpret_cast<AlterTableStmt *>(parsetree));
    case T_IndexStmt: return Owns(reinterpret_cast<IndexStmt *>(parsetree)->relation);
    case T_RefreshMatViewStmt: return Owns(reinterpret_cast<RefreshMatViewStmt *>(parsetree)->relation);
    case SG_T_CLUSTER_STMT: return Owns(SG_CLUSTER_RELATION(reinterpret_cast<SgClusterStmt *>(parsetree)));
    case T_ReindexStmt: {
      auto *stmt = reinterpret_cast<ReindexStmt *>(parsetree);
      switch (stmt->kind) {
        case REINDEX_OBJECT_INDEX:
        case REINDEX_OBJECT_TABLE: return Owns(stmt->relation);
        case REINDEX_OBJECT_SCHEMA: {
          const Oid nsp = get_namespace_oid(stmt->name, true);
          return !OidIsValid(nsp) || OwnsNamespace(nsp);
        }
        default: return SG_DATABASE_OWNERCHECK(MyDatabaseId, GetUserId());
      }
    }
    case T_RenameStmt: {
      auto *stmt = reinterpret_cast<RenameStmt *>(parsetree);
      if (stmt->renameType == OBJECT_SCHEMA) {
        const Oid nsp = stmt->subname ? get_namespace_oid(stmt->subname, true) : InvalidOid;
        return !OidIsValid(nsp) || OwnsNamespace(nsp);
      }
      return Owns(stmt->relation);
    }
    case T_AlterObjectSchemaStmt: return Owns(reinterpret_cast<AlterObjectSchemaStmt *>(parsetree)->relation);
    case T_DropStmt: return MayDrop(reinterpret_cast<DropStmt *>(parsetree));
    case T_TruncateStmt:
      foreach (lc, reinterpret_cast<TruncateStmt *>(parsetree)->relations)
        if (!HasTablePrivilege(LookupRelation(static_cast<RangeVar *>(lfirst(lc))), ACL_TRUNCATE)) return false;
      return true;
    case T_AlterDomainStmt: {
      TypeName *tn = makeTypeNameFromNameList(reinterpret_cast<AlterDomainStmt *>(parsetree)->typeName);
      const Oid domain = LookupTypeNameOid(nullptr, tn, true);
      if (!OidIsValid(domain)) return true;
      HeapTuple tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(domain));
      if (tup == nullptr) return true;
      const Oid owner = reinterpret_cast<Form_pg_type>(GETSTRUCT(tup))->typowner;
      ReleaseSysCache(tup);
      return has_privs_of_role(GetUserId(), owner);
    }
    case T_CreateStmt: {
      auto *stmt = reinterpret_cast<CreateStmt *>(parsetree);
      // PARTITION OF / INHERITS: the parents must be owned (MergeAttributes())
      foreach (lc, stmt->inhRelations)
        if (!Owns(static_cast<RangeVar *>(lfirst(lc)))) return false;
      return true;
    }
    case T_CreateTrigStmt:
      return HasTablePrivilege(LookupRelation(reinterpret_cast<CreateTrigStmt *>(parsetree)->relation), ACL_TRIGGER);
    case T_CreatePolicyStmt: return Owns(reinterpret_cast<CreatePolicyStmt *>(parsetree)->table);
    case T_AlterPolicyStmt: return Owns(reinterpret_cast<AlterPolicyStmt *>(parsetree)->table);
    case T_DropOwnedStmt: return MemberOfAll(reinterpret_cast<DropOwnedStmt *>(parsetree)->roles);
    case T_ReassignOwnedStmt: {
      auto *stmt = reinterpret_cast<ReassignOwnedStmt *>(parsetree);
      if (!MemberOfAll(stmt->roles)) return false;
      const Oid newrole = get_rolespec_oid(stmt->newrole, true);
      return !OidIsValid(newrole) || has_privs_of_role(GetUserId(), newrole);
    }
    case T_ViewStmt: return Owns(reinterpret_cast<ViewStmt *>(parsetree)->view);  // OR REPLACE of an existing view
    case T_RuleStmt: return Owns(reinterpret_cast<RuleStmt *>(parsetree)->relation);
    case T_AlterSeqStmt: return Owns(reinterpret_cast<AlterSeqStmt *>(parsetree)->sequence);
    case T_LockStmt: {
      auto *stmt = reinterpret_cast<LockStmt *>(parsetree);
      foreach (lc, stmt->relations)
        if (!HasTablePrivilege(LookupRelation(static_cast<RangeVar *>(lfirst(lc))), LockPrivilege(stmt->mode)))
          return false;
      return true;
    }
    default:
      // VACUUM skips (with a WARNING) the tables the caller may not vacuum: judged,
      // with sizes and lock holders shown only where CallerMayInspect().
      return true;
  }
}

}  // namespace schema_guard::analysis
