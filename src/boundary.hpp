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

// Run a PostgreSQL operation that may raise an ERROR we want to treat as "unknown"
// (for example cooking a DEFAULT expression that PostgreSQL itself will reject a
// moment later with its own message).  It runs in a subtransaction; on error the
// subtransaction is rolled back, the error discarded, and false returned.
// fn must be a plain function: nothing with a destructor may live across the longjmp.
// With error_out, the discarded error is copied there (in the caller's context).
bool TryInSubtransaction(void (*fn)(void *), void *arg, ErrorData **error_out = nullptr);

// Run fn in a subtransaction that is always rolled back: whatever fn allocated
// in the caller's memory context stays, every lock and resource it took is
// released.  False when fn raised an error (discarded).  Same rules for fn.
bool RunInDiscardedSubtransaction(void (*fn)(void *), void *arg);

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
