// Citus awareness: on a Citus cluster one statement on the coordinator becomes work on
// every shard.  This module answers the questions the guard needs for that, from
// Citus's own functions (resolved in the loaded citus library, never linked: schema_guard
// runs without Citus) and Citus's metadata catalogs:
//   * is this backend one of Citus's own connections, whose DDL was judged where it
//     started;
//   * is a relation a Citus table (its size is its shards') or a shard;
//   * how many shards on how many nodes, and how big together;
//   * make Citus's remote transactions use the lock_timeout the statement runs with.
// Everything returns "not Citus" when Citus is not loaded or not created in this
// database.  C-style like analysis/: these functions call PostgreSQL.
#pragma once

#include "pg.hpp"

namespace schema_guard::citus {

// Citus is loaded in this backend and its extension is usable in this database.
bool Active();

// This backend is one of Citus's own connections (internal or rebalancer, by Citus's
// own test IsCitusInternalBackend() / IsRebalancerInternalBackend(), the one Citus uses
// to admit its internal metadata functions).  A user connecting to a node directly, or
// through run_command_on_workers(), is not.
bool IsInternalBackend();

// Citus is converting a table in this backend (create_distributed_table() of a Citus
// local table, alter_distributed_table(), undistribute_table(), ...): the statements
// it runs meanwhile are its own.
bool InTableConversion();

// The relation has Citus metadata (distributed, reference or Citus-managed local table).
bool IsCitusTable(Oid relid);

// The relation is a shard of a Citus table, stored on this node.
bool IsShard(Oid relid);

// Audits leave it out: a shard (the audit of its table on the coordinator covers it,
// and a fix on one shard would desynchronise the table), or, on a worker, a Citus
// table's copy of the shell (its audit and fixes belong on the coordinator).
bool HiddenFromAudits(Oid relid);

// One of Citus's metadata catalogs (pg_catalog relations of the citus extension).
bool IsCitusCatalog(Oid relid);

struct TableFacts {
  bool reference;           // a full copy on every node
  int shards;
  int nodes;                // nodes holding placements
  bool size_known;
  int64 bytes;              // distributed: sum of the shards; reference: one copy
  const char *size_problem; // why the size is unknown (size_known false)
};

// The distributed facts of a Citus table, or nullptr for any other relation.  Sizes
// come from every placement's node (a lock-free read of the shards' files); they are
// read once per statement.
const TableFacts *Facts(Oid relid);

// "27 MB in 32 shards on 2 nodes" (or the reference-table wording), palloc'd; bytes
// is the table's size (analysis::RelationSizeBytes(), a partitioned table's
// partitions included), -1 when unknown.
const char *DescribeSize(const TableFacts &facts, int64 bytes);

// What the nodes need to know of the statement about to run, sent as SET LOCAL at the
// start of Citus's remote transactions (Citus sends its recorded SET LOCAL commands to
// the nodes already in the transaction and at the start of every later one):
//   * lock_timeout, the statement's (the session's or the guard's);
//   * schema_guard.citus_lock_conflict = block when the coordinator's verdict for lock
//     conflicts is block: a worker's guard then stops the statement when another
//     session holds a shard in a conflicting mode (which the coordinator cannot see).
struct Forwarded {
  bool lock_timeout;
  bool lock_conflict;
};
Forwarded Forward(int lock_timeout_ms, bool block_lock_conflicts);
// After the statement: the settings back to the nodes' defaults for the rest of the
// transaction (lock_timeout only when asked: the session's own value stays).
void ResetForwarded(const Forwarded &done, bool lock_timeout);

// Another backend on this node works for the same coordinator backend as this one
// (both Citus connections with the same global pid): not a conflicting session.
bool SameOrigin(const char *other_application_name);

}  // namespace schema_guard::citus
