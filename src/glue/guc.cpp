#include "glue/guc.hpp"

#include "analysis/analysis.hpp"
#include "audit/checks.hpp"
#include "boundary.hpp"

namespace schema_guard::guc {
namespace {

using policy::Action;

int mode_value = static_cast<int>(Action::Block);
char *rules_value = nullptr;
char *allow_value = nullptr;
int min_table_size_kb = 0;
int lock_timeout_ms = 0;
bool exempt_setup = true;
int table_sizes_value = static_cast<int>(TableSizes::Auto);
char *tenant_columns_value = nullptr;
char *exempt_schemas_value = nullptr;
char *audit_skip_value = nullptr;
int citus_lock_conflict_value = static_cast<int>(Action::Off);

const policy::RuleOverrides *rule_overrides = nullptr;
const policy::AllowList *allow_list = nullptr;
const audit::CheckSet *audit_skip = nullptr;
const audit::CheckSet kNoneSkipped = {};

// schema_guard.exempt_schemas, parsed: NUL-separated names ending with an empty one.
struct SchemaList {
  char names[1024];
};

const struct config_enum_entry kModeOptions[] = {
    {"off", static_cast<int>(Action::Off), false},
    {"warn", static_cast<int>(Action::Warn), false},
    {"block", static_cast<int>(Action::Block), false},
    {nullptr, 0, false},
};

const struct config_enum_entry kTableSizesOptions[] = {
    {"auto", static_cast<int>(TableSizes::Auto), false},
    {"real", static_cast<int>(TableSizes::Real), false},
    {"assume_large", static_cast<int>(TableSizes::AssumeLarge), false},
    {nullptr, 0, false},
};

// Split a GUC list value into items; returns NIL (with *ok false) on bad syntax.
List *SplitList(const char *value, bool *ok) {
  List *items = NIL;
  char *copy = pstrdup(value);
  *ok = SplitIdentifierString(copy, ',', &items);
  return items;
}

// Parse a GUC list into a freshly allocated Parsed (the GUC's `extra`), one item at
// a time; on a bad item, report it and refuse the value.
template <typename Parsed>
bool ParseListGuc(const char *value, void **extra, bool (*parse_item)(const char *, Parsed *),
                  const char *expected,
                  const char *hint = "SELECT rule_id FROM schema_guard.rules() lists the rule ids.") {
  bool ok = true;
  List *items = SplitList(value, &ok);
  if (!ok) {
    GUC_check_errdetail("List syntax is invalid.");
    return false;
  }
  auto *parsed = static_cast<Parsed *>(SG_GUC_MALLOC(sizeof(Parsed)));
  if (parsed == nullptr) return false;
  memset(parsed, 0, sizeof *parsed);
  ListCell *lc;
  foreach (lc, items) {
    const char *item = static_cast<const char *>(lfirst(lc));
    if (!parse_item(item, parsed)) {
      GUC_check_errdetail("\"%s\" is not %s.", item, expected);
      GUC_check_errhint("%s", hint);
      SG_GUC_FREE(parsed);
      return false;
    }
  }
  *extra = parsed;
  return true;
}

bool ParseOverrideItem(const char *item, policy::RuleOverrides *parsed) {
  policy::RuleId rule;
  Action action;
  if (!policy::ParseOverride(item, &rule, &action)) return false;
  parsed->set[policy::RuleIndex(rule)] = true;
  parsed->action[policy::RuleIndex(rule)] = action;
  return true;
}

bool ParseAllowItem(const char *item, policy::AllowList *parsed) {
  const policy::RuleInfo *rule = policy::RuleByName(item);
  if (rule == nullptr) return false;
  parsed->allowed[policy::RuleIndex(rule->id)] = true;
  return true;
}

extern "C" bool CheckRules(char **newval, void **extra, GucSource source) {
  bool ok = false;
  RunGuarded("schema_guard.rules", [&] {
    ok = ParseListGuc<policy::RuleOverrides>(*newval, extra, ParseOverrideItem,
                                             "of the form rule_id:off|warn|block with a known rule id");
  });
  return ok;
}

extern "C" void AssignRules(const char *newval, void *extra) {
  rule_overrides = static_cast<const policy::RuleOverrides *>(extra);
}

// Where a value of schema_guard.allow would outlive the transaction that set it:
// the configuration file, the server's command line, the role's or database's
// settings, the client's startup options (PGOPTIONS).
bool OutlivesTransaction(GucSource source) {
  return source >= PGC_S_ENV_VAR && source <= PGC_S_CLIENT;
}

const char *SourceText(GucSource source) {
  switch (source) {
    case PGC_S_ENV_VAR: return "environment";
    case PGC_S_FILE: return "configuration file";
    case PGC_S_ARGV: return "server command line";
    case PGC_S_GLOBAL: return "settings for all roles and databases";
    case PGC_S_DATABASE: return "database's settings";
    case PGC_S_USER: return "role's settings";
    case PGC_S_DATABASE_USER: return "role's settings for this database";
    case PGC_S_CLIENT: return "connection options (PGOPTIONS)";
    default: return "session";
  }
}

const char *const kAllowDetail =
    "An allowance counts only for the transaction that sets it with SET LOCAL; a session, role, "
    "database or server value would outlive it.";
const char *const kAllowHint =
    "Use SET LOCAL schema_guard.allow = '...' inside the migration's transaction; a lasting "
    "change for a role belongs in schema_guard.rules (ALTER ROLE ... SET schema_guard.rules = 'rule_id:warn').";

extern "C" bool CheckAllow(char **newval, void **extra, GucSource source) {
  if (OutlivesTransaction(source) && *newval != nullptr && (*newval)[strspn(*newval, " ,")] != '\0') {
    GUC_check_errmsg("schema_guard.allow cannot be set in the %s", SourceText(source));
    GUC_check_errdetail("%s", kAllowDetail);
    GUC_check_errhint("%s", kAllowHint);
    return false;
  }
  bool ok = false;
  RunGuarded("schema_guard.allow", [&] {
    ok = ParseListGuc<policy::AllowList>(*newval, extra, ParseAllowItem, "a schema_guard rule id");
  });
  return ok;
}

extern "C" void AssignAllow(const char *newval, void *extra) {
  allow_list = static_cast<const policy::AllowList *>(extra);
}

bool ParseAuditCheckItem(const char *item, audit::CheckSet *parsed) {
  const audit::CheckInfo *check = audit::CheckByName(item);
  if (check == nullptr) return false;
  parsed->skipped[audit::CheckIndex(check->id)] = true;
  return true;
}

extern "C" bool CheckAuditSkip(char **newval, void **extra, GucSource source) {
  bool ok = false;
  RunGuarded("schema_guard.audit_skip", [&] {
    ok = ParseListGuc<audit::CheckSet>(*newval, extra, ParseAuditCheckItem, "an audit check",
                                       "SELECT \"check\" FROM schema_guard.audit_checks() lists the checks.");
  });
  return ok;
}

extern "C" void AssignAuditSkip(const char *newval, void *extra) {
  audit_skip = static_cast<const audit::CheckSet *>(extra);
}

extern "C" bool CheckExemptSchemas(char **newval, void **extra, GucSource source) {
  bool ok = true;
  List *items = SplitList(*newval, &ok);
  if (!ok) {
    GUC_check_errdetail("List syntax is invalid.");
    return false;
  }
  auto *parsed = static_cast<SchemaList *>(SG_GUC_MALLOC(sizeof(SchemaList)));
  if (parsed == nullptr) return false;
  memset(parsed, 0, sizeof *parsed);
  size_t used = 0;
  ListCell *lc;
  foreach (lc, items) {
    const char *name = static_cast<const char *>(lfirst(lc));
    const size_t len = strlen(name) + 1;
    if (used + len + 1 > sizeof parsed->names) {
      GUC_check_errdetail("The list is too long.");
      SG_GUC_FREE(parsed);
      return false;
    }
    memcpy(parsed->names + used, name, len);
    used += len;
  }
  *extra = parsed;
  return true;
}

extern "C" void AssignExemptSchemas(const char *newval, void *extra) {
  analysis::SetExemptSchemas(extra ? static_cast<const SchemaList *>(extra)->names : nullptr);
}

// The GUC record of schema_guard.allow: its stack says how the current value was set.
struct config_generic *AllowRecord() {
  static struct config_generic *record = nullptr;
  if (record == nullptr) {
#if PG_VERSION_NUM >= 160000
    record = find_option("schema_guard.allow", false, true, ERROR);
#else
    struct config_generic **vars = get_guc_variables();
    const int n = GetNumConfigOptions();
    for (int i = 0; i < n && record == nullptr; i++)
      if (strcmp(vars[i]->name, "schema_guard.allow") == 0) record = vars[i];
#endif
  }
  return record;
}

// Was the current value set for this transaction only (SET LOCAL, set_config(...,
// true)) or for a function's body only (its SET clause)?  Any other value (SET,
// set_config(..., false), role, database, file, PGOPTIONS) would outlive the
// transaction.
bool AllowSetForThisTransaction() {
  const struct config_generic *record = AllowRecord();
  if (record == nullptr || record->stack == nullptr) return false;
  const GucStackState state = record->stack->state;
  return state == GUC_LOCAL || state == GUC_SET_LOCAL || state == GUC_SAVE;
}

bool AllowValueEmpty() { return allow_value == nullptr || allow_value[strspn(allow_value, " ,")] == '\0'; }

}  // namespace

void RejectLastingAllow(Node *parsetree) {
  const VariableSetStmt *set = nullptr;
  switch (nodeTag(parsetree)) {
    case T_VariableSetStmt: {
      set = reinterpret_cast<VariableSetStmt *>(parsetree);
      if (set->is_local) return;
      break;
    }
    case T_AlterRoleSetStmt: set = reinterpret_cast<AlterRoleSetStmt *>(parsetree)->setstmt; break;
    case T_AlterDatabaseSetStmt: set = reinterpret_cast<AlterDatabaseSetStmt *>(parsetree)->setstmt; break;
    case T_AlterSystemStmt: set = reinterpret_cast<AlterSystemStmt *>(parsetree)->setstmt; break;
    default: return;
  }
  if (set == nullptr || set->kind != VAR_SET_VALUE || set->name == nullptr ||
      pg_strcasecmp(set->name, "schema_guard.allow") != 0)
    return;
  // An empty value allows nothing: harmless at any level.
  bool empty = true;
  ListCell *lc;
  foreach (lc, set->args) {
    const auto *arg = static_cast<const A_Const *>(lfirst(lc));
    if (!IsA(arg, A_Const) || arg->isnull || !IsA(&arg->val, String) ||
        strVal(&arg->val)[strspn(strVal(&arg->val), " ,")] != '\0')
      empty = false;
  }
  if (empty) return;
  ereport(ERROR, (errcode(ERRCODE_CANT_CHANGE_RUNTIME_PARAM),
                  errmsg("schema_guard.allow can only be set with SET LOCAL"), errdetail("%s", kAllowDetail),
                  errhint("%s", kAllowHint)));
}

const char *IgnoredAllowNote() {
  if (AllowValueEmpty() || AllowSetForThisTransaction()) return nullptr;
  return "schema_guard.allow is set, but not with SET LOCAL in this transaction, so it is ignored.";
}

void Define() {
  // Registered in alphabetical order.
  DefineCustomStringVariable(
      "schema_guard.allow",
      "Rule ids whose findings are deliberately accepted, for one transaction (SET LOCAL only).",
      "A comma-separated list of rule ids; statements they would warn about or block run "
      "unchanged and are logged as allowed.  Counts only when set with SET LOCAL (or a "
      "function's SET clause); session, role, database and server values are refused or ignored.",
      &allow_value, "", PGC_SUSET, GUC_LIST_INPUT | GUC_NOT_IN_SAMPLE, CheckAllow, AssignAllow,
      nullptr);
  DefineCustomStringVariable(
      "schema_guard.audit_skip", "Checks schema_guard.audit() leaves out.",
      "A comma-separated list of check names from schema_guard.audit_checks(); set it per database "
      "(ALTER DATABASE ... SET) or for one call (SET LOCAL).",
      &audit_skip_value, "", PGC_USERSET, GUC_LIST_INPUT, CheckAuditSkip, AssignAuditSkip, nullptr);
  DefineCustomStringVariable(
      "schema_guard.exempt_schemas",
      "Schemas whose tables are treated like tables created in this transaction.",
      "For tools' private work tables that no application uses, such as pg_repack's schema repack.",
      &exempt_schemas_value, "repack", PGC_SUSET, GUC_LIST_INPUT, CheckExemptSchemas,
      AssignExemptSchemas, nullptr);
  DefineCustomBoolVariable(
      "schema_guard.exempt_setup",
      "Relations this session created, and the tables of a pg_restore session, are treated like tables created in this transaction.",
      "Only while no other session holds a lock on them; each pass is logged. check() never applies it.",
      &exempt_setup, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable(
      "schema_guard.lock_timeout",
      "lock_timeout the guard applies to lock-taking DDL when the session has none.",
      "0 applies none. The value is in force only while the guarded statement runs.",
      &lock_timeout_ms, 0, 0, INT_MAX, PGC_SUSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
  DefineCustomIntVariable(
      "schema_guard.min_table_size",
      "Tables smaller than this are not judged by the rewrite, scan and index-build rules.",
      "Empty tables never are (unless schema_guard.table_sizes is assume_large); lock-wait rules apply at every size.",
      &min_table_size_kb, 0, 0, INT_MAX, PGC_SUSET, GUC_UNIT_KB, nullptr, nullptr, nullptr);
  DefineCustomEnumVariable("schema_guard.mode", "What the guard does with unsafe DDL.",
                           "off: nothing; warn: WARNING and run; block: ERROR per rule severity.",
                           &mode_value, static_cast<int>(Action::Block), kModeOptions, PGC_SUSET,
                           0, nullptr, nullptr, nullptr);
  DefineCustomStringVariable(
      "schema_guard.rules", "Per-rule actions that replace the defaults.",
      "A comma-separated list of rule_id:off|warn|block, e.g. 'drop_table:block, truncate:off'.",
      &rules_value, "", PGC_SUSET, GUC_LIST_INPUT, CheckRules, AssignRules, nullptr);
  DefineCustomEnumVariable(
      "schema_guard.table_sizes",
      "Whether verdicts use real table sizes or judge every table as if it were large.",
      "auto: the guard uses real sizes, check() and explain() assume every table is large; real: both use real sizes; "
      "assume_large: both judge every table, empty ones too (migrations run against an empty CI database).",
      &table_sizes_value, static_cast<int>(TableSizes::Auto), kTableSizesOptions, PGC_USERSET, 0, nullptr,
      nullptr, nullptr);
  // Set by the guard itself, on a Citus coordinator, for the nodes: Citus starts its
  // remote transactions with it (SET LOCAL).  It only ever adds a check, and only in
  // Citus's own connections, so anyone may set it.
  DefineCustomEnumVariable("schema_guard.citus_lock_conflict",
                           "Internal (Citus): what the coordinator decided for lock conflicts on shards.",
                           "block: Citus's connections on a worker stop a statement whose shard another "
                           "session holds in a conflicting mode; off: no check.",
                           &citus_lock_conflict_value, static_cast<int>(Action::Off), kModeOptions, PGC_USERSET,
                           GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE, nullptr, nullptr, nullptr);
  DefineCustomStringVariable(
      "schema_guard.tenant_columns",
      "Column names that mark a table as holding per-tenant rows (used by rls_audit).", nullptr,
      &tenant_columns_value, "tenant_id,org_id,organization_id,account_id,workspace_id,team_id,customer_id",
      PGC_USERSET, GUC_LIST_INPUT, nullptr, nullptr, nullptr);
  MarkGUCPrefixReserved("schema_guard");
}

policy::Settings CurrentSettings() {
  return policy::Settings{static_cast<Action>(mode_value), rule_overrides,
                          AllowSetForThisTransaction() ? allow_list : nullptr};
}

Action Mode() { return static_cast<Action>(mode_value); }
long MinTableSizeBytes() { return static_cast<long>(min_table_size_kb) * 1024L; }
Action CitusLockConflict() { return static_cast<Action>(citus_lock_conflict_value); }

int GuardLockTimeoutMs() { return lock_timeout_ms; }
bool ExemptSetup() { return exempt_setup; }
TableSizes TableSizeSetting() { return static_cast<TableSizes>(table_sizes_value); }
const audit::CheckSet &AuditSkipped() { return audit_skip != nullptr ? *audit_skip : kNoneSkipped; }

}  // namespace schema_guard::guc
