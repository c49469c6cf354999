#include "boundary.hpp"

namespace schema_guard {

bool TryInSubtransaction(void (*fn)(void *), void *arg, ErrorData **error_out) {
  MemoryContext caller_context = CurrentMemoryContext;
  ResourceOwner caller_owner = CurrentResourceOwner;
  volatile bool ok = true;
  BeginInternalSubTransaction(nullptr);
  MemoryContextSwitchTo(caller_context);  // results must outlive the subtransaction
  PG_TRY();
  {
    fn(arg);
    ReleaseCurrentSubTransaction();
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(caller_context);
    if (error_out != nullptr) *error_out = CopyErrorData();
    FlushErrorState();
    RollbackAndReleaseCurrentSubTransaction();
    ok = false;
  }
  PG_END_TRY();
  MemoryContextSwitchTo(caller_context);
  CurrentResourceOwner = caller_owner;
  return ok;
}

bool RunInDiscardedSubtransaction(void (*fn)(void *), void *arg) {
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
    FlushErrorState();
    ok = false;
  }
  PG_END_TRY();
  RollbackAndReleaseCurrentSubTransaction();  // drops the locks and resources fn took
  MemoryContextSwitchTo(caller_context);
  CurrentResourceOwner = caller_owner;
  return ok;
}

}  // namespace schema_guard
