// Simulating a migration script: its statements judged in order by the guard's own
// engine (analysis + verdicts), with the state the script builds up along the way
// (transactions, lock_timeout, relations it creates, locks it already holds, psql's
// ON_ERROR_STOP and AUTOCOMMIT), without executing anything.
//
// Server side only.  Fed one step at a time by schema_guard.check() (from the psql
// reader) or by the lint's statement sequence; steps are parsed in batches, one
// subtransaction per batch, so memory stays bounded by the batch whatever the size
// of the script.  Everything is palloc'd; no local needs a destructor.
#pragma once

#include "analysis/analysis.hpp"
#include "glue/verdict.hpp"
#include "script/psql_reader.hpp"

namespace schema_guard::script {

enum class StepKind : uint8 {
  Sql,            // text sent to the server
  Note,           // something that cannot be simulated; text says what
  Connect,        // \connect: a new session; text is the database or "-"
  BeginImplicit,  // the migration tool opens a transaction around a file
  EndImplicit,    // ... and commits it
};

struct Step {
  StepKind kind;
  char *text;  // copied into the batch
  int length;
  bool on_error_stop;
  bool autocommit;
  int ordinal;       // the caller's number for the step (statement number, array index)
  Position where;    // check(): where the step starts
  StatementMap map;  // check(): to locate an error inside the step (segments copied)
  // filled in by the simulation
  List *parsed;       // of RawStmt *
  ErrorData *error;   // the parse error, or nullptr
};

struct Verdict {
  const Step *step;
  int error_chars;  // syntax error: 0-based character offset in step->text; otherwise -1
  const analysis::Finding *finding;
  verdict::Outcome outcome;
};

using EmitFn = void (*)(void *context, const Verdict &verdict);

struct Simulation;

// A simulation in the current memory context, which must outlive it.
Simulation *NewSimulation(EmitFn emit, void *context);

// Queue one step (its text is copied).  Returns false once the script has stopped
// (ON_ERROR_STOP after an error): later steps are not judged.
bool AddStep(Simulation *sim, StepKind kind, const char *text, size_t length, bool on_error_stop, bool autocommit,
             int ordinal, const Position *where = nullptr, const StatementMap *map = nullptr);

// Judge whatever is still queued.
void FinishSimulation(Simulation *sim);

}  // namespace schema_guard::script
