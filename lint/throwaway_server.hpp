// --schema: a throwaway PostgreSQL for schema_guard_lint, started from the server
// binaries the lint is installed with (the lint lives in their bindir), with the
// extension preloaded, the schema loaded and, optionally, production table sizes.
#pragma once

#include <string>

#include "libpq-fe.h"

namespace schema_guard::lint {

// Starts the server in a new temporary directory (*dir), loads the schema and the
// sizes, and returns a fresh connection for judging.  On failure: nullptr, *error set.
PGconn *StartThrowaway(const std::string &schema_file, const std::string &sizes_file, std::string *dir,
                       std::string *error);

// Stops the server and removes the directory.
void StopThrowaway(const std::string &dir);

}  // namespace schema_guard::lint
