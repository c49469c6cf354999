// Turning a finding into what the user and the server log see: ERROR or WARNING in
// PostgreSQL's style (primary message, DETAIL, HINT, one SQLSTATE) plus a LOG line.
#pragma once

#include "analysis/analysis.hpp"
#include "policy/decide.hpp"

namespace schema_guard::report {

// The SQLSTATE of every guard error: class SG, "schema guard".
constexpr int kGuardSqlState = MAKE_SQLSTATE('S', 'G', '0', '0', '1');

struct Context {
  const char *statement;    // the statement text, for the log
  const char *command;      // e.g. "ALTER TABLE"
  const char *also;         // other blocking findings, may be null
  const char *note;         // a last DETAIL sentence, may be null
};

// The texts of a finding: "schema_guard: rule: ...", DETAIL, and HINT (the safe
// recipe plus the allow-list override; `also` names other blocking rules).
char *PrimaryText(const analysis::Finding &f);
char *DetailText(const analysis::Finding &f, const Context &ctx);
char *HintText(const analysis::Finding &f, const char *also);

// Emit a WARNING for action Warn, or raise the ERROR for action Block.
void Emit(const analysis::Finding &f, policy::Action action, const Context &ctx);

// A finding deliberately accepted through schema_guard.allow: logged only.
void LogAllowed(const analysis::Finding &f, const Context &ctx);

const char *LockModeSqlName(LOCKMODE mode);
const char *BlockedOperations(LOCKMODE mode);  // what a lock in this mode blocks, in words
const char *RelationText(const analysis::Finding &f);
// The relation's size for messages: "27 MB", or for a Citus table "27 MB in 32 shards
// on 2 nodes".
const char *SizeText(Oid relid);

}  // namespace schema_guard::report
