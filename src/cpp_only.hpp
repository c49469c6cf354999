// Included last by the pure C++ policy files: they must never see PostgreSQL's
// headers, so they can never call a function that longjmps.
#pragma once
#ifdef POSTGRES_H
static_assert(false, "policy code must not include PostgreSQL headers");
#endif
