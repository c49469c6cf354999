#include "boundary.hpp"

namespace schema_guard {

bool MeansCannotTell(const ErrorData *error) {
  if (error->elevel > ERROR) return false;
  const int code = error->sqlerrcode;
  switch (ERRCODE_TO_CATEGORY(code)) {
    case ERRCODE_CONNECTION_EXCEPTION:       // 08
    case ERRCODE_TRANSACTION_ROLLBACK:       // 40: deadlock, serialization failure
    case ERRCODE_INSUFFICIENT_RESOURCES:     // 53: out of memory, disk full
    case ERRCODE_PROGRAM_LIMIT_EXCEEDED:     // 54: stack depth, too complex
    case ERRCODE_OPERATOR_INTERVENTION:      // 57: cancel, statement_timeout, shutdown
    case ERRCODE_SYSTEM_ERROR:               // 58: I/O
      return false;
    default:
      break;
  }
  return code != ERRCODE_LOCK_NOT_AVAILABLE && code != ERRCODE_IDLE_IN_TRANSACTION_SESSION_TIMEOUT &&
         code != ERRCODE_DATA_CORRUPTED && code != ERRCODE_INDEX_CORRUPTED;
}

bool TryInSubtransaction(void (*fn)(void *), void *arg, ErrorData **error_out) {
  MemoryContext caller_context = CurrentMemoryContext;
  ResourceOwner caller_owner = CurrentResourceOwner;
  ErrorData *volatile error = nullptr;
  BeginInternalSubTransaction(nullptr);
  MemoryContextSwitchTo(caller_context);  // results must outlive the subtransaction
  PG_TRY();
  {
    fn(arg);
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(caller_context);
    error = CopyErrorData();
    FlushErrorState();
  }
  PG_END_TRY();
  RollbackAndReleaseCurrentSubTransaction();
  MemoryContextSwitchTo(caller_context);
  CurrentResourceOwner = caller_owner;
  if (error == nullptr) return true;
  if (!MeansCannotTell(error)) ReThrowError(error);
  if (error_out != nullptr) *error_out = error;
  else FreeErrorData(error);
  return false;
}

}  // namespace schema_guard
