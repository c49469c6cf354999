// Setup passes: relations that no other session can depend on yet are treated like
// relations created in the current transaction (no rule applies to them), for the
// statements the hook runs.  Two passes:
//  - relations this backend created earlier in this session (committed): pgbench -i,
//    a project's first migrate, a restore through one session;
//  - a pg_restore session (application_name 'pg_restore' and the settings pg_restore
//    always sends: row_security and check_function_bodies off): the parallel workers
//    of pg_restore -j build indexes and constraints on tables the leader created.
// Neither applies while a session outside the setup (autovacuum aside; for the
// restore pass, other pg_restore sessions aside) holds or awaits a lock on the
// relation.  Each pass is written to the server log.  schema_guard.exempt_setup = off
// turns both off; check() and explain() never use them.
#pragma once

#include "pg.hpp"

namespace schema_guard::setup {

// Registers the object-access hook and the transaction callbacks (preloaded only).
void Install();

// A new top-level statement: the passes apply (and each is logged once per statement).
void BeginStatement();

// check() / explain(): judge as the deploy will, without this session's passes, until
// ResumeAfterScript() (or, when an error cuts them short, the end of the transaction or
// the next top-level statement).
void SuspendForScript();
void ResumeAfterScript();

// Is relid covered by a setup pass now?  Logs the pass.
bool IsSetupRelation(Oid relid);

}  // namespace schema_guard::setup
