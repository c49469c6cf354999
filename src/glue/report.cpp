#include "glue/report.hpp"

#include "citus/citus.hpp"

namespace schema_guard::report {
namespace {

const char *While(uint8 effects) {
  if (effects & analysis::kRewrite) return "while it is rewritten";
  if (effects & analysis::kScan) return "while it is scanned";
  if (effects & analysis::kIndexBuild) return "while the index is built";
  return "for the catalog change";
}

}  // namespace

const char *SizeText(Oid relid) {
  if (!analysis::CallerMayInspect(relid)) return "size not shown: no privilege on it";
  const int64 bytes = analysis::RelationSizeBytes(relid);
  if (const citus::TableFacts *facts = citus::Facts(relid)) return citus::DescribeSize(*facts, bytes);
  if (bytes < 0) return "size unknown";
  return text_to_cstring(DatumGetTextPP(DirectFunctionCall1(pg_size_pretty, Int64GetDatum(bytes))));
}

char *PrimaryText(const analysis::Finding &f) {
  const policy::RuleInfo &rule = policy::Rule(f.rule);
  char text[1024];
  policy::ExpandTemplate(rule.message, RelationText(f), f.what ? f.what : "", text, sizeof text);
  return psprintf("schema_guard: %s: %s", rule.name, text);
}

char *DetailText(const analysis::Finding &f, const Context &ctx) {
  StringInfoData buf;
  initStringInfo(&buf);
  const char *rel = RelationText(f);
  const char *size = OidIsValid(f.relid) ? psprintf(" (%s)", SizeText(f.relid)) : "";
  const char *mode = LockModeSqlName(f.lock);
  switch (f.rule) {
    case policy::RuleId::LockTimeoutMissing:
      appendStringInfo(&buf,
                       "lock_timeout is 0: while %s waits for its %s lock on %s%s, every later "
                       "query that %s it queues behind the waiting request.",
                       ctx.command, mode, rel, size, f.lock >= AccessExclusiveLock ? "reads or writes" : "writes to");
      break;
    case policy::RuleId::LockConflict:
      appendStringInfo(&buf, "%s needs %s on %s%s, which conflicts with other sessions right now:",
                       ctx.command, mode, rel, size);
      break;
    case policy::RuleId::JudgementFailed:
      break;  // which lock it takes is what the guard could not tell: the reason says why
    default:
      if (f.lock == NoLock)  // e.g. ALTER SCHEMA ... RENAME: no table is locked
        appendStringInfo(&buf, "%s%s is changed without a table lock.", rel, size);
      else
        appendStringInfo(&buf, "%s%s would be held in %s mode, blocking %s, %s.", rel, size, mode,
                         BlockedOperations(f.lock), While(f.effects));
      buf.data[0] = pg_toupper(static_cast<unsigned char>(buf.data[0]));
      if (f.rule == policy::RuleId::Truncate)
        appendStringInfoString(&buf, " Every row is gone once the transaction commits: readers queued behind the lock then see an empty table.");
      else if (f.effects & analysis::kBreaks)
        appendStringInfoString(&buf, " Code still using it fails once the change commits.");
      break;
  }
  if (f.reason) appendStringInfo(&buf, buf.len > 0 ? " %s" : "%s", f.reason);
  if (ctx.also) appendStringInfo(&buf, " Also blocked: %s.", ctx.also);
  if (ctx.note) appendStringInfo(&buf, " %s", ctx.note);
  return buf.data;
}

char *HintText(const analysis::Finding &f, const char *also) {
  const policy::RuleInfo &rule = policy::Rule(f.rule);
  const char *recipe = (f.partitioned && rule.recipe_partitioned) ? rule.recipe_partitioned : rule.recipe;
  // A script that does not parse fails at deploy whatever the settings: nothing to accept.
  if (f.rule == policy::RuleId::SyntaxError) return pstrdup(recipe);
  return psprintf("%s To accept it deliberately: SET LOCAL schema_guard.allow = '%s%s%s'.", recipe,
                  rule.name, also ? ", " : "", also ? also : "");
}

namespace {

void Log(const char *verdict, const analysis::Finding &f, const Context &ctx) {
  ereport(LOG_SERVER_ONLY,
          (errmsg("schema_guard: %s %s on %s by role %s", verdict, policy::Rule(f.rule).name,
                  RelationText(f), GetUserNameFromId(GetUserId(), true)),
           errdetail_log("statement: %s", ctx.statement ? ctx.statement : ""), errhidestmt(true)));
}

}  // namespace

const char *BlockedOperations(LOCKMODE mode) {
  if (mode >= AccessExclusiveLock) return "reads and writes";
  if (mode >= ShareLock) return "writes";
  if (mode == ShareUpdateExclusiveLock) return "other schema changes, VACUUM and ANALYZE";
  return "only conflicting schema changes";
}

const char *LockModeSqlName(LOCKMODE mode) {
  switch (mode) {
    case AccessShareLock: return "ACCESS SHARE";
    case RowShareLock: return "ROW SHARE";
    case RowExclusiveLock: return "ROW EXCLUSIVE";
    case ShareUpdateExclusiveLock: return "SHARE UPDATE EXCLUSIVE";
    case ShareLock: return "SHARE";
    case ShareRowExclusiveLock: return "SHARE ROW EXCLUSIVE";
    case ExclusiveLock: return "EXCLUSIVE";
    case AccessExclusiveLock: return "ACCESS EXCLUSIVE";
    default: return "no";
  }
}

const char *RelationText(const analysis::Finding &f) {
  if (f.rel_text) return f.rel_text;
  if (!OidIsValid(f.relid)) return "the target";
  const char *nsp = get_namespace_name(get_rel_namespace(f.relid));
  const char *name = get_rel_name(f.relid);
  if (nsp == nullptr || name == nullptr) return "the target";
  const char *kind = "table";
  switch (get_rel_relkind(f.relid)) {
    case RELKIND_PARTITIONED_TABLE: kind = "partitioned table"; break;
    case RELKIND_MATVIEW: kind = "materialized view"; break;
    case RELKIND_VIEW: kind = "view"; break;
    case RELKIND_FOREIGN_TABLE: kind = "foreign table"; break;
    case RELKIND_INDEX: kind = "index"; break;
    case RELKIND_PARTITIONED_INDEX: kind = "partitioned index"; break;
    case RELKIND_SEQUENCE: kind = "sequence"; break;
    default: break;
  }
  return psprintf("%s %s", kind, quote_qualified_identifier(nsp, name));
}

void Emit(const analysis::Finding &f, policy::Action action, const Context &ctx) {
  if (action == policy::Action::Off) return;
  const policy::RuleInfo &rule = policy::Rule(f.rule);
  const char *recipe = (f.partitioned && rule.recipe_partitioned) ? rule.recipe_partitioned : rule.recipe;
  char *primary = PrimaryText(f);
  char *detail = DetailText(f, ctx);
  if (action == policy::Action::Warn) {
    Log("warned", f, ctx);
    ereport(WARNING, (errcode(kGuardSqlState), errmsg_internal("%s", primary),
                      errdetail_internal("%s", detail), errhint("%s", recipe)));
    return;
  }
  Log("blocked", f, ctx);
  ereport(ERROR, (errcode(kGuardSqlState), errmsg_internal("%s", primary), errdetail_internal("%s", detail),
                  errhint("%s", HintText(f, ctx.also))));
}

void LogAllowed(const analysis::Finding &f, const Context &ctx) { Log("allowed", f, ctx); }

}  // namespace schema_guard::report
