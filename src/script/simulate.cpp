#include "script/simulate.hpp"

#include "boundary.hpp"
#include "glue/guc.hpp"
#include "script/script_objects.hpp"

namespace schema_guard::script {

using analysis::Finding;
using policy::RuleId;

namespace {

constexpr int kBatchSteps = 1024;              // steps parsed in one subtransaction
constexpr size_t kBatchBytes = 1024 * 1024;    // ... or this much text

struct HeldLock {
  Oid relid;
  LOCKMODE mode;
};

struct ScriptRoutine {
  char key[2 * NAMEDATALEN + 2];  // "schema.name"
  const char *body;               // nullptr: dropped by the script
  const char *language;
};

// A setting the script changes that the analysis or the verdicts read: search_path
// (which relation a name means), TimeZone (timestamp to timestamptz), schema_guard.*.
struct ScriptSetting {
  const char *name;
  const char *value;  // nullptr: RESET / SET ... TO DEFAULT
  bool local;
};

}  // namespace

struct Simulation {
  EmitFn emit;
  void *emit_context;
  MemoryContext context;        // the script's state (outlives the batches)
  MemoryContext batch_context;  // steps and parse trees of one batch
  MemoryContext statement_context;
  Step *batch;
  int batch_len;
  size_t batch_bytes;
  bool stopped;
  // the script's session and transaction
  bool in_transaction;
  bool implicit_transaction;  // opened by BeginImplicit
  bool aborted;               // an error inside the block: the rest fails until its end
  bool abort_noted;           // ... and a note said so at the first statement skipped
  bool failed;                // the statement being judged fails: the rest of its body does not run
  int session_timeout_ms;     // lock_timeout outside SET LOCAL
  int local_timeout_ms;       // SET LOCAL lock_timeout in the open transaction (-1: none)
  List *held_strong;          // of Oid: relations an earlier statement locked SHARE or stronger
  HeldLock *held;             // every lock of the open transaction, strongest mode
  int nheld;
  int held_cap;
  HTAB *created;              // names of relations the script creates
  HTAB *routines;             // CREATE FUNCTION / PROCEDURE bodies of the script, by name
  List *judged_routines;      // routines judged for the current statement (once each)
  List *added_columns;        // of analysis::ScriptColumn *: columns the script added to existing tables
  ScriptObjects *objects;     // constraints, indexes, triggers ... it created on existing tables
  List *renamed_columns;      // of RenamedColumn *: columns of existing relations the script renamed
  bool renamed_any;           // the script renamed or moved an existing relation or column
  bool nonstandard_strings;   // standard_conforming_strings off for the next statement (the script's SET followed)
  bool session_nonstandard;   // ... off in the calling session
  int body_depth;             // judging a DO block's or a procedure's statements
  List *session_sets;         // of ScriptSetting *: SET of a setting the analysis reads
  List *local_sets;           // ... SET LOCAL in the open transaction
  List *levels;               // of TransactionLevel *: the open transaction, then its savepoints
  int EffectiveTimeout() const { return in_transaction && local_timeout_ms >= 0 ? local_timeout_ms : session_timeout_ms; }
};

static_assert(std::is_trivially_destructible_v<Simulation>);
static_assert(std::is_trivially_destructible_v<Step>);

namespace {

// ---------------------------------------------------------------- parsing

struct ParseBatch {
  Step *steps;
  int count;
  int next;  // the step being parsed
  bool nonstandard_strings;  // standard_conforming_strings is off for this step
  bool session_nonstandard;  // ... as in the calling session (a \connect starts over with it)
};

// SET [SESSION] standard_conforming_strings / RESET of it / RESET ALL: how the server
// reads '...' in the statements after it.  (SET LOCAL is not followed.)
void FollowStandardStrings(List *parsed, bool *nonstandard) {
  ListCell *lc;
  foreach (lc, parsed) {
    Node *stmt = static_cast<RawStmt *>(lfirst(lc))->stmt;
    if (!IsA(stmt, VariableSetStmt)) continue;
    auto *set = reinterpret_cast<VariableSetStmt *>(stmt);
    if (set->kind == VAR_RESET_ALL) {
      *nonstandard = false;
      continue;
    }
    if (set->is_local || set->name == nullptr || pg_strcasecmp(set->name, "standard_conforming_strings") != 0) continue;
    bool value = true;
    if (set->kind == VAR_SET_VALUE) {
      if (!parse_bool(ExtractSetVariableArgs(set), &value)) continue;  // the server refuses it
    } else if (set->kind != VAR_SET_DEFAULT && set->kind != VAR_RESET) {
      continue;
    }
    *nonstandard = !value;
  }
}

void ParseSteps(void *arg) {
  auto *p = static_cast<ParseBatch *>(arg);
  // The script's own standard_conforming_strings, in a GUC nest level this
  // subtransaction closes (its abort restores it on an error).
  int nest = -1;
  auto apply = [&](bool nonstandard) {
    // (the warnings about backslashes the server would send to the deploy's client are
    // not check()'s to send to its caller)
    if (!SG_NONSTANDARD_STRINGS_POSSIBLE) return;  // 19: always standard, nothing to set
    if (nonstandard == !SG_STANDARD_CONFORMING_STRINGS && (!nonstandard || !SG_ESCAPE_STRING_WARNING)) return;
    if (nest < 0) nest = NewGUCNestLevel();
    (void)set_config_option("standard_conforming_strings", nonstandard ? "off" : "on", PGC_USERSET, PGC_S_SESSION,
                            GUC_ACTION_SAVE, true, ERROR, false);
    (void)set_config_option("escape_string_warning", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, ERROR,
                            false);
  };
  for (; p->next < p->count; p->next++) {
    Step *st = &p->steps[p->next];
    if (st->kind == StepKind::Connect) p->nonstandard_strings = p->session_nonstandard;  // a new session
    if (st->kind != StepKind::Sql) continue;
    apply(p->nonstandard_strings);
    st->parsed = raw_parser(st->text, RAW_PARSE_DEFAULT);
    FollowStandardStrings(st->parsed, &p->nonstandard_strings);
  }
  if (nest >= 0) AtEOXact_GUC(false, nest);
}

// Errors raw_parser() raises for bad input (syntax errors, invalid literals).
// Anything else (cancel, out of memory, stack depth) is not ours to discard.
bool IsInputError(const ErrorData *e) {
  const int category = ERRCODE_TO_CATEGORY(e->sqlerrcode);
  return category == ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION || category == ERRCODE_DATA_EXCEPTION ||
         e->sqlerrcode == ERRCODE_FEATURE_NOT_SUPPORTED || e->sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE ||
         e->sqlerrcode == ERRCODE_CHARACTER_NOT_IN_REPERTOIRE || e->sqlerrcode == ERRCODE_UNTRANSLATABLE_CHARACTER;
}

// Parse the whole batch in one subtransaction; a step that fails gets its error and
// parsing resumes after it in a new one.
void ParseBatchSteps(Simulation *sim) {
  ParseBatch p = {sim->batch, sim->batch_len, 0, sim->nonstandard_strings, sim->session_nonstandard};
  while (p.next < p.count) {
    ErrorData *error = nullptr;
    if (TryInSubtransaction(ParseSteps, &p, &error)) break;
    if (!IsInputError(error)) ReThrowError(error);
    p.steps[p.next].parsed = NIL;
    p.steps[p.next].error = error;
    p.next++;
  }
  sim->nonstandard_strings = p.nonstandard_strings;
}

// ---------------------------------------------------------------- the script's state

char *RelName(const RangeVar *rv) {
  return rv->schemaname ? psprintf("%s.%s", rv->schemaname, rv->relname) : pstrdup(rv->relname);
}

// What the script did to a relation (or schema) name: the catalog does not know yet.
enum class Known : uint8 { Unknown, Created, Dropped, Renamed };

constexpr int kNameKey = 2 * NAMEDATALEN + 2;

struct KnownName {
  char key[kNameKey];  // "schema.relation", or "schema." for a schema
  Known state;
  Oid renamed_from;  // Renamed: the existing relation now under this name
};

// A hash table keyed by a qualified name (kNameKey bytes), living as long as the script.
HTAB *NameTable(Simulation *sim, const char *what, long size, Size entry_size) {
  HASHCTL ctl;
  ctl.keysize = kNameKey;
  ctl.entrysize = entry_size;
  ctl.hcxt = sim->context;
  return hash_create(what, size, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

void Mark(Simulation *sim, const char *schema, const char *rel, Known state, Oid renamed_from = InvalidOid) {
  if (sim->created == nullptr) sim->created = NameTable(sim, "schema_guard script names", 256, sizeof(KnownName));
  char key[kNameKey] = {0};
  snprintf(key, sizeof key, "%s.%s", schema, rel ? rel : "");
  auto *entry = static_cast<KnownName *>(hash_search(sim->created, key, HASH_ENTER, nullptr));
  entry->state = state;
  entry->renamed_from = renamed_from;
  if (state == Known::Renamed) sim->renamed_any = true;
}

const KnownName *Lookup(const Simulation &sim, const char *schema, const char *rel) {
  if (sim.created == nullptr) return nullptr;
  char key[kNameKey] = {0};
  snprintf(key, sizeof key, "%s.%s", schema, rel ? rel : "");
  bool found = false;
  auto *entry = static_cast<KnownName *>(hash_search(sim.created, key, HASH_FIND, &found));
  return found ? entry : nullptr;
}

// The effective search_path (the script's SET applied), "$user" resolved.
List *SearchPathNames() {
  List *names = NIL;
  if (!SplitIdentifierString(pstrdup(namespace_search_path), ',', &names)) return NIL;
  List *out = NIL;
  ListCell *lc;
  foreach (lc, names) {
    const char *name = static_cast<const char *>(lfirst(lc));
    if (strcmp(name, "$user") == 0) name = GetUserNameFromId(GetUserId(), true);
    if (name != nullptr) out = lappend(out, const_cast<char *>(name));
  }
  return out;
}

bool SchemaUsable(const Simulation &sim, const char *schema) {
  const KnownName *k = Lookup(sim, schema, nullptr);
  if (k != nullptr) return k->state == Known::Created || k->state == Known::Renamed;
  return OidIsValid(get_namespace_oid(schema, true));
}

// Where CREATE puts an object without a schema: the first usable schema of the path.
const char *FirstUsableSchema(const Simulation &sim) {
  ListCell *lc;
  foreach (lc, SearchPathNames()) {
    const char *schema = static_cast<const char *>(lfirst(lc));
    if (SchemaUsable(sim, schema)) return schema;
  }
  return "public";
}

const char *CreationSchema(const Simulation &sim, const RangeVar *rv) {
  return rv->schemaname != nullptr ? rv->schemaname : FirstUsableSchema(sim);
}

struct Resolved {
  Known state;        // Unknown: an existing relation (relid) or none
  Oid relid;
  const char *schema;  // where the name was found
};

// Which relation a name means after the script's earlier statements: the path is
// walked as the server walks it, with the script's own creations, drops and renames.
Resolved Resolve(const Simulation &sim, const RangeVar *rv) {
  auto in_schema = [&](const char *schema, Resolved *out) {
    if (const KnownName *k = Lookup(sim, schema, rv->relname)) {
      *out = Resolved{k->state, k->renamed_from, schema};
      return k->state != Known::Dropped;
    }
    if (const KnownName *k = Lookup(sim, schema, nullptr); k != nullptr && k->state == Known::Dropped) return false;
    if (const KnownName *k = Lookup(sim, schema, nullptr); k != nullptr && k->state == Known::Renamed) {
      // ALTER SCHEMA ... RENAME: its existing relations, under the new name
      const Oid relid = get_relname_relid(rv->relname, k->renamed_from);
      *out = Resolved{OidIsValid(relid) ? Known::Renamed : Known::Unknown, relid, schema};
      return OidIsValid(relid);
    }
    const Oid nsp = get_namespace_oid(schema, true);
    const Oid relid = OidIsValid(nsp) ? get_relname_relid(rv->relname, nsp) : InvalidOid;
    *out = Resolved{Known::Unknown, relid, schema};
    return OidIsValid(relid);
  };
  Resolved r = {Known::Unknown, InvalidOid, nullptr};
  if (rv->schemaname != nullptr) {
    in_schema(rv->schemaname, &r);
    return r;
  }
  ListCell *lc;
  foreach (lc, SearchPathNames()) {
    Resolved here;
    if (in_schema(static_cast<const char *>(lfirst(lc)), &here)) return here;
    if (here.state == Known::Dropped && r.state == Known::Unknown) r = here;
  }
  if (r.state == Known::Unknown) r.relid = analysis::LookupRelation(rv);  // pg_catalog, pg_temp
  return r;
}

void RememberCreated(Simulation *sim, const RangeVar *rv) {
  MemoryContext old = MemoryContextSwitchTo(sim->context);
  Mark(sim, CreationSchema(*sim, rv), rv->relname, Known::Created);
  MemoryContextSwitchTo(old);
}

// The existing relation a name means after the script's earlier statements (under its
// own name or one the script renamed it to), or InvalidOid.
Oid ExistingRelation(const Resolved &r) {
  return r.state == Known::Renamed || r.state == Known::Unknown ? r.relid : InvalidOid;
}

// A column the script renamed on an existing relation: later statements name it by
// its new name, the catalog by its old one.
struct RenamedColumn {
  Oid relid;             // InvalidOid: superseded by a later entry
  const char *new_name;  // nullptr: the script dropped the column
  const char *old_name;
};

// The catalog's name of a column of an existing relation, after the script's renames.
const char *CatalogColumnName(const Simulation &sim, Oid relid, const char *name) {
  ListCell *lc;
  foreach (lc, sim.renamed_columns) {
    auto *rc = static_cast<RenamedColumn *>(lfirst(lc));
    if (rc->relid == relid && name != nullptr && rc->new_name != nullptr && strcmp(rc->new_name, name) == 0)
      return rc->old_name;
  }
  return name;
}

analysis::ScriptColumn *FindAddedColumn(const Simulation &sim, Oid relid, const char *name) {
  ListCell *lc;
  foreach (lc, sim.added_columns) {
    auto *c = static_cast<analysis::ScriptColumn *>(lfirst(lc));
    if (c->relid == relid && name != nullptr && strcmp(c->name, name) == 0) return c;
  }
  return nullptr;
}

// Does an existing relation have this column after the script's earlier statements
// (added, renamed to it, not renamed away or dropped)?
bool ColumnExists(const Simulation &sim, Oid relid, const char *name) {
  if (FindAddedColumn(sim, relid, name) != nullptr) return true;
  ListCell *lc;
  foreach (lc, sim.renamed_columns) {
    auto *rc = static_cast<RenamedColumn *>(lfirst(lc));
    if (rc->relid == relid && rc->new_name != nullptr && strcmp(rc->new_name, name) == 0) return true;
  }
  foreach (lc, sim.renamed_columns) {
    auto *rc = static_cast<RenamedColumn *>(lfirst(lc));
    if (rc->relid == relid && strcmp(rc->old_name, name) == 0) return false;  // renamed away or dropped
  }
  return get_attnum(relid, name) != InvalidAttrNumber;
}

struct ColumnTypeProbe {
  ColumnDef *def;
  Oid type;
  int32 typmod;
  Oid collation;
  bool serial;  // smallserial, serial, bigserial: an integer, NOT NULL, with a sequence
};

void ResolveColumnType(void *arg) {
  auto *p = static_cast<ColumnTypeProbe *>(arg);
  TypeName *tn = p->def->typeName;
  const int n = list_length(tn->names);
  if (tn->typmods == NIL && tn->arrayBounds == NIL &&
      (n == 1 || (n == 2 && strcmp(strVal(linitial(tn->names)), "pg_catalog") == 0))) {
    const char *t = strVal(llast(tn->names));  // as transformColumnDefinition() tells them
    Oid serial_type = InvalidOid;
    if (strcmp(t, "smallserial") == 0 || strcmp(t, "serial2") == 0) serial_type = INT2OID;
    else if (strcmp(t, "serial") == 0 || strcmp(t, "serial4") == 0) serial_type = INT4OID;
    else if (strcmp(t, "bigserial") == 0 || strcmp(t, "serial8") == 0) serial_type = INT8OID;
    if (OidIsValid(serial_type)) {
      tn = makeTypeNameFromOid(serial_type, -1);
      p->serial = true;
    }
  }
  typenameTypeIdAndMod(nullptr, tn, &p->type, &p->typmod);
  p->collation = GetColumnDefCollation(nullptr, p->def, p->type);
}

// ADD COLUMN of a new column on an existing table: what later statements find there.
void RememberAddedColumn(Simulation *sim, Oid relid, ColumnDef *col) {
  if (col == nullptr || col->colname == nullptr || col->typeName == nullptr) return;
  if (get_attnum(relid, col->colname) != InvalidAttrNumber || FindAddedColumn(*sim, relid, col->colname)) return;
  ColumnTypeProbe probe = {col, InvalidOid, -1, InvalidOid, false};
  if (!TryInSubtransaction(ResolveColumnType, &probe)) return;  // no such type: the ADD fails
  bool not_null = col->is_not_null || col->identity != 0 || probe.serial;
  ListCell *lc;
  foreach (lc, col->constraints) {
    const ConstrType t = static_cast<Constraint *>(lfirst(lc))->contype;
    if (t == CONSTR_NOTNULL || t == CONSTR_PRIMARY || t == CONSTR_IDENTITY) not_null = true;
  }
  MemoryContext old = MemoryContextSwitchTo(sim->context);
  auto *c = static_cast<analysis::ScriptColumn *>(palloc0(sizeof(analysis::ScriptColumn)));
  *c = analysis::ScriptColumn{relid, pstrdup(col->colname), probe.type, probe.typmod, probe.collation, not_null};
  sim->added_columns = lappend(sim->added_columns, c);
  MemoryContextSwitchTo(old);
}

// What ALTER TABLE did to the columns of an existing table: added ones, and the NOT
// NULL, type and drops of the ones the script added.
void TrackColumns(Simulation *sim, Oid relid, AlterTableStmt *alter) {
  ListCell *lc;
  foreach (lc, alter->cmds) {
    auto *cmd = static_cast<AlterTableCmd *>(lfirst(lc));
    if (cmd->subtype == AT_AddColumn) {
      RememberAddedColumn(sim, relid, reinterpret_cast<ColumnDef *>(cmd->def));
      continue;
    }
    analysis::ScriptColumn *added = FindAddedColumn(*sim, relid, cmd->name);
    if (added == nullptr) {
      if (cmd->subtype == AT_DropColumn && cmd->name != nullptr && ColumnExists(*sim, relid, cmd->name)) {
        MemoryContext old = MemoryContextSwitchTo(sim->context);
        auto *rc = static_cast<RenamedColumn *>(palloc(sizeof(RenamedColumn)));
        *rc = RenamedColumn{relid, nullptr, pstrdup(CatalogColumnName(*sim, relid, cmd->name))};
        ListCell *rl;
        foreach (rl, sim->renamed_columns) {
          auto *earlier = static_cast<RenamedColumn *>(lfirst(rl));
          if (earlier->relid == relid && earlier->new_name != nullptr && strcmp(earlier->new_name, cmd->name) == 0)
            earlier->relid = InvalidOid;
        }
        sim->renamed_columns = lappend(sim->renamed_columns, rc);
        MemoryContextSwitchTo(old);
      }
      continue;
    }
    switch (cmd->subtype) {
      case AT_SetNotNull: added->not_null = true; break;
      case AT_DropNotNull: added->not_null = false; break;
      case AT_DropColumn: added->relid = InvalidOid; break;  // gone: never matches again
      case AT_AlterColumnType: {
        auto *def = reinterpret_cast<ColumnDef *>(cmd->def);
        if (def == nullptr || !IsA(def, ColumnDef) || def->typeName == nullptr) break;
        ColumnTypeProbe probe = {def, InvalidOid, -1, InvalidOid, false};
        if (TryInSubtransaction(ResolveColumnType, &probe)) {
          added->type = probe.type;
          added->typmod = probe.typmod;
          added->collation = probe.collation;
        }
        break;
      }
      default: break;
    }
  }
}

// RENAME COLUMN on an existing relation: a column the script added takes the new
// name; a catalog column is remembered under it.
void TrackColumnRename(Simulation *sim, Oid relid, const char *from, const char *to) {
  MemoryContext old = MemoryContextSwitchTo(sim->context);
  if (analysis::ScriptColumn *added = FindAddedColumn(*sim, relid, from)) {
    added->name = pstrdup(to);
  } else {
    const char *catalog_name = CatalogColumnName(*sim, relid, from);
    ListCell *lc;
    foreach (lc, sim->renamed_columns) {  // renamed again: one entry
      auto *rc = static_cast<RenamedColumn *>(lfirst(lc));
      if (rc->relid == relid && rc->new_name != nullptr && strcmp(rc->new_name, from) == 0) rc->relid = InvalidOid;
    }
    auto *rc = static_cast<RenamedColumn *>(palloc(sizeof(RenamedColumn)));
    *rc = RenamedColumn{relid, pstrdup(to), pstrdup(catalog_name)};
    sim->renamed_columns = lappend(sim->renamed_columns, rc);
    sim->renamed_any = true;
  }
  MemoryContextSwitchTo(old);
}

// ---------------------------------------------------------------- renames

// A name the script gave an existing relation, replaced by the catalog's (in place).
void RedirectRelation(const Simulation &sim, RangeVar *rv) {
  if (rv == nullptr) return;
  const Resolved r = Resolve(sim, rv);
  if (r.state != Known::Renamed) return;
  const char *name = get_rel_name(r.relid);
  const char *schema = name ? get_namespace_name(get_rel_namespace(r.relid)) : nullptr;
  if (schema == nullptr) return;
  rv->schemaname = pstrdup(schema);
  rv->relname = pstrdup(name);
}

// The catalog's name of an existing relation's column the script renamed (in place).
void RedirectColumn(const Simulation &sim, Oid relid, char **name) {
  if (OidIsValid(relid) && *name != nullptr) *name = const_cast<char *>(CatalogColumnName(sim, relid, *name));
}

void RedirectColumnList(const Simulation &sim, Oid relid, List *names) {
  ListCell *lc;
  foreach (lc, names)
    if (IsA(lfirst(lc), String)) {
      char *name = strVal(lfirst(lc));
      RedirectColumn(sim, relid, &name);
      lfirst(lc) = makeString(name);
    }
}

void RedirectConstraint(const Simulation &sim, Oid relid, Node *node) {
  if (node == nullptr || !IsA(node, Constraint)) return;
  auto *con = reinterpret_cast<Constraint *>(node);
  RedirectColumnList(sim, relid, con->keys);
  RedirectColumnList(sim, relid, con->including);
  RedirectColumnList(sim, relid, con->fk_attrs);
  if (con->pktable != nullptr) {
    const Oid pkrel = ExistingRelation(Resolve(sim, con->pktable));
    RedirectColumnList(sim, pkrel, con->pk_attrs);
    RedirectRelation(sim, con->pktable);
  }
}

// Column subcommands of ALTER TABLE (cmd->name is a column; for the others it is a
// constraint, an index or nothing).
bool NamesColumn(AlterTableType t) {
  switch (t) {
    case AT_AlterColumnType:
    case AT_SetNotNull:
    case AT_DropNotNull:
    case AT_ColumnDefault:
    case AT_DropColumn:
    case AT_SetStatistics:
    case AT_SetOptions:
    case AT_ResetOptions:
    case AT_SetStorage:
    case AT_SetCompression:
    case AT_AddIdentity:
    case AT_SetIdentity:
    case AT_DropIdentity:
    case AT_DropExpression:
    case AT_AlterColumnGenericOptions:
      return true;
    default:
      return false;
  }
}

// The statement as the catalog knows its objects: the relations and columns the script
// renamed (RENAME, SET SCHEMA) replaced by the existing ones they are, so that a later
// statement on the new name is judged on the existing table (its size, rows, indexes).
// A copy; the statement itself is kept for the script's own bookkeeping.
Node *RedirectToCatalog(const Simulation &sim, Node *stmt) {
  if (!sim.renamed_any) return stmt;
  stmt = static_cast<Node *>(copyObjectImpl(stmt));
  switch (nodeTag(stmt)) {
    case T_AlterTableStmt: {
      auto *alter = reinterpret_cast<AlterTableStmt *>(stmt);
      const Oid relid = ExistingRelation(Resolve(sim, alter->relation));
      ListCell *lc;
      foreach (lc, alter->cmds) {
        auto *cmd = static_cast<AlterTableCmd *>(lfirst(lc));
        if (NamesColumn(cmd->subtype)) RedirectColumn(sim, relid, &cmd->name);
        if (cmd->subtype == AT_AddConstraint) RedirectConstraint(sim, relid, cmd->def);
        if (cmd->subtype == AT_AlterColumnType && cmd->def != nullptr && IsA(cmd->def, ColumnDef))
          reinterpret_cast<ColumnDef *>(cmd->def)->colname = cmd->name;
        if (cmd->subtype == AT_AddColumn && cmd->def != nullptr && IsA(cmd->def, ColumnDef)) {
          ListCell *cc;
          foreach (cc, reinterpret_cast<ColumnDef *>(cmd->def)->constraints)
            RedirectConstraint(sim, relid, static_cast<Node *>(lfirst(cc)));
        }
      }
      RedirectRelation(sim, alter->relation);
      break;
    }
    case T_IndexStmt: {
      auto *ix = reinterpret_cast<IndexStmt *>(stmt);
      const Oid relid = ExistingRelation(Resolve(sim, ix->relation));
      ListCell *lc;
      foreach (lc, ix->indexParams) RedirectColumn(sim, relid, &static_cast<IndexElem *>(lfirst(lc))->name);
      foreach (lc, ix->indexIncludingParams) RedirectColumn(sim, relid, &static_cast<IndexElem *>(lfirst(lc))->name);
      RedirectRelation(sim, ix->relation);
      break;
    }
    case T_RenameStmt: {
      auto *rn = reinterpret_cast<RenameStmt *>(stmt);
      if (rn->renameType == OBJECT_COLUMN)
        RedirectColumn(sim, ExistingRelation(Resolve(sim, rn->relation)), &rn->subname);
      RedirectRelation(sim, rn->relation);
      break;
    }
    case T_AlterObjectSchemaStmt: RedirectRelation(sim, reinterpret_cast<AlterObjectSchemaStmt *>(stmt)->relation); break;
    case T_RefreshMatViewStmt: RedirectRelation(sim, reinterpret_cast<RefreshMatViewStmt *>(stmt)->relation); break;
    case SG_T_CLUSTER_STMT: RedirectRelation(sim, SG_CLUSTER_RELATION(reinterpret_cast<SgClusterStmt *>(stmt))); break;
    case T_CreateTrigStmt: RedirectRelation(sim, reinterpret_cast<CreateTrigStmt *>(stmt)->relation); break;
    case T_CreatePolicyStmt: RedirectRelation(sim, reinterpret_cast<CreatePolicyStmt *>(stmt)->table); break;
    case T_AlterPolicyStmt: RedirectRelation(sim, reinterpret_cast<AlterPolicyStmt *>(stmt)->table); break;
    case T_RuleStmt: RedirectRelation(sim, reinterpret_cast<RuleStmt *>(stmt)->relation); break;
    case T_TruncateStmt:
    case T_LockStmt: {
      List *rels = IsA(stmt, TruncateStmt) ? reinterpret_cast<TruncateStmt *>(stmt)->relations
                                           : reinterpret_cast<LockStmt *>(stmt)->relations;
      ListCell *lc;
      foreach (lc, rels) RedirectRelation(sim, static_cast<RangeVar *>(lfirst(lc)));
      break;
    }
    case T_VacuumStmt: {
      ListCell *lc;
      foreach (lc, reinterpret_cast<VacuumStmt *>(stmt)->rels)
        RedirectRelation(sim, static_cast<VacuumRelation *>(lfirst(lc))->relation);
      break;
    }
    case T_CreateStmt: {
      auto *create = reinterpret_cast<CreateStmt *>(stmt);
      ListCell *lc;
      foreach (lc, create->inhRelations) RedirectRelation(sim, static_cast<RangeVar *>(lfirst(lc)));
      foreach (lc, create->constraints) RedirectConstraint(sim, InvalidOid, static_cast<Node *>(lfirst(lc)));
      foreach (lc, create->tableElts)
        if (IsA(lfirst(lc), ColumnDef)) {
          ListCell *cc;
          foreach (cc, static_cast<ColumnDef *>(lfirst(lc))->constraints)
            RedirectConstraint(sim, InvalidOid, static_cast<Node *>(lfirst(cc)));
        }
      break;
    }
    case T_DropStmt: {
      auto *drop = reinterpret_cast<DropStmt *>(stmt);
      if (drop->removeType != OBJECT_TABLE && drop->removeType != OBJECT_INDEX && drop->removeType != OBJECT_VIEW &&
          drop->removeType != OBJECT_MATVIEW && drop->removeType != OBJECT_SEQUENCE &&
          drop->removeType != OBJECT_FOREIGN_TABLE)
        break;
      ListCell *lc;
      foreach (lc, drop->objects) {
        RangeVar *rv = makeRangeVarFromNameList(static_cast<List *>(lfirst(lc)));
        RedirectRelation(sim, rv);
        lfirst(lc) = rv->schemaname != nullptr ? list_make2(makeString(rv->schemaname), makeString(rv->relname))
                                               : list_make1(makeString(rv->relname));
      }
      break;
    }
    default:
      break;
  }
  return stmt;
}

// ALTER TABLE on a table the script created: nobody else sees that table, but a FOREIGN
// KEY it adds still locks the existing table it references (SHARE ROW EXCLUSIVE), as
// the hook's analysis of a table created in the transaction does.
void NewTableForeignKeyTargets(const Simulation &sim, Node *stmt, analysis::StatementAnalysis *result) {
  if (!IsA(stmt, AlterTableStmt)) return;
  auto lock_referenced = [&](Node *node) {
    if (node == nullptr || !IsA(node, Constraint)) return;
    auto *con = reinterpret_cast<Constraint *>(node);
    if (con->contype != CONSTR_FOREIGN || con->pktable == nullptr) return;
    const Resolved r = Resolve(sim, con->pktable);
    if (r.state == Known::Unknown || r.state == Known::Renamed) analysis::LockReferencedTable(result, r.relid);
  };
  ListCell *lc;
  foreach (lc, reinterpret_cast<AlterTableStmt *>(stmt)->cmds) {
    auto *cmd = static_cast<AlterTableCmd *>(lfirst(lc));
    if (cmd->subtype == AT_AddConstraint) {
      lock_referenced(cmd->def);
    } else if (cmd->subtype == AT_AddColumn && cmd->def != nullptr && IsA(cmd->def, ColumnDef)) {
      ListCell *cc;
      foreach (cc, reinterpret_cast<ColumnDef *>(cmd->def)->constraints) lock_referenced(static_cast<Node *>(lfirst(cc)));
    }
  }
  if (result->lock_targets != NIL) result->command = "ALTER TABLE";
}

// The lock_timeout the statement runs with: the script's, else schema_guard.lock_timeout
// (as the script left it) when the statement takes a lock that blocks reads or writes:
// the hook applies that one for the statement.
int StatementTimeout(const Simulation &sim, List *lock_targets) {
  const int timeout = sim.EffectiveTimeout();
  if (timeout > 0 || guc::GuardLockTimeoutMs() <= 0) return timeout;
  ListCell *lc;
  foreach (lc, lock_targets)
    if (static_cast<analysis::LockTarget *>(lfirst(lc))->lock >= ShareLock) return guc::GuardLockTimeoutMs();
  return timeout;
}

// After a statement ran: what it created, dropped or renamed.
void TrackNames(Simulation *sim, Node *stmt) {
  switch (nodeTag(stmt)) {
    case T_AlterTableStmt: {
      auto *alter = reinterpret_cast<AlterTableStmt *>(stmt);
      const Oid relid = ExistingRelation(Resolve(*sim, alter->relation));
      if (OidIsValid(relid)) TrackColumns(sim, relid, alter);
      break;
    }
    case T_CreateStmt: {
      auto *c = reinterpret_cast<CreateStmt *>(stmt);
      // IF NOT EXISTS of an existing table creates nothing: later statements judge it
      if (c->if_not_exists && OidIsValid(Resolve(*sim, c->relation).relid)) break;
      RememberCreated(sim, c->relation);
      break;
    }
    case T_CreateTableAsStmt: {
      auto *c = reinterpret_cast<CreateTableAsStmt *>(stmt);
      if (c->if_not_exists && OidIsValid(Resolve(*sim, c->into->rel).relid)) break;
      RememberCreated(sim, c->into->rel);
      break;
    }
    case T_SelectStmt:  // SELECT ... INTO creates a table
      if (auto *into = reinterpret_cast<SelectStmt *>(stmt)->intoClause) RememberCreated(sim, into->rel);
      break;
    case T_CreateSchemaStmt: {
      auto *c = reinterpret_cast<CreateSchemaStmt *>(stmt);
      const char *name = c->schemaname ? c->schemaname : (c->authrole ? get_rolespec_name(c->authrole) : nullptr);
      if (name != nullptr && !(c->if_not_exists && OidIsValid(get_namespace_oid(name, true))))
        Mark(sim, name, nullptr, Known::Created);
      break;
    }
    case T_IndexStmt: {
      auto *ix = reinterpret_cast<IndexStmt *>(stmt);
      if (ix->idxname == nullptr) break;
      const Resolved table = Resolve(*sim, ix->relation);
      const char *schema = table.state == Known::Created ? table.schema
                           : OidIsValid(table.relid)      ? get_namespace_name(get_rel_namespace(table.relid))
                                                          : nullptr;
      if (schema != nullptr) Mark(sim, schema, ix->idxname, Known::Created);
      break;
    }
    case T_DropStmt: {
      auto *d = reinterpret_cast<DropStmt *>(stmt);
      if (d->removeType == OBJECT_SCHEMA) {
        ListCell *lc;
        foreach (lc, d->objects) Mark(sim, strVal(lfirst(lc)), nullptr, Known::Dropped);
        break;
      }
      if (d->removeType != OBJECT_TABLE && d->removeType != OBJECT_INDEX && d->removeType != OBJECT_VIEW &&
          d->removeType != OBJECT_MATVIEW && d->removeType != OBJECT_SEQUENCE && d->removeType != OBJECT_FOREIGN_TABLE)
        break;
      ListCell *lc;
      foreach (lc, d->objects) {
        RangeVar *rv = makeRangeVarFromNameList(static_cast<List *>(lfirst(lc)));
        const Resolved r = Resolve(*sim, rv);
        if (r.state == Known::Created || r.state == Known::Renamed || OidIsValid(r.relid))
          Mark(sim, r.schema ? r.schema : CreationSchema(*sim, rv), rv->relname, Known::Dropped);
      }
      break;
    }
    case T_RenameStmt: {
      auto *rn = reinterpret_cast<RenameStmt *>(stmt);
      if (rn->renameType == OBJECT_SCHEMA && rn->subname != nullptr && rn->newname != nullptr) {
        const KnownName *k = Lookup(*sim, rn->subname, nullptr);
        const Oid nsp = k == nullptr                    ? get_namespace_oid(rn->subname, true)
                        : k->state == Known::Renamed ? k->renamed_from
                                                      : InvalidOid;
        const bool created = k != nullptr && k->state == Known::Created;
        if (!OidIsValid(nsp) && !created) break;  // fails
        Mark(sim, rn->subname, nullptr, Known::Dropped);
        Mark(sim, rn->newname, nullptr, created ? Known::Created : Known::Renamed, nsp);
        break;
      }
      if (rn->renameType == OBJECT_COLUMN && rn->relation != nullptr && rn->subname != nullptr &&
          rn->newname != nullptr) {
        const Oid relid = ExistingRelation(Resolve(*sim, rn->relation));
        if (OidIsValid(relid)) TrackColumnRename(sim, relid, rn->subname, rn->newname);
        break;
      }
      if (rn->relation == nullptr || rn->subname != nullptr || rn->newname == nullptr) break;  // constraints etc.
      if (rn->renameType != OBJECT_TABLE && rn->renameType != OBJECT_INDEX && rn->renameType != OBJECT_VIEW &&
          rn->renameType != OBJECT_MATVIEW && rn->renameType != OBJECT_SEQUENCE)
        break;
      const Resolved r = Resolve(*sim, rn->relation);
      if (r.state != Known::Created && !OidIsValid(r.relid)) break;
      const char *schema = r.schema ? r.schema : CreationSchema(*sim, rn->relation);
      Mark(sim, schema, rn->relation->relname, Known::Dropped);
      if (r.state == Known::Created) Mark(sim, schema, rn->newname, Known::Created);
      else Mark(sim, schema, rn->newname, Known::Renamed, r.relid);
      break;
    }
    case T_AlterObjectSchemaStmt: {  // SET SCHEMA: the relation is now under the new schema
      auto *move = reinterpret_cast<AlterObjectSchemaStmt *>(stmt);
      if (move->relation == nullptr || move->newschema == nullptr) break;
      const Resolved r = Resolve(*sim, move->relation);
      if (r.state != Known::Created && !OidIsValid(r.relid)) break;
      if (!SchemaUsable(*sim, move->newschema)) break;  // fails
      const char *schema = r.schema ? r.schema : CreationSchema(*sim, move->relation);
      Mark(sim, schema, move->relation->relname, Known::Dropped);
      if (r.state == Known::Created) Mark(sim, move->newschema, move->relation->relname, Known::Created);
      else Mark(sim, move->newschema, move->relation->relname, Known::Renamed, r.relid);
      break;
    }
    default:
      break;
  }
}

int ParseTimeout(const char *value, int fallback) {
  int ms;
  return (value != nullptr && parse_int(value, &ms, GUC_UNIT_MS, nullptr)) ? ms : fallback;
}

bool IsSimulatedSetting(const char *name) {
  return pg_strcasecmp(name, "search_path") == 0 || pg_strcasecmp(name, "timezone") == 0 ||
         pg_strncasecmp(name, "schema_guard.", 13) == 0;
}

// Apply one setting as the script's SET would, with the caller's privileges (the
// server's own check: superuser, or GRANT SET ON PARAMETER for PGC_SUSET settings).
// Failures (permission denied, invalid value) are reported at DEBUG1 and return false.
bool ApplySetting(const ScriptSetting *setting) {
  return set_config_option(setting->name, setting->value, superuser() ? PGC_SUSET : PGC_USERSET, PGC_S_SESSION,
                           setting->local ? GUC_ACTION_LOCAL : GUC_ACTION_SET, true, DEBUG1, false) > 0;
}

// The script's settings in effect, in a GUC nest level the caller must close with
// RestoreSettings(); -1 when the script changed none.
int ApplyScriptSettings(const Simulation *sim) {
  if (sim->session_sets == NIL && (sim->local_sets == NIL || !sim->in_transaction)) return -1;
  const int nest = NewGUCNestLevel();
  ListCell *lc;
  foreach (lc, sim->session_sets) ApplySetting(static_cast<ScriptSetting *>(lfirst(lc)));
  if (sim->in_transaction)
    foreach (lc, sim->local_sets) ApplySetting(static_cast<ScriptSetting *>(lfirst(lc)));
  return nest;
}

void RestoreSettings(int nest) {
  if (nest >= 0) AtEOXact_GUC(false, nest);
}

void TrackSimulatedSetting(VariableSetStmt *set, Simulation *sim) {
  if (set->kind == VAR_RESET_ALL) {
    sim->session_sets = sim->local_sets = NIL;
    return;
  }
  if (set->is_local && !sim->in_transaction) return;  // SET LOCAL outside a block: no effect
  MemoryContext old = MemoryContextSwitchTo(sim->context);
  auto *setting = static_cast<ScriptSetting *>(palloc0(sizeof(ScriptSetting)));
  setting->name = pstrdup(set->name);
  setting->local = set->is_local;
  if (set->kind == VAR_SET_VALUE) setting->value = ExtractSetVariableArgs(set);
  else if (set->kind != VAR_SET_DEFAULT && set->kind != VAR_RESET) {
    MemoryContextSwitchTo(old);
    return;
  }
  // Would the server accept it from this role?  Try it in a nest level, then undo.
  const int nest = ApplyScriptSettings(sim);
  const int probe = NewGUCNestLevel();
  const bool accepted = ApplySetting(setting);
  AtEOXact_GUC(false, probe);
  RestoreSettings(nest);
  if (accepted) {
    if (setting->local) sim->local_sets = lappend(sim->local_sets, setting);
    else sim->session_sets = lappend(sim->session_sets, setting);
  }
  MemoryContextSwitchTo(old);
}

struct SettingProbe {
  const char *name;
  const char *value;
  bool local;
};

void ProbeSetting(void *arg) {
  auto *p = static_cast<SettingProbe *>(arg);
  // changeVal = false: the server's checks (name, value, privilege), nothing set
  (void)set_config_option(p->name, p->value, superuser() ? PGC_SUSET : PGC_USERSET, PGC_S_SESSION,
                          p->local ? GUC_ACTION_LOCAL : GUC_ACTION_SET, false, ERROR, false);
}

// The server's error for a SET it would refuse from this role (unknown parameter,
// invalid value, permission denied, cannot be changed now), or nullptr.
const char *SettingRefused(VariableSetStmt *set) {
  if (set->name == nullptr || (set->kind != VAR_SET_VALUE && set->kind != VAR_SET_DEFAULT && set->kind != VAR_RESET))
    return nullptr;
  // A custom name is a placeholder the check would create (a trace); the transaction_*
  // checks read the state of check()'s own transaction, not the deploy's.
  if ((strchr(set->name, '.') != nullptr && pg_strncasecmp(set->name, "schema_guard.", 13) != 0) ||
      pg_strncasecmp(set->name, "transaction_", 12) == 0)
    return nullptr;
  SettingProbe probe = {set->name, set->kind == VAR_SET_VALUE ? ExtractSetVariableArgs(set) : nullptr, set->is_local};
  ErrorData *error = nullptr;
  if (TryInSubtransaction(ProbeSetting, &probe, &error)) return nullptr;
  return error->message ? error->message : "the server refuses this SET";
}

void TrackSet(VariableSetStmt *set, Simulation *sim) {
  if (set->kind == VAR_RESET_ALL || (set->name != nullptr && IsSimulatedSetting(set->name))) {
    TrackSimulatedSetting(set, sim);
    return;
  }
  if (set->name == nullptr || strcmp(set->name, "lock_timeout") != 0) return;
  int value;
  if (set->kind == VAR_SET_VALUE && set->args != NIL) {
    auto *con = static_cast<A_Const *>(linitial(set->args));
    const char *text = nullptr;
    if (IsA(&con->val, Integer)) text = psprintf("%d", intVal(&con->val));
    else if (IsA(&con->val, String)) text = strVal(&con->val);
    value = ParseTimeout(text, sim->EffectiveTimeout());
  } else if (set->kind == VAR_SET_DEFAULT || set->kind == VAR_RESET) {
    value = ParseTimeout(GetConfigOptionResetString("lock_timeout"), 0);
  } else {
    return;
  }
  if (set->is_local) {
    if (sim->in_transaction) sim->local_timeout_ms = value;  // outside a block SET LOCAL has no effect
  } else {
    sim->session_timeout_ms = value;
  }
}

// ---------------------------------------------------------------- transactions

// The script's state as a transaction or a savepoint found it, to go back to on
// ROLLBACK (TO SAVEPOINT): the names it created, dropped and renamed, the columns it
// added, renamed and dropped, the objects it made on existing tables, its SETs.
struct StateSnapshot {
  KnownName *names;  // the entries of sim->created
  long nnames;
  List *added_columns;    // copies of the entries (TrackColumns changes them in place)
  List *renamed_columns;  // ... likewise
  bool renamed_any;
  List *session_sets;
  int session_timeout_ms;
  ObjectsSnapshot *objects;
};

struct TransactionLevel {
  const char *savepoint;  // nullptr: the transaction itself
  StateSnapshot *before;
};

template <typename T>
List *CopyEntries(List *list) {
  List *out = NIL;
  ListCell *lc;
  foreach (lc, list) {
    auto *copy = static_cast<T *>(palloc(sizeof(T)));
    *copy = *static_cast<T *>(lfirst(lc));
    out = lappend(out, copy);
  }
  return out;
}

StateSnapshot *SaveState(const Simulation *sim) {
  MemoryContext old = MemoryContextSwitchTo(sim->context);
  auto *snap = static_cast<StateSnapshot *>(palloc0(sizeof(StateSnapshot)));
  if (sim->created != nullptr && (snap->nnames = hash_get_num_entries(sim->created)) > 0) {
    snap->names = static_cast<KnownName *>(palloc(sizeof(KnownName) * snap->nnames));
    HASH_SEQ_STATUS seq;
    hash_seq_init(&seq, sim->created);
    long i = 0;
    while (auto *entry = static_cast<KnownName *>(hash_seq_search(&seq))) {
      if (i < snap->nnames) snap->names[i] = *entry;
      i++;
    }
    snap->nnames = i < snap->nnames ? i : snap->nnames;
  }
  snap->added_columns = CopyEntries<analysis::ScriptColumn>(sim->added_columns);
  snap->renamed_columns = CopyEntries<RenamedColumn>(sim->renamed_columns);
  snap->renamed_any = sim->renamed_any;
  snap->session_sets = list_copy(sim->session_sets);
  snap->session_timeout_ms = sim->session_timeout_ms;
  snap->objects = SaveObjects(sim->objects, sim->context);
  MemoryContextSwitchTo(old);
  return snap;
}

void FreeState(StateSnapshot *snap) {
  if (snap == nullptr) return;
  if (snap->names != nullptr) pfree(snap->names);
  list_free_deep(snap->added_columns);
  list_free_deep(snap->renamed_columns);
  list_free(snap->session_sets);
  FreeObjectsSnapshot(snap->objects);
  pfree(snap);
}

// Back to the snapshot (which is consumed).
void RestoreState(Simulation *sim, StateSnapshot *snap) {
  if (sim->created != nullptr) {
    HASH_SEQ_STATUS seq;
    hash_seq_init(&seq, sim->created);
    while (auto *entry = static_cast<KnownName *>(hash_seq_search(&seq)))
      (void)hash_search(sim->created, entry->key, HASH_REMOVE, nullptr);  // the current one: allowed
  }
  for (long i = 0; i < snap->nnames; i++) {
    auto *entry = static_cast<KnownName *>(hash_search(sim->created, snap->names[i].key, HASH_ENTER, nullptr));
    *entry = snap->names[i];
  }
  list_free_deep(sim->added_columns);
  list_free_deep(sim->renamed_columns);
  sim->added_columns = snap->added_columns;
  sim->renamed_columns = snap->renamed_columns;
  sim->renamed_any = snap->renamed_any;
  list_free(sim->session_sets);
  sim->session_sets = snap->session_sets;
  sim->session_timeout_ms = snap->session_timeout_ms;
  RestoreObjects(sim->objects, snap->objects);
  snap->added_columns = snap->renamed_columns = snap->session_sets = NIL;
  snap->objects = nullptr;
  FreeState(snap);
}

void PushLevel(Simulation *sim, const char *savepoint) {
  MemoryContext old = MemoryContextSwitchTo(sim->context);
  auto *level = static_cast<TransactionLevel *>(palloc(sizeof(TransactionLevel)));
  *level = TransactionLevel{savepoint ? pstrdup(savepoint) : nullptr, SaveState(sim)};
  sim->levels = lappend(sim->levels, level);
  MemoryContextSwitchTo(old);
}

// Drop the levels from index `from` on; rolled_back: the state goes back to level `from`'s.
void PopLevels(Simulation *sim, int from, bool rolled_back) {
  while (list_length(sim->levels) > from) {
    auto *level = static_cast<TransactionLevel *>(llast(sim->levels));
    sim->levels = list_delete_last(sim->levels);
    if (rolled_back && list_length(sim->levels) == from) RestoreState(sim, level->before);
    else FreeState(level->before);
    if (level->savepoint != nullptr) pfree(const_cast<char *>(level->savepoint));
    pfree(level);
  }
}

// The innermost savepoint of this name, or -1.
int FindSavepoint(const Simulation *sim, const char *name) {
  for (int i = list_length(sim->levels) - 1; i > 0; i--) {
    auto *level = static_cast<TransactionLevel *>(list_nth(sim->levels, i));
    if (name != nullptr && level->savepoint != nullptr && strcmp(level->savepoint, name) == 0) return i;
  }
  return -1;
}

void BeginTransaction(Simulation *sim, bool implicit) {
  sim->in_transaction = true;
  sim->implicit_transaction = implicit;
  PopLevels(sim, 0, false);
  PushLevel(sim, nullptr);
}

// committed: the transaction's changes stay (COMMIT of a transaction that did not fail);
// otherwise everything the script's statements in it did is forgotten.
void EndTransaction(Simulation *sim, bool committed) {
  PopLevels(sim, 0, !committed && sim->in_transaction);
  sim->in_transaction = false;
  sim->implicit_transaction = false;
  sim->aborted = false;
  sim->local_timeout_ms = -1;
  sim->held_strong = NIL;
  sim->nheld = 0;
  sim->local_sets = NIL;
}

void TrackTransaction(TransactionStmt *tx, Simulation *sim) {
  switch (tx->kind) {
    case TRANS_STMT_BEGIN:
    case TRANS_STMT_START:
      if (!sim->in_transaction) BeginTransaction(sim, false);
      else sim->implicit_transaction = false;  // BEGIN in an implicit block makes it a real one
      break;
    case TRANS_STMT_COMMIT:
    case TRANS_STMT_ROLLBACK:
    case TRANS_STMT_PREPARE: {
      // (COMMIT of a failed transaction rolls it back; a prepared one is taken as committed)
      const bool committed = tx->kind != TRANS_STMT_ROLLBACK && !sim->aborted;
      if (tx->chain && sim->in_transaction) {  // AND CHAIN: a new transaction at once
        const bool was_implicit = sim->implicit_transaction;
        EndTransaction(sim, committed);
        BeginTransaction(sim, was_implicit);
      } else {
        EndTransaction(sim, committed);
      }
      break;
    }
    case TRANS_STMT_SAVEPOINT:
      if (sim->in_transaction) PushLevel(sim, tx->savepoint_name);
      break;
    case TRANS_STMT_RELEASE: {
      const int at = FindSavepoint(sim, tx->savepoint_name);
      if (at > 0) PopLevels(sim, at, false);  // its changes now belong to the enclosing level
      break;
    }
    case TRANS_STMT_ROLLBACK_TO: {
      const int at = FindSavepoint(sim, tx->savepoint_name);
      if (at > 0) {
        PopLevels(sim, at, true);  // back to the savepoint's state; the savepoint stays
        PushLevel(sim, tx->savepoint_name);
      }
      sim->aborted = false;
      break;
    }
    default:
      break;
  }
}

// The lock modes that conflict with each mode (lock.c's LockConflicts).
constexpr int kConflicts[MaxLockMode + 1] = {
    0,
    (1 << AccessExclusiveLock),
    (1 << ExclusiveLock) | (1 << AccessExclusiveLock),
    (1 << ShareLock) | (1 << ShareRowExclusiveLock) | (1 << ExclusiveLock) | (1 << AccessExclusiveLock),
    (1 << ShareUpdateExclusiveLock) | (1 << ShareLock) | (1 << ShareRowExclusiveLock) | (1 << ExclusiveLock) |
        (1 << AccessExclusiveLock),
    (1 << RowExclusiveLock) | (1 << ShareUpdateExclusiveLock) | (1 << ShareRowExclusiveLock) | (1 << ExclusiveLock) |
        (1 << AccessExclusiveLock),
    (1 << RowExclusiveLock) | (1 << ShareUpdateExclusiveLock) | (1 << ShareLock) | (1 << ShareRowExclusiveLock) |
        (1 << ExclusiveLock) | (1 << AccessExclusiveLock),
    (1 << RowShareLock) | (1 << RowExclusiveLock) | (1 << ShareUpdateExclusiveLock) | (1 << ShareLock) |
        (1 << ShareRowExclusiveLock) | (1 << ExclusiveLock) | (1 << AccessExclusiveLock),
    (1 << AccessShareLock) | (1 << RowShareLock) | (1 << RowExclusiveLock) | (1 << ShareUpdateExclusiveLock) |
        (1 << ShareLock) | (1 << ShareRowExclusiveLock) | (1 << ExclusiveLock) | (1 << AccessExclusiveLock),
};

// Does a lock the script's transaction already holds on relid keep out every
// session that `mode` would wait for?  Then the statement waits for nothing.
bool CoveredByHeldLock(const Simulation &sim, Oid relid, LOCKMODE mode) {
  for (int i = 0; i < sim.nheld; i++)
    if (sim.held[i].relid == relid && (kConflicts[mode] & ~kConflicts[sim.held[i].mode]) == 0) return true;
  return false;
}

void RememberLock(Simulation *sim, Oid relid, LOCKMODE mode) {
  for (int i = 0; i < sim->nheld; i++)
    if (sim->held[i].relid == relid) {
      if ((kConflicts[sim->held[i].mode] & kConflicts[mode]) == kConflicts[sim->held[i].mode]) sim->held[i].mode = mode;
      return;
    }
  if (sim->nheld == sim->held_cap) {
    const int cap = sim->held_cap ? sim->held_cap * 2 : 16;
    auto *held = static_cast<HeldLock *>(MemoryContextAlloc(sim->context, sizeof(HeldLock) * cap));
    if (sim->nheld) memcpy(held, sim->held, sizeof(HeldLock) * sim->nheld);
    sim->held = held;
    sim->held_cap = cap;
  }
  sim->held[sim->nheld++] = HeldLock{relid, mode};
}

// The relations a judged statement names, so that a missing one is reported.
void NamedRelations(Node *stmt, List **names, bool *missing_ok) {
  *names = NIL;
  *missing_ok = false;
  switch (nodeTag(stmt)) {
    case T_AlterTableStmt: {
      auto *s = reinterpret_cast<AlterTableStmt *>(stmt);
      *names = list_make1(s->relation);
      *missing_ok = s->missing_ok;
      break;
    }
    case T_IndexStmt: *names = list_make1(reinterpret_cast<IndexStmt *>(stmt)->relation); break;
    case T_RefreshMatViewStmt: *names = list_make1(reinterpret_cast<RefreshMatViewStmt *>(stmt)->relation); break;
    case SG_T_CLUSTER_STMT:
      if (RangeVar *relation = SG_CLUSTER_RELATION(reinterpret_cast<SgClusterStmt *>(stmt)))
        *names = list_make1(relation);
      break;
    case T_RenameStmt: {
      auto *s = reinterpret_cast<RenameStmt *>(stmt);
      if (s->relation) *names = list_make1(s->relation);
      *missing_ok = s->missing_ok;
      break;
    }
    case T_AlterObjectSchemaStmt: {
      auto *s = reinterpret_cast<AlterObjectSchemaStmt *>(stmt);
      if (s->relation) *names = list_make1(s->relation);
      *missing_ok = s->missing_ok;
      break;
    }
    case T_TruncateStmt: *names = list_copy(reinterpret_cast<TruncateStmt *>(stmt)->relations); break;
    case T_DropStmt: {
      auto *s = reinterpret_cast<DropStmt *>(stmt);
      if (s->removeType != OBJECT_TABLE && s->removeType != OBJECT_INDEX) break;
      ListCell *lc;
      foreach (lc, s->objects) *names = lappend(*names, makeRangeVarFromNameList(static_cast<List *>(lfirst(lc))));
      *missing_ok = s->missing_ok;
      break;
    }
    default:
      break;
  }
}

bool HasConcurrently(List *params) {
  ListCell *lc;
  foreach (lc, params)
    if (strcmp(static_cast<DefElem *>(lfirst(lc))->defname, "concurrently") == 0) return true;
  return false;
}

// Statements the server refuses inside a transaction block.
const char *NeedsOwnTransaction(Node *stmt) {
  switch (nodeTag(stmt)) {
    case T_IndexStmt: return reinterpret_cast<IndexStmt *>(stmt)->concurrent ? "CREATE INDEX CONCURRENTLY" : nullptr;
    case T_DropStmt: return reinterpret_cast<DropStmt *>(stmt)->concurrent ? "DROP INDEX CONCURRENTLY" : nullptr;
    case T_ReindexStmt:
      return HasConcurrently(reinterpret_cast<ReindexStmt *>(stmt)->params) ? "REINDEX CONCURRENTLY" : nullptr;
    case T_VacuumStmt: return reinterpret_cast<VacuumStmt *>(stmt)->is_vacuumcmd ? "VACUUM" : nullptr;
    case T_AlterTableStmt: {
      ListCell *lc;
      foreach (lc, reinterpret_cast<AlterTableStmt *>(stmt)->cmds) {
        auto *cmd = static_cast<AlterTableCmd *>(lfirst(lc));
        if (cmd->subtype == AT_DetachPartition && reinterpret_cast<PartitionCmd *>(cmd->def)->concurrent)
          return "DETACH PARTITION CONCURRENTLY";
      }
      return nullptr;
    }
    case T_CreatedbStmt: return "CREATE DATABASE";
    case T_DropdbStmt: return "DROP DATABASE";
    default: return nullptr;
  }
}

Finding *ScriptFinding(RuleId rule, const char *what, const char *rel_text) {
  Finding *f = analysis::NewFinding(rule, InvalidOid, NoLock, 0, what);
  f->rel_text = rel_text;
  return f;
}

void Emit(Simulation *sim, const Step *st, int error_chars, const Finding *f, int timeout_ms) {
  const verdict::Outcome outcome = verdict::Decide(*f, guc::CurrentSettings(), timeout_ms, verdict::Judging::Script);
  if (outcome == verdict::Outcome::Warn || outcome == verdict::Outcome::Block)
    sim->emit(sim->emit_context, Verdict{st, error_chars, f, outcome});
}

void JudgeStatement(Simulation *sim, const Step *st, Node *stmt);

// ---------------------------------------------------------------- DO blocks

// Does the text name a statement kind the guard judges?  (A DO block that never
// says ALTER, CREATE, DROP ... cannot run DDL but through dynamic SQL built from
// pieces, which is reported anyway: EXECUTE of a non-constant.)
bool MentionsDdl(const char *text) {
  static const char *const kWords[] = {"alter", "create", "drop", "truncate", "reindex", "cluster",
                                       "vacuum", "lock", "refresh", "comment", "grant", "revoke"};
  for (const char *p = text; *p;) {
    if (!isalpha(static_cast<unsigned char>(*p))) {
      p++;
      continue;
    }
    const char *b = p;
    while (isalnum(static_cast<unsigned char>(*p)) || *p == '_') p++;
    if (b > text && (isalnum(static_cast<unsigned char>(b[-1])) || b[-1] == '_')) continue;
    for (const char *w : kWords)
      if (static_cast<size_t>(p - b) == strlen(w) && pg_strncasecmp(b, w, p - b) == 0) return true;
  }
  return false;
}

struct BodyParse {
  const char *sql;
  List *stmts;
};

void ParseBody(void *arg) {
  auto *p = static_cast<BodyParse *>(arg);
  p->stmts = raw_parser(p->sql, RAW_PARSE_DEFAULT);
}

// The statements of a PL/pgSQL body, split at top-level semicolons (quotes, dollar
// quotes and comments respected), with the block keywords around them stripped.
List *SplitBody(const char *body) {
  List *pieces = NIL;
  StringInfoData cur;
  initStringInfo(&cur);
  const char *p = body;
  auto flush = [&]() {
    pieces = lappend(pieces, pstrdup(cur.data));
    resetStringInfo(&cur);
  };
  while (*p) {
    if (*p == '\'') {
      const char *b = p++;
      while (*p && !(*p == '\'' && p[1] != '\'')) p += (*p == '\'' && p[1] == '\'') ? 2 : 1;
      if (*p) p++;
      appendBinaryStringInfo(&cur, b, p - b);
    } else if (*p == '-' && p[1] == '-') {
      while (*p && *p != '\n') p++;
    } else if (*p == '/' && p[1] == '*') {
      const char *e = strstr(p + 2, "*/");
      p = e ? e + 2 : p + strlen(p);
    } else if (*p == '$') {
      const char *e = p + 1;
      while (*e && (isalnum(static_cast<unsigned char>(*e)) || *e == '_')) e++;
      if (*e == '$') {
        const size_t n = e - p + 1;
        const char *tag = pnstrdup(p, n);
        const char *close = strstr(e + 1, tag);
        const char *end = close ? close + n : p + strlen(p);
        appendBinaryStringInfo(&cur, p, end - p);
        p = end;
      } else {
        appendStringInfoChar(&cur, *p++);
      }
    } else if (*p == ';') {
      flush();
      p++;
    } else {
      appendStringInfoChar(&cur, *p++);
    }
  }
  flush();
  return pieces;
}

// Strip leading PL/pgSQL block words (DECLARE ... is not DDL; BEGIN, THEN, ELSE, LOOP
// open a nested list) so that the piece starts with its statement.
const char *StripBlockWords(const char *s) {
  static const char *const kWords[] = {"begin", "then", "else", "loop", "exception", "end", "declare"};
  for (bool again = true; again;) {
    again = false;
    while (scanner_isspace(*s)) s++;
    for (const char *w : kWords) {
      const size_t n = strlen(w);
      if (pg_strncasecmp(s, w, n) == 0 && !isalnum(static_cast<unsigned char>(s[n])) && s[n] != '_') {
        s += n;
        again = true;
      }
    }
  }
  return s;
}

// The constant of EXECUTE '<constant>' (one string literal, nothing else), or nullptr.
const char *ExecuteConstant(const char *s) {
  if (pg_strncasecmp(s, "execute", 7) != 0 || !scanner_isspace(s[7])) return nullptr;
  s += 7;
  while (scanner_isspace(*s)) s++;
  if (*s != '\'') return nullptr;
  StringInfoData out;
  initStringInfo(&out);
  for (s++; *s; s++) {
    if (*s == '\'') {
      if (s[1] == '\'') {
        appendStringInfoChar(&out, '\'');
        s++;
        continue;
      }
      s++;
      while (scanner_isspace(*s)) s++;
      return *s == '\0' ? out.data : nullptr;  // anything after the literal: not a constant
    }
    appendStringInfoChar(&out, *s);
  }
  return nullptr;
}

bool IsIdentifierChar(char c) { return isalnum(static_cast<unsigned char>(c)) || c == '_' || IS_HIGHBIT_SET(c); }

bool StartsWithWord(const char *s, const char *word) {
  const size_t n = strlen(word);
  return pg_strncasecmp(s, word, n) == 0 && !IsIdentifierChar(s[n]);
}

// A PL/pgSQL statement that evaluates an expression, as the query PL/pgSQL runs for
// it: PERFORM f() is SELECT f(); RETURN e, RETURN QUERY q and x := e evaluate e or q.
// nullptr when the piece is none of these (a plain SQL statement, or control flow).
const char *ExpressionQuery(const char *piece) {
  if (StartsWithWord(piece, "perform")) return psprintf("SELECT %s", piece + 7);
  if (StartsWithWord(piece, "return")) {
    const char *rest = piece + 6;
    while (scanner_isspace(*rest)) rest++;
    if (StartsWithWord(rest, "query")) return rest + 5;
    if (StartsWithWord(rest, "next")) rest += 4;
    return *rest ? psprintf("SELECT %s", rest) : nullptr;
  }
  const char *p = piece;
  while (IsIdentifierChar(*p) || *p == '.' || *p == '"') p++;
  if (p == piece) return nullptr;
  while (scanner_isspace(*p)) p++;
  if (p[0] == ':' && p[1] == '=') return psprintf("SELECT %s", p + 2);
  if (p[0] == '=' && p[1] != '=') return psprintf("SELECT %s", p + 1);
  return nullptr;
}

constexpr int kMaxBodyDepth = 8;  // routines calling routines: stop somewhere

// A procedural body (DO, a procedure the script CALLs, a function a query calls):
// static DDL and EXECUTE of a constant string are judged like script statements, and
// the routines its statements call are judged in turn; anything else that could run
// DDL is a note that the body was not judged.  `what` names the body in the note.
void JudgeBody(Simulation *sim, const Step *st, const char *body, const char *language, const char *what,
               int depth) {
  if (body == nullptr) return;
  const bool body_ddl = MentionsDdl(body);
  if (!body_ddl && strchr(body, '(') == nullptr) return;  // no DDL, no call
  const bool sql_language = pg_strcasecmp(language, "sql") == 0;
  bool unjudged = pg_strcasecmp(language, "plpgsql") != 0 && !sql_language && body_ddl;
  if (pg_strcasecmp(language, "plpgsql") != 0 && !sql_language) depth = kMaxBodyDepth + 1;
  else if (depth > kMaxBodyDepth) unjudged = body_ddl;
  ListCell *lc;
  if (depth <= kMaxBodyDepth) {
    foreach (lc, SplitBody(body)) {
      const char *piece = sql_language ? static_cast<const char *>(lfirst(lc))
                                       : StripBlockWords(static_cast<const char *>(lfirst(lc)));
      while (scanner_isspace(*piece)) piece++;
      if (*piece == '\0') continue;
      const bool ddl = MentionsDdl(piece);
      if (!ddl && strchr(piece, '(') == nullptr) continue;
      const char *constant = sql_language ? nullptr : ExecuteConstant(piece);
      if (!sql_language && constant == nullptr && StartsWithWord(piece, "execute")) {
        if (ddl) unjudged = true;  // dynamic SQL built at run time (EXECUTE is also SQL's own: do not parse it)
        continue;
      }
      const char *query = constant;
      if (query == nullptr && !sql_language) query = ExpressionQuery(piece);
      BodyParse parse = {query ? query : piece, NIL};
      ErrorData *error = nullptr;
      if (!TryInSubtransaction(ParseBody, &parse, &error) || parse.stmts == NIL) {
        if (ddl) unjudged = true;  // control structure, dynamic SQL, or not SQL at all
        continue;
      }
      ListCell *sc;
      foreach (sc, parse.stmts) {
        if (sim->failed) break;  // the body stops at its error
        Node *inner = static_cast<RawStmt *>(lfirst(sc))->stmt;
        if (IsA(inner, TransactionStmt)) continue;
        sim->body_depth = depth + 1;
        JudgeStatement(sim, st, inner);
        sim->body_depth = depth;
      }
    }
  }
  if (unjudged)
    Emit(sim, st, -1,
         ScriptFinding(RuleId::NotSimulated,
                       psprintf("%s: DDL in it that is not a plain statement or EXECUTE of a constant string was not "
                                "judged",
                                what),
                       nullptr),
         sim->EffectiveTimeout());
}

void JudgeDoBlock(Simulation *sim, const Step *st, DoStmt *stmt) {
  const char *body = nullptr, *language = "plpgsql";
  ListCell *lc;
  foreach (lc, stmt->args) {
    auto *def = static_cast<DefElem *>(lfirst(lc));
    if (strcmp(def->defname, "as") == 0) body = strVal(def->arg);
    else if (strcmp(def->defname, "language") == 0) language = strVal(def->arg);
  }
  JudgeBody(sim, st, body, language, psprintf("DO block (%s)", language), sim->body_depth);
}

// The body and language of a CREATE PROCEDURE / FUNCTION (AS '...' or $$...$$; an
// SQL-standard BEGIN ATOMIC body is kept as its text too).
void DefinitionBody(CreateFunctionStmt *def, const char **body, const char **language) {
  *body = nullptr;
  *language = "sql";
  ListCell *lc;
  foreach (lc, def->options) {
    auto *opt = static_cast<DefElem *>(lfirst(lc));
    if (strcmp(opt->defname, "as") == 0 && IsA(opt->arg, List) && list_length(reinterpret_cast<List *>(opt->arg)) == 1)
      *body = strVal(linitial(reinterpret_cast<List *>(opt->arg)));
    else if (strcmp(opt->defname, "language") == 0)
      *language = strVal(opt->arg);
  }
}

// The key of a routine name in the script's table: "schema.name", an unqualified name
// in `schema` (where CREATE puts it, or where a call looks for it).
bool RoutineKey(List *name, const char *schema, char key[kNameKey]) {
  memset(key, 0, kNameKey);
  const char *nsp = nullptr, *fn = nullptr;
  switch (list_length(name)) {
    case 1: nsp = schema; fn = strVal(linitial(name)); break;
    case 2: nsp = strVal(linitial(name)); fn = strVal(lsecond(name)); break;
    case 3: nsp = strVal(lsecond(name)); fn = strVal(lthird(name)); break;  // database.schema.name
    default: return false;
  }
  if (nsp == nullptr) return false;
  snprintf(key, kNameKey, "%s.%s", nsp, fn);
  return true;
}

// The script's own definition of a routine a statement names (search_path walked as
// for relations), or nullptr: then the catalog's is the one that runs.
const ScriptRoutine *FindScriptRoutine(const Simulation &sim, List *name) {
  if (sim.routines == nullptr) return nullptr;
  char key[kNameKey];
  auto find = [&](const char *schema) -> const ScriptRoutine * {
    if (!RoutineKey(name, schema, key)) return nullptr;
    bool found = false;
    auto *entry = static_cast<ScriptRoutine *>(hash_search(sim.routines, key, HASH_FIND, &found));
    return found ? entry : nullptr;
  };
  if (list_length(name) > 1) return find(nullptr);
  ListCell *lc;
  foreach (lc, SearchPathNames())
    if (const ScriptRoutine *r = find(static_cast<const char *>(lfirst(lc)))) return r;
  return nullptr;
}

struct RoutineLookup {
  List *name;
  int nargs;    // -1: any
  Oid proc;     // the one user-defined routine that matches
  int user_defined;  // how many user-defined routines match
};

void LookupRoutine(void *arg) {
  auto *p = static_cast<RoutineLookup *>(arg);
  // Built-in functions (now(), count(), set_config() ...) run no DDL through the hook.
  const bool counted = p->nargs >= 0;  // (with any count, variadic and defaults are not expanded)
  for (FuncCandidateList c = SgFuncnameGetCandidates(p->name, p->nargs, NIL, counted, counted, true, true);
       c != nullptr; c = c->next)
    if (c->oid >= FirstNormalObjectId) p->proc = p->user_defined++ == 0 ? c->oid : InvalidOid;
}

// Has this routine been judged for the current statement of the script already?  A
// function called for every row, or twice, runs the same DDL: it is judged once
// (which also ends recursion).
bool AlreadyJudged(Simulation *sim, const char *key) {
  ListCell *lc;
  foreach (lc, sim->judged_routines)
    if (strcmp(static_cast<const char *>(lfirst(lc)), key) == 0) return true;
  sim->judged_routines = lappend(sim->judged_routines, pstrdup(key));
  return false;
}

bool AlreadyLooked(const Simulation &sim, const char *key) {
  ListCell *lc;
  foreach (lc, sim.judged_routines)
    if (strcmp(static_cast<const char *>(lfirst(lc)), key) == 0) return true;
  return false;
}

// A routine the script runs (CALL, or a call in a query or a body): its body from
// the script's own CREATE if it has one, else from the catalog.  A body in a
// language other than SQL and PL/pgSQL cannot be read: a note names it, unless it
// belongs to an extension (installed software, not the migration's code).
struct CallResolution {
  FuncCall *call;
  Oid proc;
};

// Only constants: resolving the call then reads the catalog and nothing else (a
// subquery or a column would need its relation, and a lock on it).
bool ConstantArguments(FuncCall *call) {
  ListCell *lc;
  foreach (lc, call->args) {
    Node *arg = static_cast<Node *>(lfirst(lc));
    if (IsA(arg, NamedArgExpr)) arg = reinterpret_cast<Node *>(reinterpret_cast<NamedArgExpr *>(arg)->arg);
    if (IsA(arg, TypeCast)) arg = reinterpret_cast<TypeCast *>(arg)->arg;
    if (!IsA(arg, A_Const)) return false;
  }
  return call->agg_order == NIL && call->agg_filter == nullptr && call->over == nullptr && !call->agg_star &&
         !call->agg_distinct && !call->func_variadic;
}

// Which of several routines of a name a call with constant arguments runs: the
// parser's own choice (func_get_detail()), nothing evaluated.
void ResolveCall(void *arg) {
  auto *p = static_cast<CallResolution *>(arg);
  ParseState *pstate = make_parsestate(nullptr);
  Node *expr = transformExpr(pstate, static_cast<Node *>(copyObjectImpl(p->call)), EXPR_KIND_SELECT_TARGET);
  if (expr != nullptr && IsA(expr, FuncExpr)) p->proc = reinterpret_cast<FuncExpr *>(expr)->funcid;
}

void JudgeRoutine(Simulation *sim, const Step *st, List *name, int nargs, const char *shown,
                  FuncCall *call = nullptr) {
  if (const ScriptRoutine *own = FindScriptRoutine(*sim, name)) {
    if (own->body == nullptr || AlreadyJudged(sim, psprintf("script %s", own->key))) return;  // dropped: fails
    JudgeBody(sim, st, own->body, own->language, psprintf("%s (defined in the script)", shown), sim->body_depth);
    return;
  }
  // A name called again in the same statement (every row of a VALUES list, say) was
  // looked up already: a built-in or a missing one is not looked up again.
  const char *called = psprintf("call %s/%d", NameListToString(name), nargs);
  if (AlreadyLooked(*sim, called)) return;
  RoutineLookup lookup = {name, nargs, InvalidOid, 0};
  if (!TryInSubtransaction(LookupRoutine, &lookup) || lookup.user_defined == 0) {
    sim->judged_routines = lappend(sim->judged_routines, const_cast<char *>(called));
    return;  // a built-in one, or none: PostgreSQL will say
  }
  if (!OidIsValid(lookup.proc) && call != nullptr && ConstantArguments(call)) {
    CallResolution resolution = {call, InvalidOid};
    if (TryInSubtransaction(ResolveCall, &resolution) && resolution.proc >= FirstNormalObjectId)
      lookup.proc = resolution.proc;
    else if (OidIsValid(resolution.proc))
      return;  // a built-in one
  }
  if (!OidIsValid(lookup.proc)) {
    if (AlreadyJudged(sim, psprintf("overloaded %s", shown))) return;
    Emit(sim, st, -1,
         ScriptFinding(RuleId::NotSimulated,
                       psprintf("%s: %d routines of that name could be the one called; their bodies were not judged",
                                shown, lookup.user_defined),
                       nullptr),
         sim->EffectiveTimeout());
    return;
  }
  if (AlreadyJudged(sim, psprintf("oid %u", lookup.proc))) return;
  HeapTuple tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(lookup.proc));
  if (!HeapTupleIsValid(tup)) return;
  bool isnull = false;
  const Datum src = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_prosrc, &isnull);
  const char *body = isnull ? nullptr : TextDatumGetCString(src);
  const Oid lang = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tup))->prolang;
  ReleaseSysCache(tup);
  const char *language = get_language_name(lang, true);
  if (language == nullptr) language = "unknown";
  if (pg_strcasecmp(language, "plpgsql") == 0 || pg_strcasecmp(language, "sql") == 0) {
    JudgeBody(sim, st, body, language, shown, sim->body_depth);
    return;
  }
  if (OidIsValid(getExtensionOfObject(ProcedureRelationId, lookup.proc))) return;
  Emit(sim, st, -1,
       ScriptFinding(RuleId::NotSimulated,
                     psprintf("%s: its body (language %s) was not judged", shown, language), nullptr),
       sim->EffectiveTimeout());
}

struct CallWalk {
  Simulation *sim;
  const Step *st;
};

bool JudgeCallsWalker(Node *node, void *context) {
  if (node == nullptr) return false;
  if (static_cast<CallWalk *>(context)->sim->failed) return true;  // the query stops at the error
  if (IsA(node, FuncCall)) {
    auto *call = reinterpret_cast<FuncCall *>(node);
    auto *walk = static_cast<CallWalk *>(context);
    JudgeRoutine(walk->sim, walk->st, call->funcname, list_length(call->args),
                 psprintf("function %s", NameListToString(call->funcname)), call);
  }
  return raw_expression_tree_walker(node, SG_WALKER(JudgeCallsWalker), context);
}

// The functions a query calls (SELECT f(), SELECT * FROM f(), INSERT ... VALUES
// (f()), PERFORM f() in a body): their DDL runs through the hook like the script's.
void JudgeCallsIn(Simulation *sim, const Step *st, Node *query) {
  CallWalk walk = {sim, st};
  JudgeCallsWalker(query, &walk);
}

// CALL: the procedure's body (and the functions its arguments call).
void JudgeCall(Simulation *sim, const Step *st, CallStmt *call) {
  List *name = call->funccall->funcname;
  ListCell *lc;
  foreach (lc, call->funccall->args) JudgeCallsIn(sim, st, static_cast<Node *>(lfirst(lc)));
  JudgeRoutine(sim, st, name, -1, psprintf("CALL %s", NameListToString(name)));
}

ScriptRoutine *EnterScriptRoutine(Simulation *sim, List *name) {
  char key[kNameKey];
  if (!RoutineKey(name, list_length(name) == 1 ? FirstUsableSchema(*sim) : nullptr,
                  key))
    return nullptr;
  if (sim->routines == nullptr) sim->routines = NameTable(sim, "schema_guard script routines", 16, sizeof(ScriptRoutine));
  return static_cast<ScriptRoutine *>(hash_search(sim->routines, key, HASH_ENTER, nullptr));
}

// CREATE FUNCTION / PROCEDURE: later calls run this body (overloads by argument
// types are not told apart: the last definition of a name is the one judged).
void RememberRoutine(Simulation *sim, CreateFunctionStmt *def) {
  const char *body, *language;
  DefinitionBody(def, &body, &language);
  MemoryContext old = MemoryContextSwitchTo(sim->context);
  if (ScriptRoutine *entry = EnterScriptRoutine(sim, def->funcname)) {
    entry->body = body ? pstrdup(body) : nullptr;
    entry->language = pstrdup(language);
  }
  MemoryContextSwitchTo(old);
}

// DROP FUNCTION / PROCEDURE / ROUTINE: a later call fails, it runs nothing.
void ForgetRoutines(Simulation *sim, DropStmt *drop) {
  ListCell *lc;
  foreach (lc, drop->objects) {
    auto *owa = static_cast<ObjectWithArgs *>(lfirst(lc));
    MemoryContext old = MemoryContextSwitchTo(sim->context);
    if (ScriptRoutine *entry = EnterScriptRoutine(sim, owa->objname)) {
      entry->body = nullptr;
      entry->language = "sql";
    }
    MemoryContextSwitchTo(old);
  }
}

// SET SCHEMA into a schema the script created: the catalog does not know the schema,
// the analysis stops there; the server moves the table as into any other schema
// (AnalyzeSetSchema(): ACCESS EXCLUSIVE, breaks code that uses the old name).
void AddMoveToScriptSchema(const Simulation &sim, Node *stmt, analysis::StatementAnalysis *result) {
  if (!IsA(stmt, AlterObjectSchemaStmt)) return;
  auto *move = reinterpret_cast<AlterObjectSchemaStmt *>(stmt);
  if (move->relation == nullptr || move->newschema == nullptr) return;
  if (move->objectType != OBJECT_TABLE && move->objectType != OBJECT_VIEW && move->objectType != OBJECT_MATVIEW &&
      move->objectType != OBJECT_FOREIGN_TABLE && move->objectType != OBJECT_SEQUENCE)
    return;
  const KnownName *schema = Lookup(sim, move->newschema, nullptr);
  if (schema == nullptr || schema->state != Known::Created || OidIsValid(get_namespace_oid(move->newschema, true)))
    return;
  const Oid relid = ExistingRelation(Resolve(sim, move->relation));
  if (!OidIsValid(relid) || analysis::IsExemptRelation(relid)) return;
  analysis::AddLockTarget(result, relid, AccessExclusiveLock);
  analysis::AddFinding(result, RuleId::SetSchema, relid, AccessExclusiveLock, analysis::kBreaks,
                       psprintf("SET SCHEMA %s", quote_identifier(move->newschema)));
}

// A statement the server refuses: its error is the finding, and the script goes on
// as psql and the server go on (psql stops under ON_ERROR_STOP; inside a transaction
// block every later statement fails until ROLLBACK or COMMIT).
void StatementFails(Simulation *sim, const Step *st, Finding *f, int error_chars = -1) {
  if (st->on_error_stop) f->reason = "psql stops here: ON_ERROR_STOP is on";
  else if (sim->in_transaction) f->reason = "the rest of the transaction block fails";
  Emit(sim, st, error_chars, f, sim->EffectiveTimeout());
  sim->failed = true;
  if (st->on_error_stop) {
    sim->stopped = true;  // psql exits with status 3
  } else if (sim->in_transaction && !sim->aborted) {
    sim->aborted = true;
    sim->abort_noted = false;
  }
}

// Would the server refuse to create this object: it exists already, in the schema the
// statement creates it in (IF NOT EXISTS and OR REPLACE excepted)?
// A relation name of DROP the server refuses before it looks anything up
// (makeRangeVarFromNameList(), RangeVarGetRelidExtended()): its error, or nullptr.
const char *ImproperRelationName(Node *stmt) {
  if (!IsA(stmt, DropStmt)) return nullptr;
  auto *drop = reinterpret_cast<DropStmt *>(stmt);
  const bool relation = drop->removeType == OBJECT_TABLE || drop->removeType == OBJECT_INDEX ||
                        drop->removeType == OBJECT_VIEW || drop->removeType == OBJECT_MATVIEW ||
                        drop->removeType == OBJECT_SEQUENCE || drop->removeType == OBJECT_FOREIGN_TABLE;
  const bool on_relation = drop->removeType == OBJECT_TRIGGER || drop->removeType == OBJECT_POLICY ||
                           drop->removeType == OBJECT_RULE;
  if (!relation && !on_relation) return nullptr;
  ListCell *lc;
  foreach (lc, drop->objects) {
    List *names = nullptr;
    ObjectOnRelation object;
    if (relation && IsA(lfirst(lc), List)) names = static_cast<List *>(lfirst(lc));
    else if (on_relation && SplitObjectOnRelation(static_cast<Node *>(lfirst(lc)), &object)) names = object.relation_names;
    if (list_length(names) > 3)
      return psprintf("improper relation name (too many dotted names): %s", NameListToString(names));
    if (list_length(names) == 3) {
      const char *database = get_database_name(MyDatabaseId);
      if (database == nullptr || strcmp(strVal(linitial(names)), database) != 0)
        return psprintf("cross-database references are not implemented: \"%s.%s.%s\"", strVal(linitial(names)),
                        strVal(lsecond(names)), strVal(lthird(names)));
    }
  }
  return nullptr;
}

const char *AlreadyExists(const Simulation &sim, Node *stmt) {
  const RangeVar *rv = nullptr;
  bool if_not_exists = false;
  switch (nodeTag(stmt)) {
    case T_CreateStmt:
      rv = reinterpret_cast<CreateStmt *>(stmt)->relation;
      if_not_exists = reinterpret_cast<CreateStmt *>(stmt)->if_not_exists;
      break;
    case T_CreateTableAsStmt:
      rv = reinterpret_cast<CreateTableAsStmt *>(stmt)->into->rel;
      if_not_exists = reinterpret_cast<CreateTableAsStmt *>(stmt)->if_not_exists;
      break;
    case T_ViewStmt:
      rv = reinterpret_cast<ViewStmt *>(stmt)->view;
      if_not_exists = reinterpret_cast<ViewStmt *>(stmt)->replace;
      break;
    case T_IndexStmt: {
      auto *ix = reinterpret_cast<IndexStmt *>(stmt);
      if (ix->idxname == nullptr || ix->if_not_exists) return nullptr;
      const Resolved table = Resolve(sim, ix->relation);
      const Oid existing = ExistingRelation(table);
      const char *schema = table.state == Known::Created ? table.schema
                           : OidIsValid(existing)        ? get_namespace_name(get_rel_namespace(existing))
                                                         : nullptr;
      if (schema == nullptr) return nullptr;
      RangeVar *index = makeRangeVar(const_cast<char *>(schema), ix->idxname, -1);
      const Resolved r = Resolve(sim, index);
      if (r.state == Known::Created || OidIsValid(ExistingRelation(r)))
        return psprintf("relation \"%s\" already exists", ix->idxname);
      return nullptr;
    }
    case T_CreateSchemaStmt: {
      auto *c = reinterpret_cast<CreateSchemaStmt *>(stmt);
      if (c->if_not_exists || c->schemaname == nullptr) return nullptr;
      const KnownName *k = Lookup(sim, c->schemaname, nullptr);
      if (k != nullptr ? k->state == Known::Created || k->state == Known::Renamed
                       : OidIsValid(get_namespace_oid(c->schemaname, true)))
        return psprintf("schema \"%s\" already exists", c->schemaname);
      return nullptr;
    }
    default:
      return nullptr;
  }
  if (rv == nullptr || if_not_exists || rv->relpersistence == RELPERSISTENCE_TEMP) return nullptr;
  RangeVar *target = makeRangeVar(const_cast<char *>(CreationSchema(sim, rv)), rv->relname, -1);
  if (!SchemaUsable(sim, target->schemaname)) return nullptr;
  const Resolved r = Resolve(sim, target);
  if (r.state == Known::Created || OidIsValid(ExistingRelation(r)))
    return psprintf("relation \"%s\" already exists", rv->relname);
  return nullptr;
}

bool RelationHasColumns(Oid relid) {
  const char kind = get_rel_relkind(relid);
  return kind == RELKIND_RELATION || kind == RELKIND_PARTITIONED_TABLE;
}

// ATExecAlterColumnType() refuses to change the type of a column a view or rule, a
// trigger's WHEN or a policy uses (the objects that depend on it in pg_depend).
const char *TypeChangeRefused(const Simulation &sim, Oid relid, const char *name) {
  if (FindAddedColumn(sim, relid, name) != nullptr) return nullptr;  // nothing uses it yet
  const AttrNumber attnum = get_attnum(relid, CatalogColumnName(sim, relid, name));
  if (attnum <= 0) return nullptr;
  const char *refused = nullptr;
  const ObjectAddress column = {RelationRelationId, relid, attnum};
  analysis::ForEachDependent(column, [&](const FormData_pg_depend &dep) {
    if (refused != nullptr) return;
    if (dep.classid == RewriteRelationId) refused = "cannot alter type of a column used by a view or rule";
    else if (dep.classid == TriggerRelationId) refused = "cannot alter type of a column used in a trigger definition";
    else if (dep.classid == PolicyRelationId) refused = "cannot alter type of a column used in a policy definition";
  });
  return refused;
}

// Would the server refuse an ALTER TABLE of an existing table for its columns: one it
// adds exists already, one it changes does not (after the script's adds, renames and
// drops)?
const char *ColumnError(const Simulation &sim, Node *stmt) {
  const char *relname = nullptr;
  Oid relid = InvalidOid;
  if (IsA(stmt, RenameStmt)) {
    auto *rn = reinterpret_cast<RenameStmt *>(stmt);
    if (rn->renameType != OBJECT_COLUMN || rn->relation == nullptr || rn->subname == nullptr) return nullptr;
    relid = ExistingRelation(Resolve(sim, rn->relation));
    if (!OidIsValid(relid) || !RelationHasColumns(relid)) return nullptr;
    if (!ColumnExists(sim, relid, rn->subname))
      return psprintf("column \"%s\" does not exist", rn->subname);
    if (rn->newname != nullptr && ColumnExists(sim, relid, rn->newname))
      return psprintf("column \"%s\" of relation \"%s\" already exists", rn->newname, rn->relation->relname);
    return nullptr;
  }
  if (!IsA(stmt, AlterTableStmt)) return nullptr;
  auto *alter = reinterpret_cast<AlterTableStmt *>(stmt);
  if (alter->objtype != OBJECT_TABLE) return nullptr;
  relid = ExistingRelation(Resolve(sim, alter->relation));
  if (!OidIsValid(relid) || !RelationHasColumns(relid)) return nullptr;
  relname = alter->relation->relname;
  ListCell *lc;
  foreach (lc, alter->cmds) {
    auto *cmd = static_cast<AlterTableCmd *>(lfirst(lc));
    if (cmd->subtype == AT_AddColumn) {
      auto *col = reinterpret_cast<ColumnDef *>(cmd->def);
      if (!cmd->missing_ok && col != nullptr && col->colname != nullptr && ColumnExists(sim, relid, col->colname))
        return psprintf("column \"%s\" of relation \"%s\" already exists", col->colname, relname);
    } else if (NamesColumn(cmd->subtype) && cmd->name != nullptr && !cmd->missing_ok &&
               !ColumnExists(sim, relid, cmd->name)) {
      return psprintf("column \"%s\" of relation \"%s\" does not exist", cmd->name, relname);
    } else if (cmd->subtype == AT_AlterColumnType && cmd->name != nullptr) {
      if (const char *refused = TypeChangeRefused(sim, relid, cmd->name)) return refused;
    }
  }
  return nullptr;
}

// The existing relation a statement works on, for the objects the script created on
// existing tables (script_objects.hpp); InvalidOid for none or a relation it created.
Oid ObjectsTarget(const Simulation &sim, Node *stmt) {
  RangeVar *rv = nullptr;
  switch (nodeTag(stmt)) {
    case T_AlterTableStmt: rv = reinterpret_cast<AlterTableStmt *>(stmt)->relation; break;
    case T_IndexStmt: rv = reinterpret_cast<IndexStmt *>(stmt)->relation; break;
    case T_CreateTrigStmt: rv = reinterpret_cast<CreateTrigStmt *>(stmt)->relation; break;
    case T_DropStmt: {
      auto *drop = reinterpret_cast<DropStmt *>(stmt);
      ObjectOnRelation object;
      if (drop->removeType == OBJECT_TRIGGER && list_length(drop->objects) == 1 &&
          SplitObjectOnRelation(static_cast<Node *>(linitial(drop->objects)), &object))
        rv = makeRangeVarFromNameList(object.relation_names);
      break;
    }
    default: break;
  }
  if (rv == nullptr) return InvalidOid;
  const Resolved r = Resolve(sim, rv);
  return r.state == Known::Unknown || r.state == Known::Renamed ? r.relid : InvalidOid;
}

// Judge one parsed statement of the script and update the script's state.
void JudgeRelations(Simulation *sim, const Step *st, Node *stmt, bool refused);

void JudgeStatement(Simulation *sim, const Step *st, Node *stmt) {
  if (const char *improper = ImproperRelationName(stmt)) {  // nothing else is looked at
    StatementFails(sim, st, ScriptFinding(RuleId::StatementError, improper, nullptr));
    return;
  }
  const char *refused = AlreadyExists(*sim, stmt);
  if (refused == nullptr) refused = ColumnError(*sim, stmt);
  if (refused != nullptr) {
    // The hook judges the statement before the server runs it and refuses it.
    // (CREATE SCHEMA of an existing schema runs no element: nothing to judge)
    if (analysis::IsJudgedStatement(stmt) && !IsA(stmt, CreateSchemaStmt)) JudgeRelations(sim, st, stmt, true);
    if (!sim->failed) StatementFails(sim, st, ScriptFinding(RuleId::StatementError, refused, nullptr));
    return;
  }
  switch (nodeTag(stmt)) {
    case T_TransactionStmt: TrackTransaction(reinterpret_cast<TransactionStmt *>(stmt), sim); return;
    case T_VariableSetStmt:
      if (const char *setting_refused = SettingRefused(reinterpret_cast<VariableSetStmt *>(stmt))) {
        StatementFails(sim, st, ScriptFinding(RuleId::StatementError, setting_refused, nullptr));
        return;
      }
      TrackSet(reinterpret_cast<VariableSetStmt *>(stmt), sim);
      return;
    case T_CreateTableAsStmt: {
      auto *ctas = reinterpret_cast<CreateTableAsStmt *>(stmt);
      if (!ctas->into->skipData && IsA(ctas->query, SelectStmt)) JudgeCallsIn(sim, st, ctas->query);  // it runs
      TrackNames(sim, stmt);
      return;
    }
    case T_CreateSchemaStmt: {
      // Its elements run as statements of their own in the new schema, judged as the
      // hook judges them (analysis::CreateSchemaElements()).
      List *elements = analysis::CreateSchemaElements(reinterpret_cast<CreateSchemaStmt *>(stmt));
      TrackNames(sim, stmt);
      ListCell *lc;
      foreach (lc, elements) {
        if (sim->failed) break;
        JudgeStatement(sim, st, static_cast<Node *>(lfirst(lc)));
      }
      return;
    }
    case T_SelectStmt:
      JudgeCallsIn(sim, st, stmt);
      TrackNames(sim, stmt);
      return;
    case T_InsertStmt:
    case T_UpdateStmt:
    case T_DeleteStmt:
    case T_MergeStmt:
      JudgeCallsIn(sim, st, stmt);
      return;
    case T_DoStmt:
      JudgeDoBlock(sim, st, reinterpret_cast<DoStmt *>(stmt));
      return;
    case T_CallStmt:
      JudgeCall(sim, st, reinterpret_cast<CallStmt *>(stmt));
      return;
    case T_CreateFunctionStmt:
      RememberRoutine(sim, reinterpret_cast<CreateFunctionStmt *>(stmt));
      break;
    case T_DropStmt: {
      auto *drop = reinterpret_cast<DropStmt *>(stmt);
      if (drop->removeType == OBJECT_FUNCTION || drop->removeType == OBJECT_PROCEDURE ||
          drop->removeType == OBJECT_ROUTINE)
        ForgetRoutines(sim, drop);
      break;
    }
    default: break;
  }
  if (sim->in_transaction) {
    const char *what = NeedsOwnTransaction(stmt);
    if (what != nullptr) {
      StatementFails(sim, st, ScriptFinding(RuleId::TransactionBlockError, what, nullptr));
      return;
    }
  }
  const Oid objects_target = ObjectsTarget(*sim, stmt);
  if (!analysis::IsJudgedStatement(stmt)) {
    TrackScriptObjects(&sim->objects, sim->context, stmt, objects_target);
    TrackNames(sim, stmt);
    return;
  }
  JudgeRelations(sim, st, stmt, false);
}

// A statement the guard judges, on the relations it names; refused: the server will
// refuse it once the hook let it through, so it changes nothing in the script's state.
void JudgeRelations(Simulation *sim, const Step *st, Node *stmt, bool refused) {
  const Oid objects_target = ObjectsTarget(*sim, stmt);
  // The relations it names, as the script left them: new ones are nobody else's; one
  // the script dropped (or that never existed) makes the statement fail at deploy.
  List *names;
  bool missing_ok;
  NamedRelations(stmt, &names, &missing_ok);
  bool any_existing = false, any_gone = false;
  ListCell *lc;
  foreach (lc, names) {
    auto *rv = static_cast<RangeVar *>(lfirst(lc));
    const Resolved r = Resolve(*sim, rv);
    if (r.state == Known::Created) continue;
    if (r.state == Known::Renamed || (r.state == Known::Unknown && OidIsValid(r.relid))) {
      any_existing = true;
      continue;
    }
    any_gone = true;
    if (!missing_ok) {
      StatementFails(sim, st,
                     ScriptFinding(RuleId::RelationMissing, CreateCommandName(stmt), quote_identifier(RelName(rv))));
      return;  // the server stops at the first
    }
  }
  if (names != NIL && any_gone && !missing_ok) {
    if (!refused) TrackNames(sim, stmt);  // the statement fails: nothing to judge
    return;
  }

  analysis::StatementAnalysis result = {};
  result.statement = -1;
  if (names != NIL && !any_existing) {
    // only new relations: nothing to judge but the existing tables a foreign key locks
    NewTableForeignKeyTargets(*sim, stmt, &result);
    if (result.lock_targets == NIL) {
      if (!refused) TrackNames(sim, stmt);
      return;
    }
  } else {
    analysis::AnalyzeStatementSafely(RedirectToCatalog(*sim, stmt), &result, sim->held_strong, false,
                                     sim->added_columns);
    AddMoveToScriptSchema(*sim, stmt, &result);
    AdjustForScriptObjects(sim->objects, stmt, objects_target, &result);
  }
  // Locks the script's own transaction already holds wait for nobody.
  List *all_targets = result.lock_targets;
  List *waiting = NIL;
  foreach (lc, all_targets) {
    auto *t = static_cast<analysis::LockTarget *>(lfirst(lc));
    if (!(sim->in_transaction && CoveredByHeldLock(*sim, t->relid, t->lock))) waiting = lappend(waiting, t);
  }
  result.lock_targets = waiting;
  const int timeout = StatementTimeout(*sim, all_targets);
  verdict::AddLockWaitFindings(&result, timeout, guc::CurrentSettings());
  foreach (lc, result.findings) Emit(sim, st, -1, static_cast<Finding *>(lfirst(lc)), timeout);
  if (refused) return;
  TrackScriptObjects(&sim->objects, sim->context, stmt, objects_target);
  TrackNames(sim, stmt);
  if (sim->in_transaction) {
    MemoryContext statement_context = MemoryContextSwitchTo(sim->context);
    foreach (lc, all_targets) {
      auto *t = static_cast<analysis::LockTarget *>(lfirst(lc));
      RememberLock(sim, t->relid, t->lock);
      if (t->lock >= ShareLock) sim->held_strong = list_append_unique_oid(sim->held_strong, t->relid);
    }
    MemoryContextSwitchTo(statement_context);
  }
}

bool IsTransactionEnd(Node *stmt) {
  if (!IsA(stmt, TransactionStmt)) return false;
  const TransactionStmtKind kind = reinterpret_cast<TransactionStmt *>(stmt)->kind;
  return kind == TRANS_STMT_COMMIT || kind == TRANS_STMT_ROLLBACK || kind == TRANS_STMT_ROLLBACK_TO ||
         kind == TRANS_STMT_PREPARE;
}

void ResetSession(Simulation *sim) {
  EndTransaction(sim, false);  // \connect ends the session: an open transaction rolls back
  sim->session_timeout_ms = LockTimeout;
  sim->session_sets = NIL;
}

void RunStep(Simulation *sim, Step *st) {
  if (sim->stopped) return;
  switch (st->kind) {
    case StepKind::Note: {
      const int nest = ApplyScriptSettings(sim);
      Emit(sim, st, -1, ScriptFinding(RuleId::NotSimulated, st->text, nullptr), sim->EffectiveTimeout());
      RestoreSettings(nest);
      return;
    }
    case StepKind::Connect: {
      const char *here = get_database_name(MyDatabaseId);
      if (strcmp(st->text, "-") != 0 && here != nullptr && strcmp(st->text, here) != 0)
        Emit(sim, st, -1,
             ScriptFinding(RuleId::NotSimulated,
                           psprintf("\\connect %s: the statements after it run in database %s; they were judged against "
                                    "database %s",
                                    st->text, st->text, here),
                           nullptr),
             sim->EffectiveTimeout());
      ResetSession(sim);
      return;
    }
    case StepKind::BeginImplicit:
      if (!sim->in_transaction) BeginTransaction(sim, true);
      return;
    case StepKind::EndImplicit:
      if (sim->in_transaction && sim->implicit_transaction) EndTransaction(sim, !sim->aborted);
      return;
    case StepKind::Sql:
      break;
  }
  if (st->error != nullptr) {
    const int chars = st->error->cursorpos > 0 ? st->error->cursorpos - 1 : pg_mbstrlen_with_len(st->text, st->length);
    const int nest = ApplyScriptSettings(sim);
    StatementFails(sim, st, ScriptFinding(RuleId::SyntaxError, st->error->message, nullptr), chars);
    RestoreSettings(nest);
    return;
  }
  ListCell *lc;
  foreach (lc, st->parsed) {
    Node *stmt = static_cast<RawStmt *>(lfirst(lc))->stmt;
    if (sim->stopped) break;
    if (sim->aborted && !IsTransactionEnd(stmt)) {  // "current transaction is aborted"
      if (!sim->abort_noted) {
        sim->abort_noted = true;
        const int nest = ApplyScriptSettings(sim);
        Emit(sim, st, -1,
             ScriptFinding(RuleId::NotSimulated,
                           "not judged, nor the statements after it up to ROLLBACK or COMMIT: an earlier statement "
                           "failed in this transaction block, and the server refuses every statement until its end",
                           nullptr),
             sim->EffectiveTimeout());
        RestoreSettings(nest);
      }
      continue;
    }
    // AUTOCOMMIT off: psql opens a transaction before a statement outside one
    if (!st->autocommit && !sim->in_transaction && !IsA(stmt, TransactionStmt) && NeedsOwnTransaction(stmt) == nullptr)
      BeginTransaction(sim, false);
    const int nest = ApplyScriptSettings(sim);
    sim->judged_routines = NIL;
    sim->failed = false;
    JudgeStatement(sim, st, stmt);
    sim->judged_routines = NIL;
    RestoreSettings(nest);
    MemoryContextReset(sim->statement_context);
  }
}

void RunBatch(Simulation *sim) {
  if (sim->batch_len == 0) return;
  MemoryContext caller = MemoryContextSwitchTo(sim->batch_context);
  ParseBatchSteps(sim);
  MemoryContextSwitchTo(sim->statement_context);
  for (int i = 0; i < sim->batch_len; i++) RunStep(sim, &sim->batch[i]);
  MemoryContextSwitchTo(caller);
  MemoryContextReset(sim->statement_context);
  MemoryContextReset(sim->batch_context);
  sim->batch = static_cast<Step *>(MemoryContextAlloc(sim->batch_context, sizeof(Step) * kBatchSteps));
  sim->batch_len = 0;
  sim->batch_bytes = 0;
}

}  // namespace

Simulation *NewSimulation(EmitFn emit, void *context) {
  auto *sim = static_cast<Simulation *>(palloc0(sizeof(Simulation)));
  sim->emit = emit;
  sim->emit_context = context;
  sim->context = CurrentMemoryContext;
  sim->batch_context = AllocSetContextCreate(CurrentMemoryContext, "schema_guard script batch", ALLOCSET_DEFAULT_SIZES);
  sim->statement_context =
      AllocSetContextCreate(CurrentMemoryContext, "schema_guard script statement", ALLOCSET_DEFAULT_SIZES);
  sim->batch = static_cast<Step *>(MemoryContextAlloc(sim->batch_context, sizeof(Step) * kBatchSteps));
  sim->session_timeout_ms = LockTimeout;
  sim->local_timeout_ms = -1;
  sim->nonstandard_strings = sim->session_nonstandard = !SG_STANDARD_CONFORMING_STRINGS;
  return sim;
}

bool AddStep(Simulation *sim, StepKind kind, const char *text, size_t length, bool on_error_stop, bool autocommit,
             int ordinal, const Position *where, const StatementMap *map) {
  if (sim->stopped) return false;
  if (sim->batch_len == kBatchSteps || sim->batch_bytes > kBatchBytes) RunBatch(sim);
  if (sim->stopped) return false;
  Step *st = &sim->batch[sim->batch_len++];
  *st = Step{};
  st->kind = kind;
  st->text = static_cast<char *>(MemoryContextAllocHuge(sim->batch_context, length + 1));
  memcpy(st->text, text, length);
  st->text[length] = '\0';
  st->length = static_cast<int>(length);
  st->on_error_stop = on_error_stop;
  st->autocommit = autocommit;
  st->ordinal = ordinal;
  if (where != nullptr) st->where = *where;
  if (map != nullptr) {
    st->map = *map;
    if (map->count > 0) {
      auto *segs = static_cast<Segment *>(MemoryContextAlloc(sim->batch_context, sizeof(Segment) * map->count));
      memcpy(segs, map->segments, sizeof(Segment) * map->count);
      st->map.segments = segs;
    }
  }
  sim->batch_bytes += length + 64;
  return true;
}

void FinishSimulation(Simulation *sim) {
  RunBatch(sim);
  MemoryContextDelete(sim->batch_context);
  MemoryContextDelete(sim->statement_context);
}

}  // namespace schema_guard::script
