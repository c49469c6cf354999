#include "glue/setup.hpp"

extern "C" {
#include "catalog/objectaccess.h"
#include "utils/rls.h"
}

#include "analysis/analysis.hpp"
#include "glue/guc.hpp"
#include "glue/report.hpp"

namespace schema_guard::setup {
namespace {

object_access_hook_type prev_object_access = nullptr;

// Relations created by this backend and committed.  Backend-local: another session
// never sees them, and they end with the session.  Capped so that a session creating
// relations without end cannot grow the backend's memory without end; past the cap a
// relation is simply not covered (the guard judges it as usual).
constexpr long kMaxSessionRelations = 100000;
HTAB *session_relations = nullptr;

// Created by the open transaction, with the subtransaction that created each: they
// join session_relations at commit and are forgotten at abort.
struct Pending {
  Oid relid;
  SubTransactionId subid;
};
Pending *pending = nullptr;
int npending = 0;
int pending_capacity = 0;

bool passes_apply = true;

// Relations whose pass was logged for the statement now running.
constexpr int kLoggedPerStatement = 16;
Oid logged[kLoggedPerStatement];
int nlogged = 0;

// Runs inside every CREATE: it never raises an error; without memory the relation is
// just not remembered (and gets no pass).
void RememberPending(Oid relid) {
  if (npending == pending_capacity) {
    if (pending_capacity >= kMaxSessionRelations) return;
    const int capacity = pending_capacity == 0 ? 64 : pending_capacity * 2;
    auto *grown = static_cast<Pending *>(
        MemoryContextAllocExtended(TopMemoryContext, capacity * sizeof(Pending), MCXT_ALLOC_NO_OOM));
    if (grown == nullptr) return;
    if (pending != nullptr) {
      memcpy(grown, pending, npending * sizeof(Pending));
      pfree(pending);
    }
    pending = grown;
    pending_capacity = capacity;
  }
  pending[npending++] = Pending{relid, GetCurrentSubTransactionId()};
}

// A dropped relation's OID may one day name another session's relation.
void ForgetSessionRelation(Oid relid) {
  hash_search(session_relations, &relid, HASH_REMOVE, nullptr);
  int kept = 0;
  for (int i = 0; i < npending; i++)
    if (pending[i].relid != relid) pending[kept++] = pending[i];
  npending = kept;
}

extern "C" void TrackRelations(ObjectAccessType access, Oid classId, Oid objectId, int subId, void *arg) {
  if (prev_object_access) prev_object_access(access, classId, objectId, subId, arg);
  if (classId != RelationRelationId || subId != 0) return;
  if (access == OAT_POST_CREATE)
    RememberPending(objectId);
  else if (access == OAT_DROP)
    ForgetSessionRelation(objectId);
}

// At commit the transaction's relations become the session's.  No ERROR may be
// raised here (the transaction is committed already): the table exists since
// Install(), and HASH_ENTER_NULL leaves a relation out when memory runs short.
extern "C" void OnTransactionEnd(XactEvent event, void *arg) {
  switch (event) {
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_PARALLEL_COMMIT:
      for (int i = 0; i < npending; i++) {
        if (hash_get_num_entries(session_relations) >= kMaxSessionRelations) break;
        (void)hash_search(session_relations, &pending[i].relid, HASH_ENTER_NULL, nullptr);
      }
      npending = 0;
      break;
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_ABORT:
    case XACT_EVENT_PREPARE:  // committed later, maybe by another session: not ours
      npending = 0;
      break;
    default:
      break;
  }
  // A check() cut short by an error does not leave the passes suspended.  (Not at a
  // subtransaction's end: the guard's own probes run in subtransactions inside check();
  // after an error caught by a savepoint the passes stay suspended, which only judges
  // more, until the next top-level statement.)
  switch (event) {
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_PARALLEL_COMMIT:
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_ABORT:
    case XACT_EVENT_PREPARE:
      passes_apply = true;
      break;
    default:
      break;
  }
}

extern "C" void OnSubTransactionEnd(SubXactEvent event, SubTransactionId mySubid,
                                    SubTransactionId parentSubid, void *arg) {
  if (event == SUBXACT_EVENT_ABORT_SUB) {
    int kept = 0;
    for (int i = 0; i < npending; i++)
      if (pending[i].subid < mySubid) pending[kept++] = pending[i];
    npending = kept;
  } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
    for (int i = 0; i < npending; i++)
      if (pending[i].subid == mySubid) pending[i].subid = parentSubid;
  }
}

bool CreatedBySession(Oid relid) {
  return hash_search(session_relations, &relid, HASH_FIND, nullptr) != nullptr;
}

// pg_restore connects with fallback_application_name 'pg_restore' and, in every
// connection (the parallel workers' too), sends SET row_security = off (unless
// --enable-row-security) and SET check_function_bodies = false before any object.
// An application session has no reason to run with both off under that name.
bool IsRestoreSession() {
  return application_name != nullptr && strcmp(application_name, "pg_restore") == 0 && !row_security &&
         !check_function_bodies;
}

void LogPass(Oid relid, const char *reason) {
  for (int i = 0; i < nlogged; i++)
    if (logged[i] == relid) return;
  if (nlogged < kLoggedPerStatement) logged[nlogged++] = relid;
  analysis::Finding named = {};
  named.relid = relid;
  ereport(LOG_SERVER_ONLY,
          (errmsg("schema_guard: setup pass for %s: %s", report::RelationText(named), reason),
           errdetail_log("statement: %s", debug_query_string ? debug_query_string : ""), errhidestmt(true)));
}

}  // namespace

void Install() {
  HASHCTL ctl;
  ctl.keysize = sizeof(Oid);
  ctl.entrysize = sizeof(Oid);
  session_relations = hash_create("schema_guard session relations", 256, &ctl, HASH_ELEM | HASH_BLOBS);
  prev_object_access = object_access_hook;
  object_access_hook = TrackRelations;
  RegisterXactCallback(OnTransactionEnd, nullptr);
  RegisterSubXactCallback(OnSubTransactionEnd, nullptr);
}

void BeginStatement() {
  passes_apply = true;
  nlogged = 0;
}

void SuspendForScript() { passes_apply = false; }
void ResumeAfterScript() { passes_apply = true; }

bool IsSetupRelation(Oid relid) {
  if (!passes_apply || !guc::ExemptSetup()) return false;
  const char *reason = nullptr;
  bool restore = false;
  if (CreatedBySession(relid)) {
    reason = "created earlier by this session, and no other session holds a lock on it";
  } else if (IsRestoreSession()) {
    reason = "pg_restore session (application_name pg_restore, row_security and check_function_bodies off), and no session outside the restore holds a lock on it";
    restore = true;
  } else {
    return false;
  }
  if (analysis::OtherSessionsUseRelation(relid, restore)) return false;
  LogPass(relid, reason);
  return true;
}

}  // namespace schema_guard::setup
