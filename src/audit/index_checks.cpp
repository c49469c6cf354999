// audit(): duplicate, redundant and invalid indexes, and tables without a
// primary key.
//
// Index definitions are compared on the catalog: key and INCLUDE columns,
// operator classes, collations, indoption (ASC/DESC, NULLS FIRST/LAST), the
// access method, uniqueness, and the expression and predicate trees compared
// with equal() (which ignores the parse locations that make the stored text of
// two identical expressions differ).  Index names never enter the comparison.
#include "audit/audit.hpp"

namespace schema_guard::audit {

struct IndexFacts {
  Oid indexrelid;
  Oid relid;
  Oid am;
  char relkind;             // 'i', or 'I' for a partitioned index
  int16 natts;
  int16 nkeyatts;
  const int16 *keys;        // natts
  const Oid *classes;       // nkeyatts
  const Oid *collations;    // nkeyatts
  const int16 *options;     // nkeyatts
  bool unique, primary, exclusion, immediate, replident, clustered, nulls_not_distinct;
  bool valid, ready, live;
  bool attached;            // a partition of a partitioned index
  const char *exprs_text;   // nodeToString form, or nullptr
  const char *pred_text;
  List *exprs;              // parsed on first use
  Node *pred;
  bool parsed;
  Oid constraint;           // the PRIMARY KEY / UNIQUE / EXCLUDE constraint it backs
  char constraint_type;
  const char *constraint_name;
  const char *referenced_by;  // a foreign key that references it (its name), or nullptr
  bool duplicate;           // reported as a duplicate of another
  IndexFacts *next;         // the next index of the same table
};

struct TableEntry {
  Oid relid;  // hash key
  IndexFacts *first;
  int count;
};

struct IndexEntry {
  Oid indexrelid;  // hash key
  IndexFacts *index;
};

struct IndexPass {
  HTAB *tables;   // relid -> TableEntry
  HTAB *indexes;  // indexrelid -> IndexEntry
};

static_assert(std::is_trivially_destructible_v<IndexFacts>);

namespace {

template <typename T>
const T *Copy(const T *values, int n) {
  return static_cast<const T *>(memcpy(palloc(sizeof(T) * Max(n, 1)), values, sizeof(T) * n));
}

bool NeedIndexes(const AuditRun &run) {
  return Enabled(run, CheckId::DuplicateIndex) || Enabled(run, CheckId::RedundantIndex) ||
         Enabled(run, CheckId::InvalidIndex) || Enabled(run, CheckId::TableWithoutPrimaryKey);
}

void Parse(IndexFacts *ix) {
  if (ix->parsed) return;
  ix->exprs = ix->exprs_text != nullptr ? static_cast<List *>(stringToNode(ix->exprs_text)) : NIL;
  ix->pred = ix->pred_text != nullptr ? static_cast<Node *>(stringToNode(ix->pred_text)) : nullptr;
  ix->parsed = true;
}

bool Usable(const IndexFacts &ix) { return ix.valid && ix.ready && ix.live; }

bool SamePredicate(IndexFacts *a, IndexFacts *b) {
  if ((a->pred_text == nullptr) != (b->pred_text == nullptr)) return false;
  if (a->pred_text == nullptr) return true;
  Parse(a);
  Parse(b);
  return equal(a->pred, b->pred);
}

// Key positions 0..n-1 of a and b are the same column or expression with the
// same operator class, collation and order.
bool SameLeadingKeys(IndexFacts *a, IndexFacts *b, int n) {
  int expressions = 0;
  for (int i = 0; i < n; i++) {
    if (a->keys[i] != b->keys[i] || a->classes[i] != b->classes[i] || a->collations[i] != b->collations[i] ||
        a->options[i] != b->options[i])
      return false;
    expressions += a->keys[i] == 0;
  }
  if (expressions == 0) return true;
  Parse(a);
  Parse(b);
  if (list_length(a->exprs) < expressions || list_length(b->exprs) < expressions) return false;
  for (int j = 0; j < expressions; j++)
    if (!equal(list_nth(a->exprs, j), list_nth(b->exprs, j))) return false;
  return true;
}

bool SameDefinition(IndexFacts *a, IndexFacts *b) {
  if (a->am != b->am || a->natts != b->natts || a->nkeyatts != b->nkeyatts || a->unique != b->unique ||
      a->immediate != b->immediate || a->exclusion != b->exclusion ||
      (a->unique && a->nulls_not_distinct != b->nulls_not_distinct))
    return false;
  for (int i = a->nkeyatts; i < a->natts; i++)
    if (a->keys[i] != b->keys[i]) return false;
  if ((a->exprs_text == nullptr) != (b->exprs_text == nullptr)) return false;
  if (!SameLeadingKeys(a, b, a->nkeyatts)) return false;
  if (a->exprs_text != nullptr && list_length(a->exprs) != list_length(b->exprs)) return false;
  return SamePredicate(a, b);
}

// How strongly an index should be kept when it has a twin: lower keeps.
int KeepRank(const IndexFacts &ix) {
  if (ix.primary) return 0;
  if (OidIsValid(ix.constraint)) return 1;
  if (ix.referenced_by != nullptr) return 2;
  if (ix.attached) return 3;
  if (ix.replident) return 4;
  if (ix.clustered) return 5;
  return 6;
}

const char *KeepReason(const IndexFacts &ix) {
  switch (KeepRank(ix)) {
    case 0: return "the primary key";
    case 1: return psprintf("the index of constraint %s", quote_identifier(ix.constraint_name));
    case 2: return psprintf("referenced by foreign key %s", quote_identifier(ix.referenced_by));
    case 3: return "a partition of a partitioned index";
    case 4: return "the replica identity";
    case 5: return "the CLUSTER index";
    default: return "the older one";
  }
}

// A droppable index: nothing else depends on it.
bool Droppable(const IndexFacts &ix) {
  return !ix.primary && !OidIsValid(ix.constraint) && ix.referenced_by == nullptr && !ix.attached && !ix.replident;
}

const char *DropIndex(const IndexFacts &ix) {
  // DROP INDEX CONCURRENTLY does not support partitioned indexes
  return psprintf(ix.relkind == RELKIND_PARTITIONED_INDEX ? "DROP INDEX %s;" : "DROP INDEX CONCURRENTLY %s;",
                  RelationName(ix.indexrelid));
}

const char *IndexColumns(IndexFacts *ix) {
  StringInfoData buf;
  initStringInfo(&buf);
  int expression = 0;
  for (int i = 0; i < ix->natts; i++) {
    if (i == ix->nkeyatts) appendStringInfoString(&buf, ") INCLUDE (");
    else if (i > 0) appendStringInfoString(&buf, ", ");
    if (ix->keys[i] != 0) {
      const char *name = get_attname(ix->relid, ix->keys[i], true);
      appendStringInfoString(&buf, name != nullptr ? quote_identifier(name) : "?");
    } else {
      appendStringInfo(&buf, "expression %d", ++expression);
    }
  }
  return psprintf("(%s)", buf.data);
}

// The foreign keys of the table the index's leading columns serve (their RI
// check can use it), as "fk1, fk2", or nullptr.
const char *ServedForeignKeys(const AuditRun &run, const IndexFacts &ix) {
  StringInfoData buf;
  initStringInfo(&buf);
  ListCell *cell;
  foreach (cell, ForeignKeysOf(run, ix.relid)) {
    const ConstraintFacts &c = run.constraints[lfirst_int(cell)];
    if (c.n == 0 || c.n > ix.nkeyatts) continue;
    bool all = true;
    for (int k = 0; k < c.n && all; k++) {
      bool present = false;
      for (int j = 0; j < c.n; j++) present |= ix.keys[j] == c.conkey[k];
      all = present;
    }
    if (!all) continue;
    appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", quote_identifier(c.conname));
  }
  return buf.len > 0 ? buf.data : nullptr;
}

// Rank, then age.
int CompareKeepOrder(const void *x, const void *y) {
  const IndexFacts *a = *static_cast<IndexFacts *const *>(x), *b = *static_cast<IndexFacts *const *>(y);
  const int ra = KeepRank(*a), rb = KeepRank(*b);
  if (ra != rb) return ra < rb ? -1 : 1;
  return a->indexrelid < b->indexrelid ? -1 : (a->indexrelid > b->indexrelid ? 1 : 0);
}

void CheckDuplicates(AuditRun *run, TableEntry *table, bool emit) {
  IndexFacts **order = static_cast<IndexFacts **>(palloc(sizeof(IndexFacts *) * table->count));
  int n = 0;
  for (IndexFacts *ix = table->first; ix != nullptr; ix = ix->next)
    if (Usable(*ix)) order[n++] = ix;
  qsort(order, n, sizeof(IndexFacts *), CompareKeepOrder);  // keepers first
  for (int i = 0; i < n; i++) {
    if (order[i]->duplicate) continue;
    for (int j = i + 1; j < n; j++) {
      IndexFacts *keep = order[i], *dup = order[j];
      if (dup->duplicate || !SameDefinition(keep, dup)) continue;
      dup->duplicate = true;
      if (dup->attached || !emit) continue;  // partition indexes are judged on their partitioned parents
      const char *fix = nullptr;
      const char *why = "";
      if (dup->referenced_by != nullptr) {
        why = psprintf(" Foreign key %s references it, so it cannot be dropped until that foreign key is recreated "
                       "against %s.", quote_identifier(dup->referenced_by), RelationName(keep->indexrelid));
      } else if (OidIsValid(dup->constraint)) {
        fix = psprintf("ALTER TABLE %s DROP CONSTRAINT %s;", RelationName(dup->relid),
                       quote_identifier(dup->constraint_name));
        why = psprintf(" It is the index of constraint %s, which enforces the same rule.",
                       quote_identifier(dup->constraint_name));
      } else if (dup->replident) {
        why = " It is the replica identity: make the other one the replica identity first.";
      } else {
        fix = DropIndex(*dup);
      }
      Emit(run, CheckId::DuplicateIndex, "medium", dup->relid, RelationName(dup->indexrelid),
           psprintf("Index %s %s has the same definition as %s (%s, kept): every write maintains both.%s",
                    RelationName(dup->indexrelid), IndexColumns(dup), RelationName(keep->indexrelid),
                    KeepReason(*keep), why),
           fix);
    }
  }
}

// Does wide serve every lookup narrow serves (narrow's keys lead wide's, the
// same predicate, and every INCLUDE column of narrow is in wide)?
bool Covers(IndexFacts *wide, IndexFacts *narrow) {
  if (wide == narrow || !Usable(*wide) || wide->am != BTREE_AM_OID || narrow->am != BTREE_AM_OID ||
      narrow->nkeyatts > wide->nkeyatts)
    return false;
  for (int i = narrow->nkeyatts; i < narrow->natts; i++) {
    bool present = false;
    for (int j = 0; j < wide->natts && !present; j++) present = wide->keys[j] == narrow->keys[i];
    if (!present) return false;
  }
  return SameLeadingKeys(narrow, wide, narrow->nkeyatts) && SamePredicate(narrow, wide);
}

void CheckRedundant(AuditRun *run, TableEntry *table) {
  for (IndexFacts *narrow = table->first; narrow != nullptr; narrow = narrow->next) {
    if (narrow->duplicate || !Usable(*narrow) || narrow->unique || narrow->exclusion || !Droppable(*narrow) ||
        narrow->am != BTREE_AM_OID)
      continue;
    IndexFacts *best = nullptr;
    for (IndexFacts *wide = table->first; wide != nullptr; wide = wide->next) {
      if (wide->duplicate || !Covers(wide, narrow)) continue;
      if (wide->natts == narrow->natts && !wide->unique && SameDefinition(wide, narrow)) continue;
      if (best == nullptr || KeepRank(*wide) < KeepRank(*best)) best = wide;
    }
    if (best == nullptr) continue;
    const char *fks = ServedForeignKeys(*run, *narrow);
    Emit(run, CheckId::RedundantIndex, "low", narrow->relid, RelationName(narrow->indexrelid),
         psprintf("Index %s %s is a leading part of %s %s%s: that index serves every lookup this one serves.%s%s",
                  RelationName(narrow->indexrelid), IndexColumns(narrow), RelationName(best->indexrelid),
                  IndexColumns(best), narrow->pred_text != nullptr ? " with the same predicate" : "",
                  fks != nullptr ? psprintf(" It serves the RI check of foreign key %s; %s serves it too.", fks,
                                            RelationName(best->indexrelid))
                                 : "",
                  narrow->clustered ? " It is the table's CLUSTER index." : ""),
         DropIndex(*narrow));
  }
}

// Relations other backends hold a lock on in this database (pg_locks' view).
Oid *RelationsLockedByOthers(int *n) {
  LockData *locks = GetLockStatusData();
  Oid *oids = static_cast<Oid *>(palloc(sizeof(Oid) * (locks->nelements + 1)));
  *n = 0;
  for (int i = 0; i < locks->nelements; i++) {
    const LockInstanceData &lock = locks->locks[i];
    if (lock.locktag.locktag_type != LOCKTAG_RELATION || lock.locktag.locktag_field1 != MyDatabaseId ||
        lock.holdMask == 0 || lock.pid == MyProcPid || (MyProc->lockGroupLeader != nullptr &&
                                                        lock.leaderPid == MyProc->lockGroupLeader->pid))
      continue;
    oids[(*n)++] = lock.locktag.locktag_field2;
  }
  qsort(oids, *n, sizeof(Oid), oid_cmp);
  return oids;
}

bool NameEndsWithReindexSuffix(const char *name) {
  // REINDEX CONCURRENTLY names its copies <name>_ccnew[N] and <name>_ccold[N]
  const char *p = name + strlen(name);
  while (p > name && isdigit(static_cast<unsigned char>(p[-1]))) p--;
  const size_t stem = static_cast<size_t>(p - name);
  return stem >= 6 && (strncmp(p - 6, "_ccnew", 6) == 0 || strncmp(p - 6, "_ccold", 6) == 0);
}

// The statement that builds an invalid partitioned index's definition on one
// leaf partition, CONCURRENTLY: pg_get_indexdef() of the partitioned index
// (which opens nothing) with the partition in place of "ONLY parent"; nullptr
// when the text does not have the expected shape.
const char *LeafIndexStatement(const IndexFacts &ix, Oid part, const char *index_name) {
  // pg_get_indexdef() returns NULL for an index dropped meanwhile
  LOCAL_FCINFO(fcinfo, 1);
  InitFunctionCallInfoData(*fcinfo, nullptr, 1, InvalidOid, nullptr, nullptr);
  fcinfo->args[0].value = ObjectIdGetDatum(ix.indexrelid);
  fcinfo->args[0].isnull = false;
  const Datum definition = pg_get_indexdef(fcinfo);
  if (fcinfo->isnull) return nullptr;
  const char *def = TextDatumGetCString(definition);
  const char *relname = get_rel_name(ix.indexrelid);
  const char *parent = RelationName(ix.relid);
  if (relname == nullptr) return nullptr;
  const char *head = psprintf("CREATE %sINDEX %s ON ONLY %s USING ", ix.unique ? "UNIQUE " : "",
                              quote_identifier(relname), parent);
  if (strncmp(def, head, strlen(head)) != 0) return nullptr;
  return psprintf("CREATE %sINDEX CONCURRENTLY %s ON %s USING %s;", ix.unique ? "UNIQUE " : "",
                  quote_identifier(index_name), RelationName(part), def + strlen(head));
}

// The partitions of the table without a valid index attached to this one
// ("a, b"), and in *fix the statements that give each leaf one and attach it
// (nullptr when a partition is itself partitioned: that takes ON ONLY again).
const char *MissingPartitions(const IndexFacts &ix, const char **fix) {
  List *attached_tables = NIL;
  ListCell *cell;
  foreach (cell, find_inheritance_children(ix.indexrelid, NoLock)) {
    const Oid child_index = lfirst_oid(cell);
    const Oid child_table = IndexGetRelation(child_index, true);
    HeapTuple tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(child_index));
    if (!HeapTupleIsValid(tuple)) continue;
    const bool valid = reinterpret_cast<Form_pg_index>(GETSTRUCT(tuple))->indisvalid;
    ReleaseSysCache(tuple);
    if (valid && OidIsValid(child_table)) attached_tables = lappend_oid(attached_tables, child_table);
  }
  StringInfoData buf, statements;
  initStringInfo(&buf);
  initStringInfo(&statements);
  bool fixable = true;
  foreach (cell, find_inheritance_children(ix.relid, NoLock)) {
    const Oid part = lfirst_oid(cell);
    const char kind = get_rel_relkind(part);
    if ((kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE) || list_member_oid(attached_tables, part))
      continue;
    appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", RelationName(part));
    const char *relname = get_rel_name(part);
    const char *create = nullptr;
    if (kind == RELKIND_RELATION && relname != nullptr) {
      const char *name = FreeRelationName(get_rel_namespace(part), relname, "idx", 0);
      create = LeafIndexStatement(ix, part, name);
      if (create != nullptr)
        appendStringInfo(&statements, "%s%s\nALTER INDEX %s ATTACH PARTITION %s;", statements.len > 0 ? "\n" : "",
                         create, RelationName(ix.indexrelid),
                         quote_qualified_identifier(get_namespace_name(get_rel_namespace(part)), name));
    }
    fixable &= create != nullptr;
  }
  *fix = fixable && statements.len > 0 ? statements.data : nullptr;
  return buf.len > 0 ? buf.data : nullptr;
}

void CheckInvalid(AuditRun *run, TableEntry *table, const Oid *locked, int n_locked) {
  for (IndexFacts *ix = table->first; ix != nullptr; ix = ix->next) {
    if (ix->valid) continue;
    if (OidInSorted(run->building, run->n_building, ix->indexrelid) ||
        OidInSorted(run->reindexing, run->n_reindexing, ix->relid) || OidInSorted(locked, n_locked, ix->indexrelid))
      continue;  // being built, reindexed or dropped right now
    const char *name = RelationName(ix->indexrelid);
    if (ix->relkind == RELKIND_PARTITIONED_INDEX) {
      const char *fix = nullptr;
      const char *missing = MissingPartitions(*ix, &fix);
      Emit(run, CheckId::InvalidIndex, "medium", ix->relid, name,
           psprintf("Partitioned index %s %s is invalid: %s. Queries on the partitioned table cannot rely on it, "
                    "and a unique one does not enforce uniqueness across partitions.",
                    name, IndexColumns(ix),
                    missing != nullptr
                        ? psprintf("partition %s has no valid index attached to it (the fix builds a matching "
                                   "index on each CONCURRENTLY, then attaches it; the last one attached validates "
                                   "%s)", missing, name)
                        : "every partition has one attached now; attaching the last one validates it"),
           fix);
      continue;
    }
    IndexFacts *twin = nullptr;
    for (IndexFacts *other = table->first; other != nullptr && twin == nullptr; other = other->next)
      if (other != ix && Usable(*other) && SameDefinition(ix, other)) twin = other;
    const char *relname = get_rel_name(ix->indexrelid);
    const bool leftover = relname != nullptr && NameEndsWithReindexSuffix(relname);
    const char *what = ix->ready ? (ix->unique ? "Writes maintain it and it still rejects duplicate keys, but no "
                                                 "query uses it."
                                               : "Writes maintain it, but no query uses it.")
                                 : "No query uses it and writes do not maintain it.";
    if (twin != nullptr) {
      Emit(run, CheckId::InvalidIndex, "medium", ix->relid, name,
           psprintf("Index %s is invalid, %s; valid index %s has the same definition. %s", name,
                    leftover ? "a leftover of an interrupted REINDEX CONCURRENTLY"
                             : "left by an interrupted CREATE INDEX CONCURRENTLY",
                    RelationName(twin->indexrelid), what),
           psprintf("DROP INDEX CONCURRENTLY %s;", name));
    } else {
      Emit(run, CheckId::InvalidIndex, "medium", ix->relid, name,
           psprintf("Index %s %s is invalid, %s. %s", name, IndexColumns(ix),
                    leftover ? "a leftover of an interrupted REINDEX CONCURRENTLY"
                             : "left by a failed CREATE INDEX CONCURRENTLY (or an interrupted DROP INDEX "
                               "CONCURRENTLY)",
                    what),
           psprintf("REINDEX INDEX CONCURRENTLY %s;", name));
    }
  }
}

// ---- primary keys

struct Publications {
  bool all_tables;     // a FOR ALL TABLES publication replicates UPDATE or DELETE
  List *relations;     // oids in a publication that replicates UPDATE or DELETE
  List *namespaces;
};

Publications ReadPublications() {
  Publications pubs = {false, NIL, NIL};
  List *replicating = NIL;  // publications that publish UPDATE or DELETE
  Relation pg_publication = table_open(PublicationRelationId, AccessShareLock);
  SysScanDesc scan = systable_beginscan(pg_publication, InvalidOid, false, nullptr, 0, nullptr);
  HeapTuple tuple;
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    auto *form = reinterpret_cast<Form_pg_publication>(GETSTRUCT(tuple));
    if (!form->pubupdate && !form->pubdelete) continue;
    replicating = lappend_oid(replicating, form->oid);
    pubs.all_tables |= form->puballtables;
  }
  systable_endscan(scan);
  table_close(pg_publication, AccessShareLock);
  if (replicating == NIL) return pubs;
  Relation pg_publication_rel = table_open(PublicationRelRelationId, AccessShareLock);
  scan = systable_beginscan(pg_publication_rel, InvalidOid, false, nullptr, 0, nullptr);
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    auto *form = reinterpret_cast<Form_pg_publication_rel>(GETSTRUCT(tuple));
    if (list_member_oid(replicating, form->prpubid)) pubs.relations = lappend_oid(pubs.relations, form->prrelid);
  }
  systable_endscan(scan);
  table_close(pg_publication_rel, AccessShareLock);
  Relation pg_publication_namespace = table_open(PublicationNamespaceRelationId, AccessShareLock);
  scan = systable_beginscan(pg_publication_namespace, InvalidOid, false, nullptr, 0, nullptr);
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    auto *form = reinterpret_cast<Form_pg_publication_namespace>(GETSTRUCT(tuple));
    if (list_member_oid(replicating, form->pnpubid)) pubs.namespaces = lappend_oid(pubs.namespaces, form->pnnspid);
  }
  systable_endscan(scan);
  table_close(pg_publication_namespace, AccessShareLock);
  return pubs;
}

// A unique index ADD PRIMARY KEY USING INDEX accepts without a scan: btree,
// valid, immediate, no expressions or predicate, default operator classes,
// collations and order, not a constraint's, every key column NOT NULL.
bool PromotableToPrimaryKey(const AuditRun &run, const IndexFacts &ix) {
  if (!Usable(ix) || !ix.unique || !ix.immediate || ix.am != BTREE_AM_OID || ix.exprs_text != nullptr ||
      ix.pred_text != nullptr || OidIsValid(ix.constraint) || ix.relkind != RELKIND_INDEX)
    return false;
  for (int i = 0; i < ix.nkeyatts; i++) {
    const AttributeFacts *a = FindAttribute(run, ix.relid, ix.keys[i]);
    if (ix.keys[i] <= 0 || a == nullptr || !a->notnull || ix.options[i] != 0 || ix.collations[i] != a->collation ||
        !SearchSysCacheExists1(TYPEOID, ObjectIdGetDatum(a->typid)) ||
        ix.classes[i] != GetDefaultOpClass(a->typid, BTREE_AM_OID))
      return false;
  }
  return true;
}

void CheckPrimaryKeys(AuditRun *run, IndexPass *pass) {
  List *with_pk = NIL;
  for (int i = 0; i < run->n_constraints; i++)
    if (run->constraints[i].contype == CONSTRAINT_PRIMARY) with_pk = lappend_oid(with_pk, run->constraints[i].conrelid);
  Oid *pk = static_cast<Oid *>(palloc(sizeof(Oid) * (list_length(with_pk) + 1)));
  int n_pk = 0;
  ListCell *cell;
  foreach (cell, with_pk) pk[n_pk++] = lfirst_oid(cell);
  qsort(pk, n_pk, sizeof(Oid), oid_cmp);
  const Publications pubs = ReadPublications();

  HASH_SEQ_STATUS seq;
  hash_seq_init(&seq, run->relations);
  RelationFacts *rel;
  while ((rel = static_cast<RelationFacts *>(hash_seq_search(&seq))) != nullptr) {
    if (!rel->in_scope || rel->ispartition ||
        (rel->relkind != RELKIND_RELATION && rel->relkind != RELKIND_PARTITIONED_TABLE) ||
        OidInSorted(pk, n_pk, rel->relid))
      continue;
    auto *table = static_cast<TableEntry *>(hash_search(pass->tables, &rel->relid, HASH_FIND, nullptr));
    const bool published = pubs.all_tables || list_member_oid(pubs.relations, rel->relid) ||
                           list_member_oid(pubs.namespaces, rel->nsp);
    IndexFacts *identity = nullptr, *promotable = nullptr;
    for (IndexFacts *ix = table != nullptr ? table->first : nullptr; ix != nullptr; ix = ix->next) {
      if (ix->replident && Usable(*ix)) identity = ix;
      if (promotable == nullptr && PromotableToPrimaryKey(*run, *ix)) promotable = ix;
    }
    const char *replica;
    bool replicable;
    switch (rel->replident) {
      case REPLICA_IDENTITY_FULL:
        replica = "Its replica identity is FULL: logical replication logs whole rows and the subscriber finds each "
                  "updated or deleted row by comparing every column.";
        replicable = true;
        break;
      case REPLICA_IDENTITY_INDEX:
        replicable = identity != nullptr;
        replica = identity != nullptr
                      ? psprintf("Its replica identity is index %s, which serves logical replication.",
                                 RelationName(identity->indexrelid))
                      : "Its replica identity names an index that is gone or invalid: logical replication cannot "
                        "replicate its UPDATE and DELETE.";
        break;
      case REPLICA_IDENTITY_NOTHING:
        replica = "Its replica identity is NOTHING: logical replication cannot replicate its UPDATE and DELETE.";
        replicable = false;
        break;
      default:
        replica = "Its replica identity is DEFAULT, which without a primary key means none: logical replication "
                  "cannot replicate its UPDATE and DELETE.";
        replicable = false;
        break;
    }
    const char *severity = published ? (replicable ? (rel->replident == REPLICA_IDENTITY_FULL ? "medium" : "low")
                                                   : "high")
                                     : "low";
    Emit(run, CheckId::TableWithoutPrimaryKey, severity, rel->relid, nullptr,
         psprintf("%s %s has no primary key%s. %s%s%s",
                  rel->relkind == RELKIND_PARTITIONED_TABLE ? "Partitioned table" : "Table", RelationName(rel->relid),
                  rel->relkind == RELKIND_PARTITIONED_TABLE ? " (nor, through it, do its partitions)" : "", replica,
                  published ? (replicable ? " A publication replicates its changes."
                                          : " A publication replicates its UPDATE and DELETE: they fail with an error.")
                            : "",
                  promotable != nullptr
                      ? psprintf(" Unique index %s on NOT NULL columns can become the primary key without a scan.",
                                 RelationName(promotable->indexrelid))
                      : ""),
         promotable != nullptr ? psprintf("ALTER TABLE %s ADD PRIMARY KEY USING INDEX %s;", RelationName(rel->relid),
                                          quote_identifier(get_rel_name(promotable->indexrelid)))
                               : nullptr);
  }
}

}  // namespace

IndexPass *ReadIndexes(AuditRun *run) {
  if (!NeedIndexes(*run)) return nullptr;
  auto *pass = static_cast<IndexPass *>(palloc0(sizeof(IndexPass)));
  HASHCTL ctl = {};
  ctl.keysize = sizeof(Oid);
  ctl.entrysize = sizeof(TableEntry);
  ctl.hcxt = CurrentMemoryContext;
  pass->tables = hash_create("schema_guard audit index tables", 4096, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
  ctl.entrysize = sizeof(IndexEntry);
  pass->indexes = hash_create("schema_guard audit indexes", 4096, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

  Relation pg_index = table_open(IndexRelationId, AccessShareLock);
  TupleDesc desc = RelationGetDescr(pg_index);
  SysScanDesc scan = systable_beginscan(pg_index, InvalidOid, false, nullptr, 0, nullptr);
  HeapTuple tuple;
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    auto *form = reinterpret_cast<Form_pg_index>(GETSTRUCT(tuple));
    const RelationFacts *table = FindRelation(*run, form->indrelid);
    const RelationFacts *index = FindRelation(*run, form->indexrelid);
    if (table == nullptr || index == nullptr || !table->in_scope) continue;
    Datum values[Natts_pg_index];
    bool nulls[Natts_pg_index];
    heap_deform_tuple(tuple, desc, values, nulls);
    auto *ix = static_cast<IndexFacts *>(palloc0(sizeof(IndexFacts)));
    ix->indexrelid = form->indexrelid;
    ix->relid = form->indrelid;
    ix->am = index->am;
    ix->relkind = index->relkind;
    ix->natts = form->indnatts;
    ix->nkeyatts = form->indnkeyatts;
    ix->keys = Copy(form->indkey.values, form->indnatts);
    ix->classes = Copy(reinterpret_cast<oidvector *>(DatumGetPointer(values[Anum_pg_index_indclass - 1]))->values,
                       form->indnkeyatts);
    ix->collations = Copy(
        reinterpret_cast<oidvector *>(DatumGetPointer(values[Anum_pg_index_indcollation - 1]))->values,
        form->indnkeyatts);
    ix->options = Copy(reinterpret_cast<int2vector *>(DatumGetPointer(values[Anum_pg_index_indoption - 1]))->values,
                       form->indnkeyatts);
    ix->unique = form->indisunique;
    ix->primary = form->indisprimary;
    ix->exclusion = form->indisexclusion;
    ix->immediate = form->indimmediate;
    ix->replident = form->indisreplident;
    ix->clustered = form->indisclustered;
    ix->nulls_not_distinct = form->indnullsnotdistinct;
    ix->valid = form->indisvalid;
    ix->ready = form->indisready;
    ix->live = form->indislive;
    ix->attached = index->ispartition;
    if (!nulls[Anum_pg_index_indexprs - 1]) ix->exprs_text = TextDatumGetCString(values[Anum_pg_index_indexprs - 1]);
    if (!nulls[Anum_pg_index_indpred - 1]) ix->pred_text = TextDatumGetCString(values[Anum_pg_index_indpred - 1]);
    bool found;
    auto *t = static_cast<TableEntry *>(hash_search(pass->tables, &ix->relid, HASH_ENTER, &found));
    if (!found) {
      t->first = nullptr;
      t->count = 0;
    }
    ix->next = t->first;
    t->first = ix;
    t->count++;
    auto *e = static_cast<IndexEntry *>(hash_search(pass->indexes, &ix->indexrelid, HASH_ENTER, &found));
    e->index = ix;
  }
  systable_endscan(scan);
  table_close(pg_index, AccessShareLock);

  for (int i = 0; i < run->n_constraints; i++) {
    const ConstraintFacts &c = run->constraints[i];
    if (!OidIsValid(c.conindid)) continue;
    auto *e = static_cast<IndexEntry *>(hash_search(pass->indexes, &c.conindid, HASH_FIND, nullptr));
    if (e == nullptr) continue;
    if (c.contype == CONSTRAINT_FOREIGN) {
      if (e->index->referenced_by == nullptr) e->index->referenced_by = c.conname;
    } else if (c.conrelid == e->index->relid) {
      e->index->constraint = c.oid;
      e->index->constraint_type = c.contype;
      e->index->constraint_name = c.conname;
    }
  }
  // the columns of unique indexes, for the primary-key fix
  if (Enabled(*run, CheckId::TableWithoutPrimaryKey)) {
    HASH_SEQ_STATUS seq;
    hash_seq_init(&seq, pass->indexes);
    IndexEntry *e;
    while ((e = static_cast<IndexEntry *>(hash_seq_search(&seq))) != nullptr)
      if (e->index->unique && !e->index->primary && e->index->exprs_text == nullptr)
        for (int k = 0; k < e->index->nkeyatts; k++)
          if (e->index->keys[k] > 0) RequestAttribute(run, e->index->relid, e->index->keys[k]);
  }
  return pass;
}

void RunIndexChecks(AuditRun *run, IndexPass *pass) {
  if (pass == nullptr) return;
  int n_locked = 0;
  const Oid *locked = nullptr;
  HASH_SEQ_STATUS seq;
  TableEntry *table;
  if (Enabled(*run, CheckId::InvalidIndex)) {
    bool any_invalid = false;
    hash_seq_init(&seq, pass->tables);
    while ((table = static_cast<TableEntry *>(hash_seq_search(&seq))) != nullptr)
      for (IndexFacts *ix = table->first; ix != nullptr; ix = ix->next) any_invalid |= !ix->valid;
    if (any_invalid) locked = RelationsLockedByOthers(&n_locked);
  }
  hash_seq_init(&seq, pass->tables);
  while ((table = static_cast<TableEntry *>(hash_seq_search(&seq))) != nullptr) {
    if (table->count > 1 && (Enabled(*run, CheckId::DuplicateIndex) || Enabled(*run, CheckId::RedundantIndex))) {
      // marks exact twins, which the redundancy check then leaves to this one
      CheckDuplicates(run, table, Enabled(*run, CheckId::DuplicateIndex));
      if (Enabled(*run, CheckId::RedundantIndex)) CheckRedundant(run, table);
    }
    if (Enabled(*run, CheckId::InvalidIndex)) CheckInvalid(run, table, locked, n_locked);
  }
  if (Enabled(*run, CheckId::TableWithoutPrimaryKey)) CheckPrimaryKeys(run, pass);
}

}  // namespace schema_guard::audit
