// audit(): schemas where PUBLIC may CREATE, and SECURITY DEFINER functions
// whose pinned search_path names a schema others can create objects in.
#include "audit/audit.hpp"

namespace schema_guard::audit {
namespace {

// The roles that hold privilege on an object (its owner included), except
// those that gain nothing by planting an object for `trusted`: the trusted
// role itself, roles acting with its rights, and superusers.  PUBLIC is 0.
List *UntrustedHolders(Datum acl_datum, bool acl_null, Oid owner, AclMode privilege, Oid trusted) {
  List *holders = NIL;
  auto untrusted = [trusted](Oid role) {
    return role == ACL_ID_PUBLIC || (role != trusted && !superuser_arg(role) && !has_privs_of_role(role, trusted));
  };
  if (untrusted(owner)) holders = lappend_oid(holders, owner);
  if (acl_null) return holders;
  Acl *acl = DatumGetAclP(acl_datum);
  const AclItem *items = ACL_DAT(acl);
  for (int i = 0; i < ACL_NUM(acl); i++)
    if ((ACLITEM_GET_PRIVS(items[i]) & privilege) && untrusted(items[i].ai_grantee))
      holders = list_append_unique_oid(holders, items[i].ai_grantee);
  return holders;
}

const char *RoleList(List *roles) {
  StringInfoData buf;
  initStringInfo(&buf);
  ListCell *cell;
  foreach (cell, roles) {
    const Oid role = lfirst_oid(cell);
    const char *name = role == ACL_ID_PUBLIC ? "PUBLIC" : GetUserNameFromId(role, true);
    appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "",
                     role == ACL_ID_PUBLIC ? name : quote_identifier(name != nullptr ? name : "?"));
  }
  return buf.data;
}

void CheckPublicCreate(AuditRun *run) {
  Relation pg_namespace = table_open(NamespaceRelationId, AccessShareLock);
  TupleDesc desc = RelationGetDescr(pg_namespace);
  SysScanDesc scan = systable_beginscan(pg_namespace, InvalidOid, false, nullptr, 0, nullptr);
  HeapTuple tuple;
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    auto *form = reinterpret_cast<Form_pg_namespace>(GETSTRUCT(tuple));
    if (!NamespaceInScope(*run, form->oid)) continue;
    bool isnull;
    const Datum acl_datum = heap_getattr(tuple, Anum_pg_namespace_nspacl, desc, &isnull);
    if (isnull) continue;  // the default: only the owner
    Acl *acl = DatumGetAclP(acl_datum);
    const AclItem *items = ACL_DAT(acl);
    bool public_create = false;
    for (int i = 0; i < ACL_NUM(acl); i++)
      public_create |= items[i].ai_grantee == ACL_ID_PUBLIC && (ACLITEM_GET_PRIVS(items[i]) & ACL_CREATE);
    if (!public_create) continue;
    const char *schema = quote_identifier(NameStr(form->nspname));
    Emit(run, CheckId::PublicCreateSchema, "high", InvalidOid, schema,
         psprintf("PUBLIC may CREATE in schema %s: any role can add functions, operators, tables or views there "
                  "that take precedence over the ones other roles' queries mean to find on their search_path (an "
                  "overload with a better-matching argument type wins), and so run code as whoever calls them.",
                  schema),
         psprintf("REVOKE CREATE ON SCHEMA %s FROM PUBLIC;", schema));
  }
  systable_endscan(scan);
  table_close(pg_namespace, AccessShareLock);
}

void CheckDefinerPaths(AuditRun *run) {
  // the roles that may create schemas in this database
  HeapTuple dbtuple = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(MyDatabaseId));
  if (!HeapTupleIsValid(dbtuple)) return;
  bool db_acl_null;
  const Datum db_acl = SysCacheGetAttr(DATABASEOID, dbtuple, Anum_pg_database_datacl, &db_acl_null);
  const Oid db_owner = reinterpret_cast<Form_pg_database>(GETSTRUCT(dbtuple))->datdba;

  Relation pg_proc = table_open(ProcedureRelationId, AccessShareLock);
  TupleDesc desc = RelationGetDescr(pg_proc);
  SysScanDesc scan = systable_beginscan(pg_proc, InvalidOid, false, nullptr, 0, nullptr);
  HeapTuple tuple;
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    auto *form = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple));
    if (!form->prosecdef || !NamespaceInScope(*run, form->pronamespace) ||
        OidInSorted(run->extension_functions, run->n_extension_functions, form->oid))
      continue;
    bool isnull;
    const Datum config = heap_getattr(tuple, Anum_pg_proc_proconfig, desc, &isnull);
    if (isnull) continue;
    const char *path = nullptr;
    Datum *items;
    bool *item_nulls;
    int n_items;
    deconstruct_array(DatumGetArrayTypeP(config), TEXTOID, -1, false, TYPALIGN_INT, &items, &item_nulls, &n_items);
    for (int i = 0; i < n_items; i++) {
      if (item_nulls[i]) continue;
      const char *setting = TextDatumGetCString(items[i]);
      if (strncmp(setting, "search_path=", 12) == 0) path = setting + 12;
    }
    if (path == nullptr) continue;  // unpinned: definer_function_search_path (rls_audit)
    List *schemas = NIL;
    if (!SplitIdentifierString(pstrdup(path), ',', &schemas)) continue;
    const Oid owner = form->proowner;
    const char *function = format_procedure_qualified(form->oid);
    StringInfoData detail;
    initStringInfo(&detail);
    // REVOKE CREATE ... FROM PUBLIC is the fix when PUBLIC is the only
    // untrusted holder of every such schema (other grants are the team's call)
    bool only_public = true;
    StringInfoData fix;
    initStringInfo(&fix);
    ListCell *cell;
    foreach (cell, schemas) {
      const char *name = static_cast<const char *>(lfirst(cell));
      if (strcmp(name, "pg_temp") == 0) continue;  // its position is definer_function_search_path's business
      if (strcmp(name, "$user") == 0) {
        // inside the function current_user is its owner
        name = GetUserNameFromId(owner, true);
        if (name == nullptr) continue;
      }
      const Oid nsp = get_namespace_oid(name, true);
      if (!OidIsValid(nsp)) {
        if (strcmp(static_cast<const char *>(lfirst(cell)), "$user") == 0) continue;
        List *creators = UntrustedHolders(db_acl, db_acl_null, db_owner, ACL_CREATE, owner);
        if (creators == NIL) continue;
        only_public = false;
        appendStringInfo(&detail, " Schema %s does not exist, and %s may create it (CREATE on the database).",
                         quote_identifier(name), RoleList(creators));
        continue;
      }
      HeapTuple nsptuple = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nsp));
      if (!HeapTupleIsValid(nsptuple)) continue;
      bool nspacl_null;
      const Datum nspacl = SysCacheGetAttr(NAMESPACEOID, nsptuple, Anum_pg_namespace_nspacl, &nspacl_null);
      List *writers = UntrustedHolders(nspacl, nspacl_null,
                                       reinterpret_cast<Form_pg_namespace>(GETSTRUCT(nsptuple))->nspowner, ACL_CREATE,
                                       owner);
      ReleaseSysCache(nsptuple);
      if (writers == NIL) continue;
      if (list_length(writers) == 1 && linitial_oid(writers) == ACL_ID_PUBLIC)
        appendStringInfo(&fix, "%sREVOKE CREATE ON SCHEMA %s FROM PUBLIC;", fix.len > 0 ? "\n" : "",
                         quote_identifier(name));
      else
        only_public = false;
      appendStringInfo(&detail, " %s may create objects in schema %s.", RoleList(writers), quote_identifier(name));
    }
    if (detail.len == 0) continue;
    Emit(run, CheckId::DefinerFunctionWritablePath, "high", InvalidOid, function,
         psprintf("SECURITY DEFINER function %s pins search_path = %s, and it runs with the rights of %s.%s Such a "
                  "role can plant a function, operator or table there that the function then finds and runs with "
                  "those rights.",
                  function, path, quote_identifier(GetUserNameFromId(owner, true) ? GetUserNameFromId(owner, true) : "?"),
                  detail.data),
         only_public && fix.len > 0 ? fix.data : nullptr);
  }
  systable_endscan(scan);
  table_close(pg_proc, AccessShareLock);
  ReleaseSysCache(dbtuple);
}

}  // namespace

void RunSecurityChecks(AuditRun *run) {
  if (Enabled(*run, CheckId::PublicCreateSchema)) CheckPublicCreate(run);
  if (Enabled(*run, CheckId::DefinerFunctionWritablePath)) CheckDefinerPaths(run);
}

}  // namespace schema_guard::audit
