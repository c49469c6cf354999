// The C++/PostgreSQL boundary, written once.
//
// Every extern "C" entry point (hook, SQL function, GUC hook, event trigger) runs its
// body through RunGuarded().  A C++ exception never crosses into PostgreSQL: it is
// caught here, its text copied to a fixed buffer, and the ERROR is raised only after
// the catch block has closed, so no exception object is alive during the longjmp.
//
// The other direction (a PostgreSQL ERROR unwinding through our frames) is kept safe
// by discipline: frames that call PostgreSQL hold only trivially destructible locals
// (POD structs, palloc'd memory).  The guarded body itself owns nothing.
#pragma once

#include <exception>
#include <new>

#include "pg.hpp"

namespace schema_guard {

template <typename Body>
inline void RunGuarded(const char *entry_point, Body &&body) {
  char message[256];
  bool failed = false;
  try {
    body();
  } catch (const std::bad_alloc &) {
    strlcpy(message, "out of memory", sizeof message);
    failed = true;
  } catch (const std::exception &e) {
    strlcpy(message, e.what(), sizeof message);
    failed = true;
  } catch (...) {
    strlcpy(message, "unknown C++ exception", sizeof message);
    failed = true;
  }
  if (failed)
    ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                    errmsg("schema_guard: internal error in %s: %s", entry_point, message)));
}

// Errors the guard may discard because they only mean "cannot tell" (a catalog
// row that vanished under concurrent DDL, a default PostgreSQL will reject, a
// user function that raised while it was folded).  Never discarded: query cancel
// and statement_timeout, termination, out of memory and other exhausted
// resources, stack depth and other program limits, lock timeouts, deadlocks and
// serialization failures, I/O and corruption errors.
bool MeansCannotTell(const ErrorData *error);

// Run a PostgreSQL operation in a subtransaction that is always rolled back:
// whatever fn allocated in the caller's memory context stays; every lock,
// relcache reference and catalog or data change it made (including those of user
// functions evaluated on the way, e.g. by constant folding) is undone.  True when
// fn completed.  When fn raised an error that MeansCannotTell(), the error is
// discarded (copied to *error_out when given, in the caller's context) and false
// returned; any other error is raised again after the rollback (the cancel flag
// is already cleared by then, so the error itself must travel on).
// fn must be a plain function: nothing with a destructor may live across the longjmp.
bool TryInSubtransaction(void (*fn)(void *), void *arg, ErrorData **error_out = nullptr);

}  // namespace schema_guard

// Declares an SQL-callable C function `name` whose body is `name##_impl`, guarded.
#define SG_SQL_FUNCTION(name)                                              \
  static Datum name##_impl(PG_FUNCTION_ARGS);                              \
  extern "C" {                                                             \
  PG_FUNCTION_INFO_V1(name);                                               \
  Datum name(PG_FUNCTION_ARGS) {                                           \
    Datum result = (Datum)0;                                               \
    schema_guard::RunGuarded(#name, [&] { result = name##_impl(fcinfo); }); \
    return result;                                                         \
  }                                                                        \
  }                                                                        \
  static Datum name##_impl(PG_FUNCTION_ARGS)
