// The ProcessUtility hook and the rewrite predictions the table_rewrite backstop reads.
#pragma once

#include "pg.hpp"

namespace schema_guard::hook {

void Install();

// Did the analysis of the statement now running expect this relation to be
// rewritten (directly, or as a partition or inheritance child of one)?
bool RewritePredicted(Oid relid);

// A statement on a Citus table that the guard judged in this backend is running.
bool InCitusStatement();

}  // namespace schema_guard::hook
