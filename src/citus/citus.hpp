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

// Make the remote transactions of the running statement start with SET LOCAL
// lock_timeout = ms (Citus sends its recorded SET LOCAL commands to the nodes already
// in the transaction and at the start of every later one).  False when Citus cannot.
bool ForwardLockTimeout(int ms);
// Undo ForwardLockTimeout for the rest of the transaction (SET LOCAL lock_timeout TO
// DEFAULT on the same path).
void ResetForwardedLockTimeout();

}  // namespace schema_guard::citus
