#include "script/simulate.hpp"

#include "boundary.hpp"
#include "glue/guc.hpp"

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
  int session_timeout_ms;     // lock_timeout outside SET LOCAL
  int local_timeout_ms;       // SET LOCAL lock_timeout in the open transaction (-1: none)
  List *held_strong;          // of Oid: relations an earlier statement locked SHARE or stronger
  HeldLock *held;             // every lock of the open transaction, strongest mode
  int nheld;
  int held_cap;
  HTAB *created;              // names of relations the script creates
  List *session_sets;         // of ScriptSetting *: SET of a setting the analysis reads
  List *local_sets;           // ... SET LOCAL in the open transaction
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
};

void ParseSteps(void *arg) {
  auto *p = static_cast<ParseBatch *>(arg);
  for (; p->next < p->count; p->next++) {
    Step *st = &p->steps[p->next];
    if (st->kind == StepKind::Sql) st->parsed = raw_parser(st->text, RAW_PARSE_DEFAULT);
  }
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
  ParseBatch p = {sim->batch, sim->batch_len, 0};
  while (p.next < p.count) {
    ErrorData *error = nullptr;
    if (TryInSubtransaction(ParseSteps, &p, &error)) break;
    if (!IsInputError(error)) ReThrowError(error);
    p.steps[p.next].parsed = NIL;
    p.steps[p.next].error = error;
    p.next++;
  }
}

// ---------------------------------------------------------------- the script's state

char *RelName(const RangeVar *rv) {
  return rv->schemaname ? psprintf("%s.%s", rv->schemaname, rv->relname) : pstrdup(rv->relname);
}

constexpr int kNameKey = 2 * NAMEDATALEN + 2;

void RememberCreated(Simulation *sim, const RangeVar *rv) {
  if (sim->created == nullptr) {
    HASHCTL ctl;
    ctl.keysize = kNameKey;
    ctl.entrysize = kNameKey;
    ctl.hcxt = sim->context;
    sim->created = hash_create("schema_guard check created", 256, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
  }
  char key[kNameKey] = {0};
  strlcpy(key, RelName(rv), sizeof key);
  hash_search(sim->created, key, HASH_ENTER, nullptr);
  if (rv->schemaname == nullptr) return;
  char bare[kNameKey] = {0};
  strlcpy(bare, rv->relname, sizeof bare);
  hash_search(sim->created, bare, HASH_ENTER, nullptr);
}

bool CreatedByScript(const Simulation &sim, const RangeVar *rv) {
  if (rv == nullptr || sim.created == nullptr) return false;
  char key[kNameKey] = {0};
  strlcpy(key, RelName(rv), sizeof key);
  bool found = false;
  hash_search(sim.created, key, HASH_FIND, &found);
  return found;
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

void EndTransaction(Simulation *sim) {
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
      sim->in_transaction = true;
      break;
    case TRANS_STMT_COMMIT:
    case TRANS_STMT_ROLLBACK:
    case TRANS_STMT_PREPARE:
      if (tx->chain && sim->in_transaction) {  // AND CHAIN: a new transaction at once
        const bool was_implicit = sim->implicit_transaction;
        EndTransaction(sim);
        sim->in_transaction = true;
        sim->implicit_transaction = was_implicit;
      } else {
        EndTransaction(sim);
      }
      break;
    case TRANS_STMT_ROLLBACK_TO:
      sim->aborted = false;
      break;
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
    case T_ClusterStmt:
      if (reinterpret_cast<ClusterStmt *>(stmt)->relation)
        *names = list_make1(reinterpret_cast<ClusterStmt *>(stmt)->relation);
      break;
    case T_RenameStmt: {
      auto *s = reinterpret_cast<RenameStmt *>(stmt);
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

// Judge one parsed statement of the script and update the script's state.
void JudgeStatement(Simulation *sim, const Step *st, Node *stmt) {
  switch (nodeTag(stmt)) {
    case T_TransactionStmt: TrackTransaction(reinterpret_cast<TransactionStmt *>(stmt), sim); return;
    case T_VariableSetStmt: TrackSet(reinterpret_cast<VariableSetStmt *>(stmt), sim); return;
    case T_CreateStmt: RememberCreated(sim, reinterpret_cast<CreateStmt *>(stmt)->relation); break;
    case T_CreateTableAsStmt: RememberCreated(sim, reinterpret_cast<CreateTableAsStmt *>(stmt)->into->rel); return;
    default: break;
  }
  if (sim->in_transaction) {
    const char *what = NeedsOwnTransaction(stmt);
    if (what != nullptr) {
      Emit(sim, st, -1, ScriptFinding(RuleId::TransactionBlockError, what, nullptr), sim->EffectiveTimeout());
      return;
    }
  }
  if (!analysis::IsJudgedStatement(stmt)) return;

  List *names;
  bool missing_ok;
  NamedRelations(stmt, &names, &missing_ok);
  ListCell *lc;
  foreach (lc, names) {
    auto *rv = static_cast<RangeVar *>(lfirst(lc));
    if (CreatedByScript(*sim, rv)) return;  // new in this script: nobody else sees it
    if (!missing_ok && !OidIsValid(analysis::LookupRelation(rv)))
      Emit(sim, st, -1,
           ScriptFinding(RuleId::RelationMissing, CreateCommandName(stmt), quote_identifier(RelName(rv))),
           sim->EffectiveTimeout());
  }

  analysis::StatementAnalysis result;
  analysis::AnalyzeStatementSafely(stmt, &result, sim->held_strong);
  // Locks the script's own transaction already holds wait for nobody.
  List *all_targets = result.lock_targets;
  List *waiting = NIL;
  foreach (lc, all_targets) {
    auto *t = static_cast<analysis::LockTarget *>(lfirst(lc));
    if (!(sim->in_transaction && CoveredByHeldLock(*sim, t->relid, t->lock))) waiting = lappend(waiting, t);
  }
  result.lock_targets = waiting;
  verdict::AddLockWaitFindings(&result, sim->EffectiveTimeout(), guc::CurrentSettings());
  foreach (lc, result.findings) Emit(sim, st, -1, static_cast<Finding *>(lfirst(lc)), sim->EffectiveTimeout());
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
  EndTransaction(sim);
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
      if (!sim->in_transaction) sim->in_transaction = sim->implicit_transaction = true;
      return;
    case StepKind::EndImplicit:
      if (sim->in_transaction && sim->implicit_transaction) EndTransaction(sim);
      return;
    case StepKind::Sql:
      break;
  }
  if (st->error != nullptr) {
    const int chars = st->error->cursorpos > 0 ? st->error->cursorpos - 1 : pg_mbstrlen_with_len(st->text, st->length);
    Finding *f = ScriptFinding(RuleId::SyntaxError, st->error->message, nullptr);
    if (st->on_error_stop) f->reason = "psql stops here: ON_ERROR_STOP is on";
    else if (sim->in_transaction) f->reason = "the rest of the transaction block fails";
    const int nest = ApplyScriptSettings(sim);
    Emit(sim, st, chars, f, sim->EffectiveTimeout());
    RestoreSettings(nest);
    if (st->on_error_stop) sim->stopped = true;  // psql exits with status 3
    else if (sim->in_transaction) sim->aborted = true;
    return;
  }
  ListCell *lc;
  foreach (lc, st->parsed) {
    Node *stmt = static_cast<RawStmt *>(lfirst(lc))->stmt;
    if (sim->aborted && !IsTransactionEnd(stmt)) continue;  // "current transaction is aborted"
    // AUTOCOMMIT off: psql opens a transaction before a statement outside one
    if (!st->autocommit && !sim->in_transaction && !IsA(stmt, TransactionStmt) && NeedsOwnTransaction(stmt) == nullptr)
      sim->in_transaction = true;
    const int nest = ApplyScriptSettings(sim);
    JudgeStatement(sim, st, stmt);
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
