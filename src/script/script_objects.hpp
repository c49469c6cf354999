// Objects a migration script creates or changes on existing tables, for the statements
// after them: the catalog schema_guard.check() reads does not have them yet, while the
// hook, when the script really runs, sees them.  A CHECK (col IS NOT NULL) the script
// validated (SET NOT NULL then needs no scan), a table's persistence it changed (SET
// LOGGED after SET UNLOGGED rewrites), a constraint it added to a domain (ADD COLUMN of
// the domain rewrites), an index it built (a primary key USING it over a nullable
// column scans; an expression or partial one is rebuilt by a type change; ATTACH
// PARTITION finds the parent's index on the table), a validated CHECK that implies a
// partition bound (ATTACH PARTITION needs no scan), a trigger it created (DROP TRIGGER
// locks the table).  A ROLLBACK (TO SAVEPOINT) forgets what its transaction did.
//
// Server side only; part of the script simulation (simulate.cpp), which resolves the
// names and passes the existing relation a statement targets.  Everything is palloc'd in
// the simulation's memory context.
#pragma once

#include "analysis/analysis.hpp"

namespace schema_guard::script {

struct ScriptObjects;

// Correct the analysis of a statement on the existing relation relid (InvalidOid when
// it targets none) for what the script did before it.
void AdjustForScriptObjects(const ScriptObjects *objects, Node *stmt, Oid relid, analysis::StatementAnalysis *result);

// After the statement: remember what it created or changed on relid.  *objects is
// allocated on first use in `context`.
void TrackScriptObjects(ScriptObjects **objects, MemoryContext context, Node *stmt, Oid relid);

// The objects as a transaction or savepoint starts (copies of the lists, in `context`),
// to go back to when it rolls back: RestoreObjects() puts them back and frees the
// snapshot; FreeObjectsSnapshot() frees it when the transaction commits or the
// savepoint is released.  objects may be nullptr (none yet).
struct ObjectsSnapshot;
ObjectsSnapshot *SaveObjects(const ScriptObjects *objects, MemoryContext context);
void RestoreObjects(ScriptObjects *objects, ObjectsSnapshot *snapshot);
void FreeObjectsSnapshot(ObjectsSnapshot *snapshot);

// The existing relation a DROP TRIGGER / POLICY / RULE object name (relation..., name) is on,
// given the resolver of the simulation, and the object's name.
struct ObjectOnRelation {
  List *relation_names;  // the qualified relation name (a list of String)
  const char *name;
};
bool SplitObjectOnRelation(Node *object, ObjectOnRelation *out);

}  // namespace schema_guard::script
