#include "citus/citus.hpp"

#include <dlfcn.h>

extern "C" {
#include "libpq/libpq-be.h"
}

#include "analysis/analysis.hpp"
#include "boundary.hpp"

namespace schema_guard::citus {
namespace {

// Citus's exported functions this module calls.  Their signatures have been stable
// since Citus 9; a library without one of them is treated as "no Citus".
struct Api {
  bool (*citus_has_been_loaded)();
  bool (*is_citus_internal_backend)();
  bool (*is_rebalancer_internal_backend)();
  bool (*is_citus_table)(Oid);
  bool (*relation_is_a_known_shard)(Oid);
  void (*postprocess_variable_set_stmt)(VariableSetStmt *, const char *);
  const bool *in_table_type_conversion;  // Citus's InTableTypeConversionFunctionCall
  bool (*is_coordinator)();
};

enum class Probe { Unknown, Present, Absent };
Probe probe = Probe::Unknown;
Api api;

// Citus cannot be loaded after the backend started (it must be preloaded), so the
// answer is computed once.  RTLD_NOLOAD: only a library the server already loaded
// counts; this never loads Citus.
const Api *Loaded() {
  if (probe == Probe::Unknown) {
    probe = Probe::Absent;
    char path[MAXPGPATH];
    snprintf(path, sizeof path, "%s/citus%s", pkglib_path, DLSUFFIX);
    void *handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (handle != nullptr) {
      api.citus_has_been_loaded = reinterpret_cast<bool (*)()>(dlsym(handle, "CitusHasBeenLoaded"));
      api.is_citus_internal_backend = reinterpret_cast<bool (*)()>(dlsym(handle, "IsCitusInternalBackend"));
      api.is_rebalancer_internal_backend =
          reinterpret_cast<bool (*)()>(dlsym(handle, "IsRebalancerInternalBackend"));
      api.is_citus_table = reinterpret_cast<bool (*)(Oid)>(dlsym(handle, "IsCitusTable"));
      api.relation_is_a_known_shard = reinterpret_cast<bool (*)(Oid)>(dlsym(handle, "RelationIsAKnownShard"));
      api.postprocess_variable_set_stmt = reinterpret_cast<void (*)(VariableSetStmt *, const char *)>(
          dlsym(handle, "PostprocessVariableSetStmt"));
      api.is_coordinator = reinterpret_cast<bool (*)()>(dlsym(handle, "IsCoordinator"));
      api.in_table_type_conversion = static_cast<const bool *>(dlsym(handle, "InTableTypeConversionFunctionCall"));
      if (api.citus_has_been_loaded && api.is_citus_internal_backend && api.is_rebalancer_internal_backend &&
          api.is_citus_table && api.relation_is_a_known_shard && api.is_coordinator)
        probe = Probe::Present;
    }
  }
  return probe == Probe::Present ? &api : nullptr;
}

// ---- per-statement cache of table facts ----

constexpr int kCacheSize = 16;
struct CacheEntry {
  Oid relid;
  TableFacts facts;
};
CacheEntry cache[kCacheSize];
int cache_used = 0;
LocalTransactionId cache_lxid = InvalidLocalTransactionId;
TimestampTz cache_stmt = 0;
MemoryContext cache_context = nullptr;

void ResetCacheIfStale() {
  const TimestampTz stmt = GetCurrentStatementStartTimestamp();
  if (cache_lxid == SG_MY_LXID && cache_stmt == stmt) return;
  cache_lxid = SG_MY_LXID;
  cache_stmt = stmt;
  cache_used = 0;
  if (cache_context == nullptr)
    cache_context = AllocSetContextCreate(TopMemoryContext, "schema_guard citus facts", ALLOCSET_SMALL_SIZES);
  else
    MemoryContextReset(cache_context);
}

// ---- reading the facts (in a discarded subtransaction: every lock and setting the
// catalog reads take is released, and a failure means "unknown") ----

struct FactsProbe {
  Oid relid;
  TableFacts facts;
  bool citus_table;
};

int64 ParseBytes(const char *text, bool *ok) {
  char *end = nullptr;
  errno = 0;
  const long long v = strtoll(text, &end, 10);
  *ok = text[0] != '\0' && end != nullptr && *end == '\0' && errno == 0 && v >= 0;
  return *ok ? static_cast<int64>(v) : 0;
}

void ReadFacts(void *arg) {
  auto *p = static_cast<FactsProbe *>(arg);
  TableFacts *f = &p->facts;
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
  Oid argtypes[1] = {OIDOID};
  Datum args[1] = {ObjectIdGetDatum(p->relid)};
  // One row per node holding placements: is it this node, where, which shards.
  const char *placements =
      "SELECT n.groupid = (SELECT groupid FROM pg_catalog.pg_dist_local_group), n.nodename, n.nodeport, "
      "       pg_catalog.array_agg(pg_catalog.shard_name(s.logicalrelid, s.shardid, false) ORDER BY s.shardid), "
      "       (SELECT repmodel = 't' FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1), "
      "       (SELECT pg_catalog.count(*) FROM pg_catalog.pg_dist_shard WHERE logicalrelid = $1)::int "
      "FROM pg_catalog.pg_dist_shard s JOIN pg_catalog.pg_dist_placement pl USING (shardid) "
      "     JOIN pg_catalog.pg_dist_node n USING (groupid) "
      "WHERE s.logicalrelid = $1 AND n.noderole = 'primary' GROUP BY 1, 2, 3 ORDER BY 2, 3";
  if (SPI_execute_with_args(placements, 1, argtypes, args, nullptr, true, 0) != SPI_OK_SELECT)
    elog(ERROR, "reading Citus placements failed");
  const uint64 nodes = SPI_processed;
  SPITupleTable *tuptable = SPI_tuptable;
  f->nodes = static_cast<int>(nodes);
  f->size_known = true;
  int64 sum = 0, largest = 0;
  StringInfoData names, ports, commands;
  initStringInfo(&names);
  initStringInfo(&ports);
  initStringInfo(&commands);
  int remote = 0;
  for (uint64 i = 0; i < nodes; i++) {
    HeapTuple tup = tuptable->vals[i];
    TupleDesc desc = tuptable->tupdesc;
    bool isnull = false;
    const bool local = DatumGetBool(SPI_getbinval(tup, desc, 1, &isnull));
    const char *nodename = SPI_getvalue(tup, desc, 2);
    const char *nodeport = SPI_getvalue(tup, desc, 3);
    Datum shards = SPI_getbinval(tup, desc, 4, &isnull);
    bool ref_null = true;
    const Datum ref = SPI_getbinval(tup, desc, 5, &ref_null);
    f->reference = !ref_null && DatumGetBool(ref);
    f->shards = DatumGetInt32(SPI_getbinval(tup, desc, 6, &isnull));
    ArrayType *arr = DatumGetArrayTypeP(shards);
    Datum *elems;
    bool *enulls;
    int nelems;
    deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &enulls, &nelems);
    if (local) {
      int64 bytes = 0;
      for (int j = 0; j < nelems; j++) {
        List *qname = SG_STRING_TO_QUALIFIED_NAME_LIST(TextDatumGetCString(elems[j]));
        const Oid shard = RangeVarGetRelid(makeRangeVarFromNameList(qname), NoLock, true);
        if (!OidIsValid(shard)) {
          f->size_known = false;
          f->size_problem = psprintf("shard %s is missing on this node", TextDatumGetCString(elems[j]));
          continue;
        }
        bytes += analysis::StorageBytes(shard);
      }
      sum += bytes;
      largest = Max(largest, bytes);
      continue;
    }
    // The node sums its own shards, without locking them.
    const char *array_text = SPI_getvalue(tup, desc, 4);
    appendStringInfo(&names, "%s%s", remote ? "," : "", quote_literal_cstr(nodename));
    appendStringInfo(&ports, "%s%s", remote ? "," : "", nodeport);
    appendStringInfo(&commands, "%s%s", remote ? "," : "",
                     quote_literal_cstr(psprintf("SELECT schema_guard._relations_bytes(%s::text[])",
                                                 quote_literal_cstr(array_text))));
    remote++;
  }
  if (remote > 0) {
    const char *run = psprintf(
        "SELECT node_name, node_port, success, result FROM pg_catalog.master_run_on_worker("
        "ARRAY[%s]::text[], ARRAY[%s]::int[], ARRAY[%s]::text[], true)",
        names.data, ports.data, commands.data);
    if (SPI_execute(run, false, 0) != SPI_OK_SELECT) elog(ERROR, "asking the nodes for shard sizes failed");
    for (uint64 i = 0; i < SPI_processed; i++) {
      HeapTuple tup = SPI_tuptable->vals[i];
      TupleDesc desc = SPI_tuptable->tupdesc;
      bool isnull = false;
      const bool success = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
      const char *result = SPI_getvalue(tup, desc, 4);
      bool parsed = false;
      const int64 bytes = (success && result != nullptr) ? ParseBytes(result, &parsed) : 0;
      if (!parsed) {
        f->size_known = false;
        if (f->size_problem == nullptr)
          f->size_problem = psprintf("node %s:%s answered: %s", SPI_getvalue(tup, desc, 1), SPI_getvalue(tup, desc, 2),
                                     result ? result : "nothing");
        continue;
      }
      sum += bytes;
      largest = Max(largest, bytes);
    }
  }
  f->bytes = f->reference ? largest : sum;
  SPI_finish();
}

}  // namespace

bool Active() {
  const Api *a = Loaded();
  return a != nullptr && IsTransactionState() && a->citus_has_been_loaded();
}

// Citus opens its connections with application_name 'citus_internal gpid=N' in the
// startup packet (connection_configuration.c), and switches some of them to
// 'citus_rebalancer gpid=N' with SET LOCAL.  Citus re-classifies a backend whenever
// application_name changes; the guard also requires the connection to have started
// as Citus's, so a session that renames itself later is still judged.
bool StartedAsCitusConnection() {
  if (MyProcPort == nullptr || MyProcPort->application_name == nullptr) return false;
  const char *name = MyProcPort->application_name;
  return strncmp(name, "citus_internal gpid=", strlen("citus_internal gpid=")) == 0 ||
         strncmp(name, "citus_rebalancer gpid=", strlen("citus_rebalancer gpid=")) == 0;
}

bool IsInternalBackend() {
  const Api *a = Loaded();
  return a != nullptr && StartedAsCitusConnection() &&
         (a->is_citus_internal_backend() || a->is_rebalancer_internal_backend());
}

bool InTableConversion() {
  const Api *a = Loaded();
  return a != nullptr && a->in_table_type_conversion != nullptr && *a->in_table_type_conversion;
}

bool IsCitusTable(Oid relid) { return OidIsValid(relid) && Active() && api.is_citus_table(relid); }

bool IsShard(Oid relid) { return OidIsValid(relid) && Active() && api.relation_is_a_known_shard(relid); }

bool HiddenFromAudits(Oid relid) {
  if (!OidIsValid(relid) || !Active()) return false;
  return api.relation_is_a_known_shard(relid) || (!api.is_coordinator() && api.is_citus_table(relid));
}

bool IsCitusCatalog(Oid relid) {
  if (get_rel_namespace(relid) != PG_CATALOG_NAMESPACE || Loaded() == nullptr) return false;
  const Oid ext = get_extension_oid("citus", true);
  return OidIsValid(ext) && getExtensionOfObject(RelationRelationId, relid) == ext;
}

const TableFacts *Facts(Oid relid) {
  if (!IsCitusTable(relid)) return nullptr;
  ResetCacheIfStale();
  for (int i = 0; i < cache_used; i++)
    if (cache[i].relid == relid) return &cache[i].facts;

  MemoryContext caller = MemoryContextSwitchTo(cache_context);
  FactsProbe p = {};
  p.relid = relid;
  // In a subtransaction that is rolled back: the catalog locks the reads take end
  // with it; an error that only means "cannot tell" leaves the size unknown.
  ErrorData *error = nullptr;
  if (!TryInSubtransaction(ReadFacts, &p, &error)) {
    p.facts.size_known = false;
    p.facts.size_problem = psprintf("the Citus metadata or a node could not be read: %s", error->message);
  }
  MemoryContextSwitchTo(caller);
  CacheEntry *slot = &cache[cache_used < kCacheSize ? cache_used++ : kCacheSize - 1];
  slot->relid = relid;
  slot->facts = p.facts;
  return &slot->facts;
}

const char *DescribeSize(const TableFacts &f, int64 bytes) {
  const char *size = bytes >= 0
                         ? text_to_cstring(DatumGetTextPP(DirectFunctionCall1(pg_size_pretty, Int64GetDatum(bytes))))
                         : psprintf("size unknown: %s", f.size_problem ? f.size_problem : "no answer");
  if (f.reference)
    return psprintf("%s, a reference table copied to %d node%s", size, f.nodes, f.nodes == 1 ? "" : "s");
  return psprintf("%s in %d shard%s on %d node%s", size, f.shards, f.shards == 1 ? "" : "s", f.nodes,
                  f.nodes == 1 ? "" : "s");
}

namespace {
// Citus's PostprocessVariableSetStmt() sends the text to the nodes already in the
// transaction and records it for the remote transactions started later; the node is
// what its own SET LOCAL handling passes along.
void SendSetLocal(const char *name, const char *value) {
  VariableSetStmt *stmt = makeNode(VariableSetStmt);
  stmt->kind = value ? VAR_SET_VALUE : VAR_SET_DEFAULT;
  stmt->name = pstrdup(name);
  stmt->is_local = true;
  api.postprocess_variable_set_stmt(stmt, value ? psprintf("SET LOCAL %s TO %s", name, quote_literal_cstr(value))
                                                : psprintf("SET LOCAL %s TO DEFAULT", name));
}
}  // namespace

Forwarded Forward(int lock_timeout_ms, bool block_lock_conflicts) {
  Forwarded done = {false, false};
  if (!Active() || api.postprocess_variable_set_stmt == nullptr) return done;
  if (lock_timeout_ms > 0) {
    SendSetLocal("lock_timeout", psprintf("%dms", lock_timeout_ms));
    done.lock_timeout = true;
  }
  if (block_lock_conflicts) {
    SendSetLocal("schema_guard.citus_lock_conflict", "block");
    done.lock_conflict = true;
  }
  return done;
}

void ResetForwarded(const Forwarded &done, bool lock_timeout) {
  if (!Active() || api.postprocess_variable_set_stmt == nullptr) return;
  if (done.lock_timeout && lock_timeout) SendSetLocal("lock_timeout", nullptr);
  if (done.lock_conflict) SendSetLocal("schema_guard.citus_lock_conflict", nullptr);
}

bool SameOrigin(const char *other_application_name) {
  return other_application_name != nullptr && application_name != nullptr && IsInternalBackend() &&
         strcmp(other_application_name, application_name) == 0;
}

}  // namespace schema_guard::citus
