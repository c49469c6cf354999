#include "boundary.hpp"

namespace schema_guard {

namespace {

// keep: release (commit) the subtransaction when fn succeeds; otherwise it is
// always rolled back.
bool RunInSubtransaction(void (*fn)(void *), void *arg, bool keep, ErrorData **error_out) {
  MemoryContext caller_context = CurrentMemoryContext;
  ResourceOwner caller_owner = CurrentResourceOwner;
  volatile bool ok = true;
  BeginInternalSubTransaction(nullptr);
  MemoryContextSwitchTo(caller_context);  // results must outlive the subtransaction
  PG_TRY();
  {
    fn(arg);
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(caller_context);
    if (error_out != nullptr) *error_out = CopyErrorData();
    FlushErrorState();
    ok = false;
  }
  PG_END_TRY();
  if (ok && keep) ReleaseCurrentSubTransaction();
  else RollbackAndReleaseCurrentSubTransaction();
  MemoryContextSwitchTo(caller_context);
  CurrentResourceOwner = caller_owner;
  return ok;
}

}  // namespace

bool TryInSubtransaction(void (*fn)(void *), void *arg, ErrorData **error_out) {
  return RunInSubtransaction(fn, arg, true, error_out);
}

bool RunInDiscardedSubtransaction(void (*fn)(void *), void *arg) {
  return RunInSubtransaction(fn, arg, false, nullptr);
}

}  // namespace schema_guard
