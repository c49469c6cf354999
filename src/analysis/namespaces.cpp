// Statements that change which schema a table is reached by: ALTER SCHEMA ...
// RENAME and ALTER TABLE (VIEW, ...) ... SET SCHEMA.  Both break running code that
// uses the old name; they are also how a table would move into or out of an exempt
// schema, so they are judged like any breaking change.
#include "analysis/analysis.hpp"
#include "analysis/statement_catalog.hpp"

namespace schema_guard::analysis {

using policy::RuleId;

void AnalyzeRenameSchema(RenameStmt *stmt, StatementAnalysis *out) {
  if (stmt->subname == nullptr || stmt->newname == nullptr) return;
  const Oid nsp = get_namespace_oid(stmt->subname, true);
  if (!OidIsValid(nsp)) return;  // PostgreSQL reports the missing schema
  out->command = "ALTER SCHEMA";
  // RenameSchema() locks no table: only the catalog row changes.
  AddFinding(out, RuleId::RenameSchema, InvalidOid, NoLock, kBreaks,
             psprintf("RENAME TO %s", quote_identifier(stmt->newname)));
  static_cast<Finding *>(llast(out->findings))->rel_text =
      psprintf("schema %s", quote_identifier(stmt->subname));
}

void AnalyzeSetSchema(AlterObjectSchemaStmt *stmt, StatementAnalysis *out) {
  switch (stmt->objectType) {
    case OBJECT_TABLE:
    case OBJECT_VIEW:
    case OBJECT_MATVIEW:
    case OBJECT_FOREIGN_TABLE:
    case OBJECT_SEQUENCE:
      break;
    default:
      return;
  }
  if (stmt->relation == nullptr || stmt->newschema == nullptr) return;
  const Oid relid = LookupRelation(stmt->relation);
  if (!OidIsValid(relid) || IsExemptRelation(relid)) return;
  const Oid target = get_namespace_oid(stmt->newschema, true);
  if (!OidIsValid(target) || target == get_rel_namespace(relid)) return;  // PostgreSQL's error / nothing moves
  SetStatement(out, Statement::SetSchema, "ALTER TABLE");
  // AlterTableNamespace() opens the relation with ACCESS EXCLUSIVE.
  AddLockTarget(out, relid, AccessExclusiveLock);
  AddFinding(out, RuleId::SetSchema, relid, AccessExclusiveLock, kBreaks,
             psprintf("SET SCHEMA %s", quote_identifier(stmt->newschema)),
             IsExemptSchema(target)
                 ? psprintf("Schema %s is exempt from the guard's rules (schema_guard.exempt_schemas): "
                            "moved there, the table would no longer be judged.",
                            quote_identifier(stmt->newschema))
                 : nullptr);
}

}  // namespace schema_guard::analysis
