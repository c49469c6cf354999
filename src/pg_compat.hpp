// Version differences between the PostgreSQL majors schema_guard builds against, and
// the only place that names a major: scripts/matrix.sh builds 15, 17, 18 and 19 with
// -Werror (16 lies between 15 and 17 but has no headers on Debian or npm; 14 neither).
#pragma once

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 200000
#error "schema_guard builds against PostgreSQL 15 to 19"
#endif

// The library's version, from the control file's default_version (see the Makefile).
#ifndef SG_VERSION
#error "SG_VERSION is not defined: build with the Makefile"
#endif

// 18 lets a module name itself and its version in its magic block (shown by
// pg_get_loaded_modules()); older majors have the plain block.
#ifdef PG_MODULE_MAGIC_EXT
#define SG_MODULE_MAGIC PG_MODULE_MAGIC_EXT(.name = "schema_guard", .version = SG_VERSION)
#else
#define SG_MODULE_MAGIC PG_MODULE_MAGIC
#endif

#if PG_VERSION_NUM >= 160000
#define SG_GUC_MALLOC(size) guc_malloc(LOG, (size))
#define SG_GUC_FREE(ptr) guc_free(ptr)
#else
#define SG_GUC_MALLOC(size) malloc(size)
#define SG_GUC_FREE(ptr) free(ptr)
#endif

// Tree walkers: PostgreSQL 15 declares the callback as bool (*)() (no
// prototype, which C++ cannot convert to); 16+ casts it in a macro.
#if PG_VERSION_NUM < 160000
#define SG_WALKER(fn) reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(fn))
#else
#define SG_WALKER(fn) (fn)
#endif
#if PG_VERSION_NUM < 160000
#define SG_MUTATOR(fn) reinterpret_cast<Node *(*)()>(reinterpret_cast<void (*)()>(fn))
#else
#define SG_MUTATOR(fn) (fn)
#endif

// A backend's entry in this transaction's activity snapshot, by 1-based index.
// PostgreSQL 16 renamed pgstat_fetch_stat_local_beentry() (gone since) to
// pgstat_get_local_beentry_by_index(); same index base, same NULL when out of range.
#if PG_VERSION_NUM >= 160000
#define SG_LOCAL_BEENTRY(index) pgstat_get_local_beentry_by_index(index)
#else
#define SG_LOCAL_BEENTRY(index) pgstat_fetch_stat_local_beentry(index)
#endif

// 19's DomainHasConstraints() also says whether a CHECK constraint is volatile (NULL:
// not asked).  The analysis asks only whether there are constraints, as 15 to 18 decide
// rewrites; 19 may skip the rewrite of ADD COLUMN for non-volatile domain constraints
// (there is no 19 server or source here to observe it), which makes the guard's verdict
// on 19 the stricter one.
#if PG_VERSION_NUM >= 190000
#define SG_DOMAIN_HAS_CONSTRAINTS(type_id) DomainHasConstraints((type_id), nullptr)
#else
#define SG_DOMAIN_HAS_CONSTRAINTS(type_id) DomainHasConstraints(type_id)
#endif

// 19 parses CLUSTER as one form of REPACK (RepackStmt; its relation is a VacuumRelation).
// The other forms, REPACK and its CONCURRENTLY option, cannot be observed here (no 19
// server): they are judged like CLUSTER, a rewrite under ACCESS EXCLUSIVE, the stricter
// verdict.
#if PG_VERSION_NUM >= 190000
using SgClusterStmt = RepackStmt;
#define SG_T_CLUSTER_STMT T_RepackStmt
#define SG_CLUSTER_RELATION(stmt) ((stmt)->relation != nullptr ? (stmt)->relation->relation : nullptr)
#define SG_CLUSTER_COMMAND(stmt) ((stmt)->command == REPACK_COMMAND_CLUSTER ? "CLUSTER" \
                                  : (stmt)->command == REPACK_COMMAND_VACUUMFULL ? "VACUUM FULL" : "REPACK")
#else
using SgClusterStmt = ClusterStmt;
#define SG_T_CLUSTER_STMT T_ClusterStmt
#define SG_CLUSTER_RELATION(stmt) ((stmt)->relation)
#define SG_CLUSTER_COMMAND(stmt) "CLUSTER"
#endif

// 19 has no standard_conforming_strings = off (its check hook refuses it) and no
// escape_string_warning: string literals are always standard there.
#if PG_VERSION_NUM >= 190000
#define SG_NONSTANDARD_STRINGS_POSSIBLE false
#define SG_STANDARD_CONFORMING_STRINGS true
#define SG_ESCAPE_STRING_WARNING false
#else
#define SG_NONSTANDARD_STRINGS_POSSIBLE true
#define SG_STANDARD_CONFORMING_STRINGS standard_conforming_strings
#define SG_ESCAPE_STRING_WARNING escape_string_warning
#endif

// A syscache invalidation callback's cache id: an enum from 19 on.
#if PG_VERSION_NUM >= 190000
using SgSysCacheId = SysCacheIdentifier;
#else
using SgSysCacheId = int;
#endif

// This backend's local transaction id: inside PGPROC.vxid from 17 on.
#if PG_VERSION_NUM >= 170000
#define SG_MY_LXID (MyProc->vxid.lxid)
#else
#define SG_MY_LXID (MyProc->lxid)
#endif

// stringToQualifiedNameList() takes a soft-error context from 16 on (NULL: raise).
#if PG_VERSION_NUM >= 160000
#define SG_STRING_TO_QUALIFIED_NAME_LIST(string) stringToQualifiedNameList((string), nullptr)
#else
#define SG_STRING_TO_QUALIFIED_NAME_LIST(string) stringToQualifiedNameList(string)
#endif

// build_attrmap_by_name() takes missing_ok from 16 on (false: as 15 behaves, an error).
#if PG_VERSION_NUM >= 160000
#define SG_BUILD_ATTRMAP_BY_NAME(indesc, outdesc) build_attrmap_by_name((indesc), (outdesc), false)
#else
#define SG_BUILD_ATTRMAP_BY_NAME(indesc, outdesc) build_attrmap_by_name((indesc), (outdesc))
#endif

// 18: a generated column can be VIRTUAL, computed when read: adding one or changing its
// expression rewrites nothing (tablecmds.c ATExecAddColumn, ATExecSetExpression).
#if PG_VERSION_NUM >= 180000
#define SG_GENERATED_VIRTUAL(constraint) ((constraint)->generated_kind == ATTRIBUTE_GENERATED_VIRTUAL)
#define SG_ATTGENERATED_VIRTUAL(attgenerated) ((attgenerated) == ATTRIBUTE_GENERATED_VIRTUAL)
#else
#define SG_GENERATED_VIRTUAL(constraint) false
#define SG_ATTGENERATED_VIRTUAL(attgenerated) false
#endif

// 18: CHECK and FOREIGN KEY constraints can be NOT ENFORCED: never validated, no scan.
#if PG_VERSION_NUM >= 180000
#define SG_CONSTRAINT_ENFORCED(constraint) ((constraint)->is_enforced)
#else
#define SG_CONSTRAINT_ENFORCED(constraint) true
#endif

// 17: ALTER COLUMN ... SET EXPRESSION AS (...) on a generated column.
inline bool SgIsSetExpression(AlterTableType subtype) {
#if PG_VERSION_NUM >= 170000
  return subtype == AT_SetExpression;
#else
  (void) subtype;
  return false;
#endif
}

// 18: ALTER CONSTRAINT ... ENFORCED on a NOT ENFORCED foreign key validates it in
// Phase 3 (AlterConstrUpdateConstraintEntry marks it validated).
inline bool SgAlterConstraintEnforces(const AlterTableCmd *cmd) {
#if PG_VERSION_NUM >= 180000
  if (cmd->subtype != AT_AlterConstraint || cmd->def == nullptr || !IsA(cmd->def, ATAlterConstraint)) return false;
  const auto *alter = reinterpret_cast<const ATAlterConstraint *>(cmd->def);
  return alter->alterEnforceability && alter->is_enforced;
#else
  (void) cmd;
  return false;
#endif
}
inline const char *SgAlterConstraintName(const AlterTableCmd *cmd) {
#if PG_VERSION_NUM >= 180000
  return reinterpret_cast<const ATAlterConstraint *>(cmd->def)->conname;
#else
  (void) cmd;
  return nullptr;
#endif
}

// pg_constraint.conenforced (18); every constraint is enforced before.
#if PG_VERSION_NUM >= 180000
#define SG_CONENFORCED(form) ((form)->conenforced)
#else
#define SG_CONENFORCED(form) true
#endif

// Ownership checks: one object_ownercheck() for every catalog from 16 on.
#if PG_VERSION_NUM >= 160000
#define SG_DATABASE_OWNERCHECK(db, role) object_ownercheck(DatabaseRelationId, (db), (role))
#else
#define SG_DATABASE_OWNERCHECK(db, role) pg_database_ownercheck((db), (role))
#endif

// ACL checks on schemas, tablespaces, databases and functions: one object_aclcheck() from 16 on.
#if PG_VERSION_NUM >= 160000
#define SG_NAMESPACE_ACLCHECK(nsp, role, mode) object_aclcheck(NamespaceRelationId, (nsp), (role), (mode))
#define SG_TABLESPACE_ACLCHECK(spc, role, mode) object_aclcheck(TableSpaceRelationId, (spc), (role), (mode))
#define SG_DATABASE_ACLCHECK(db, role, mode) object_aclcheck(DatabaseRelationId, (db), (role), (mode))
#define SG_PROC_ACLCHECK(proc, role, mode) object_aclcheck(ProcedureRelationId, (proc), (role), (mode))
#else
#define SG_NAMESPACE_ACLCHECK(nsp, role, mode) pg_namespace_aclcheck((nsp), (role), (mode))
#define SG_TABLESPACE_ACLCHECK(spc, role, mode) pg_tablespace_aclcheck((spc), (role), (mode))
#define SG_DATABASE_ACLCHECK(db, role, mode) pg_database_aclcheck((db), (role), (mode))
#define SG_PROC_ACLCHECK(proc, role, mode) pg_proc_aclcheck((proc), (role), (mode))
#endif

// Maintenance (VACUUM, CLUSTER, REINDEX, REFRESH MATERIALIZED VIEW, LOCK TABLE): up
// to 16 the table's owner may run it; from 17 on whoever holds the MAINTAIN privilege
// (the owner by default, members of pg_maintain).  SG_MAINTAIN_PRIVILEGE is 0 before 17.
#if PG_VERSION_NUM >= 170000
#define SG_MAINTAIN_PRIVILEGE ACL_MAINTAIN
#else
#define SG_MAINTAIN_PRIVILEGE ((AclMode)0)
#endif

// LockTableAclCheck(): the table privileges that allow LOCK TABLE in `mode`.  Up to 15
// SELECT allows ACCESS SHARE only, INSERT ROW EXCLUSIVE only, and UPDATE, DELETE or
// TRUNCATE the rest; from 16 each privilege allows its mode and every weaker one, and
// UPDATE, DELETE, TRUNCATE (and from 17 MAINTAIN) allow any mode.
inline AclMode SgLockTablePrivileges(LOCKMODE mode) {
#if PG_VERSION_NUM >= 160000
  AclMode mask = ACL_UPDATE | ACL_DELETE | ACL_TRUNCATE | SG_MAINTAIN_PRIVILEGE;
  if (mode <= AccessShareLock) mask |= ACL_SELECT;
  if (mode <= RowExclusiveLock) mask |= ACL_INSERT;
  return mask;
#else
  if (mode == AccessShareLock) return ACL_SELECT;
  if (mode == RowExclusiveLock) return ACL_INSERT | ACL_UPDATE | ACL_DELETE | ACL_TRUNCATE;
  return ACL_UPDATE | ACL_DELETE | ACL_TRUNCATE;
#endif
}

// LockHeldByMe() also answers "or a stronger mode" from 17 on (false: this mode only).
#if PG_VERSION_NUM >= 170000
#define SG_LOCK_HELD_BY_ME(tag, mode) LockHeldByMe((tag), (mode), false)
#else
#define SG_LOCK_HELD_BY_ME(tag, mode) LockHeldByMe((tag), (mode))
#endif

// FuncnameGetCandidates() reports what it found in a flags word from 19 on (ignored).
#if PG_VERSION_NUM >= 190000
inline FuncCandidateList SgFuncnameGetCandidates(List *names, int nargs, List *argnames, bool expand_variadic,
                                                 bool expand_defaults, bool include_out_arguments, bool missing_ok) {
  int flags = 0;
  return FuncnameGetCandidates(names, nargs, argnames, expand_variadic, expand_defaults, include_out_arguments,
                               missing_ok, &flags);
}
#else
#define SgFuncnameGetCandidates FuncnameGetCandidates
#endif
