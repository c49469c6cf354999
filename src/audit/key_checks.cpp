// audit(): constraints left NOT VALID, foreign keys whose column types differ
// from the referenced ones, duplicate foreign keys, and sequences close to
// the end of their range (their own, or of the columns they feed).
#include "audit/audit.hpp"

namespace schema_guard::audit {

struct FedColumn {
  Oid relid;
  int16 attnum;
  Oid constraint;  // InvalidOid for a column the sequence feeds, else the FK that references one
};

struct SequenceFacts {
  Oid seqid;
  Oid seqtype;
  int64 start, increment, max, min;
  bool cycle;
  List *columns;  // of FedColumn *
};

struct KeyPass {
  List *sequences;  // of SequenceFacts *
};

static_assert(std::is_trivially_destructible_v<FedColumn>);
static_assert(std::is_trivially_destructible_v<SequenceFacts>);

namespace {

bool InScopeRelation(const AuditRun &run, Oid relid) {
  const RelationFacts *rel = FindRelation(run, relid);
  return rel != nullptr && rel->in_scope;
}

// ---- NOT VALID

void CheckNotValid(AuditRun *run) {
  for (int i = 0; i < run->n_constraints; i++) {
    const ConstraintFacts &c = run->constraints[i];
    if (c.validated || (c.contype != CONSTRAINT_CHECK && c.contype != CONSTRAINT_FOREIGN) ||
        OidIsValid(c.conparentid) || !c.islocal)
      continue;  // partition clones and inherited copies are reported where they were defined
    if (OidIsValid(c.conrelid)) {
      if (!InScopeRelation(*run, c.conrelid)) continue;
      const char *table = RelationName(c.conrelid);
      Emit(run, CheckId::NotValidConstraint, "low", c.conrelid, quote_identifier(c.conname),
           psprintf("%s constraint %s on %s was added NOT VALID and never validated: rows written before it may "
                    "violate it%s. VALIDATE CONSTRAINT scans %s under SHARE UPDATE EXCLUSIVE: reads and writes go on%s.",
                    c.contype == CONSTRAINT_FOREIGN ? "Foreign key" : "Check", quote_identifier(c.conname), table,
                    c.contype == CONSTRAINT_CHECK ? ", and the planner cannot use it (constraint exclusion, "
                                                    "ATTACH PARTITION and SET NOT NULL still scan)"
                                                  : "",
                    table,
                    c.contype == CONSTRAINT_FOREIGN ? psprintf(" (%s gets ROW SHARE)", RelationName(c.confrelid)) : ""),
           psprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s;", table, quote_identifier(c.conname)));
    } else if (OidIsValid(c.contypid)) {
      if (!NamespaceInScope(*run, c.nsp)) continue;
      const char *domain = format_type_extended(c.contypid, -1, FORMAT_TYPE_ALLOW_INVALID | FORMAT_TYPE_FORCE_QUALIFY);
      Emit(run, CheckId::NotValidConstraint, "low", InvalidOid, quote_identifier(c.conname),
           psprintf("Check constraint %s on domain %s was added NOT VALID and never validated: values stored before "
                    "it may violate it. ALTER DOMAIN ... VALIDATE CONSTRAINT scans every column of the domain "
                    "under SHARE lock, which blocks writes to those tables while it runs.",
                    quote_identifier(c.conname), domain),
           psprintf("ALTER DOMAIN %s VALIDATE CONSTRAINT %s;", domain, quote_identifier(c.conname)));
    }
  }
}

// ---- foreign key column types

int IntegerRank(Oid type) {
  switch (type) {
    case INT2OID: return 1;
    case INT4OID: return 2;
    case INT8OID: return 3;
    default: return 0;
  }
}

int SeverityRank(const char *severity) {
  return strcmp(severity, "high") == 0 ? 3 : (strcmp(severity, "medium") == 0 ? 2 : 1);
}

void CheckForeignKeyTypes(AuditRun *run) {
  StringInfoData buf;
  initStringInfo(&buf);
  for (int i = 0; i < run->n_constraints; i++) {
    const ConstraintFacts &c = run->constraints[i];
    if (c.contype != CONSTRAINT_FOREIGN || c.n == 0 || OidIsValid(c.conparentid) || !InScopeRelation(*run, c.conrelid))
      continue;
    resetStringInfo(&buf);
    const char *severity = nullptr;
    for (int k = 0; k < c.n; k++) {
      const AttributeFacts *fk = FindAttribute(*run, c.conrelid, c.conkey[k]);
      const AttributeFacts *pk = FindAttribute(*run, c.confrelid, c.confkey[k]);
      if (fk == nullptr || pk == nullptr || (fk->typid == pk->typid && fk->typmod == pk->typmod)) continue;
      int32 fk_typmod = fk->typmod, pk_typmod = pk->typmod;
      const Oid fk_base = BaseType(fk->typid, &fk_typmod);
      const Oid pk_base = BaseType(pk->typid, &pk_typmod);
      if (fk_base == pk_base && fk_typmod == pk_typmod) continue;
      // varchar and text and the like: the same values, nothing converted
      const bool fits = fk_typmod == -1 || (pk_typmod != -1 && fk_typmod >= pk_typmod);
      if (fits && IsBinaryCoercible(fk_base, pk_base) && IsBinaryCoercible(pk_base, fk_base)) continue;
      const char *fk_col = ColumnList(c.conrelid, &c.conkey[k], 1);
      const char *pk_col = ColumnList(c.confrelid, &c.confkey[k], 1);
      const Oid probe_type = OperatorRightType(c.pfeqop[k]);
      const char *column_severity;
      const char *consequence;
      if (OidIsValid(probe_type) && !IsBinaryCoercible(fk_base, probe_type)) {
        column_severity = "high";
        consequence = psprintf("the RI check of every DELETE or key UPDATE on %s compares %s::%s, so no index on "
                               "%s can serve it",
                               RelationName(c.confrelid), fk_col, TypeName(probe_type), fk_col);
      } else if (IntegerRank(fk_base) > 0 && IntegerRank(fk_base) < IntegerRank(pk_base)) {
        column_severity = "medium";
        consequence = psprintf("keys above the largest %s cannot be referenced", TypeName(fk_base));
      } else {
        column_severity = "low";
        consequence = fits ? "every check converts the value"
                           : psprintf("a key value %s cannot hold cannot be referenced",
                                      TypeName(fk->typid, fk->typmod));
      }
      if (severity == nullptr || SeverityRank(column_severity) > SeverityRank(severity)) severity = column_severity;
      appendStringInfo(&buf, " Column %s is %s, referenced column %s.%s is %s: %s.", fk_col,
                       TypeName(fk->typid, fk->typmod), RelationName(c.confrelid), pk_col,
                       TypeName(pk->typid, pk->typmod), consequence);
    }
    if (severity == nullptr) continue;
    Emit(run, CheckId::ForeignKeyTypeMismatch, severity, c.conrelid, quote_identifier(c.conname),
         psprintf("Foreign key %s of %s references %s with columns of other types.%s Changing a column's type "
                  "rewrites its table: the team plans it.",
                  quote_identifier(c.conname), RelationName(c.conrelid), RelationName(c.confrelid), buf.data),
         nullptr);
  }
}

// ---- duplicate foreign keys

bool SamePairs(const ConstraintFacts &a, const ConstraintFacts &b) {
  if (a.n != b.n || a.confrelid != b.confrelid) return false;
  for (int k = 0; k < a.n; k++) {
    bool found = false;
    for (int j = 0; j < b.n && !found; j++) found = a.conkey[k] == b.conkey[j] && a.confkey[k] == b.confkey[j];
    if (!found) return false;
  }
  return true;
}

// Lower keeps: a partition clone (PostgreSQL owns it), a validated one, the older one.
int FkKeepOrder(const ConstraintFacts *a, const ConstraintFacts *b) {
  const int ra = OidIsValid(a->conparentid) ? 0 : (a->validated ? 1 : 2);
  const int rb = OidIsValid(b->conparentid) ? 0 : (b->validated ? 1 : 2);
  if (ra != rb) return ra < rb ? -1 : 1;
  return a->oid < b->oid ? -1 : (a->oid > b->oid ? 1 : 0);
}

const char *ActionClause(const ConstraintFacts &c) {
  auto action = [](char a) {
    switch (a) {
      case FKCONSTR_ACTION_RESTRICT: return "RESTRICT";
      case FKCONSTR_ACTION_CASCADE: return "CASCADE";
      case FKCONSTR_ACTION_SETNULL: return "SET NULL";
      case FKCONSTR_ACTION_SETDEFAULT: return "SET DEFAULT";
      default: return "NO ACTION";
    }
  };
  return psprintf("ON UPDATE %s ON DELETE %s%s%s", action(c.confupdtype), action(c.confdeltype),
                  c.confmatchtype == FKCONSTR_MATCH_FULL ? " MATCH FULL" : "",
                  c.deferrable ? (c.deferred ? " DEFERRABLE INITIALLY DEFERRED" : " DEFERRABLE") : "");
}

int CompareByTableThenKeep(const void *x, const void *y) {
  const ConstraintFacts *a = *static_cast<const ConstraintFacts *const *>(x);
  const ConstraintFacts *b = *static_cast<const ConstraintFacts *const *>(y);
  if (a->conrelid != b->conrelid) return a->conrelid < b->conrelid ? -1 : 1;
  return FkKeepOrder(a, b);
}

void CheckDuplicateForeignKeys(AuditRun *run) {
  // the foreign keys by table, then keep order
  const ConstraintFacts **fks =
      static_cast<const ConstraintFacts **>(palloc(sizeof(ConstraintFacts *) * (run->n_constraints + 1)));
  int n = 0;
  for (int i = 0; i < run->n_constraints; i++) {
    const ConstraintFacts &c = run->constraints[i];
    if (c.contype == CONSTRAINT_FOREIGN && c.n > 0 && InScopeRelation(*run, c.conrelid)) fks[n++] = &c;
  }
  qsort(fks, n, sizeof(ConstraintFacts *), CompareByTableThenKeep);
  bool *reported = static_cast<bool *>(palloc0(sizeof(bool) * (n + 1)));
  for (int i = 0; i < n; i++) {
    if (reported[i]) continue;
    for (int j = i + 1; j < n && fks[j]->conrelid == fks[i]->conrelid; j++) {
      if (reported[j] || !SamePairs(*fks[i], *fks[j])) continue;
      reported[j] = true;
      const ConstraintFacts &keep = *fks[i], &dup = *fks[j];
      if (OidIsValid(dup.conparentid)) continue;  // two clones: their parents are the duplicates
      const char *keep_actions = ActionClause(keep), *dup_actions = ActionClause(dup);
      const bool same = strcmp(keep_actions, dup_actions) == 0;
      const char *table = RelationName(dup.conrelid);
      Emit(run, CheckId::DuplicateForeignKey, "medium", dup.conrelid, quote_identifier(dup.conname),
           psprintf("Foreign key %s of %s (%s) references %s like %s does: every write to either table checks "
                    "both.%s",
                    quote_identifier(dup.conname), table, ColumnList(dup.conrelid, dup.conkey, dup.n),
                    RelationName(dup.confrelid), quote_identifier(keep.conname),
                    same ? ""
                         : psprintf(" Their actions differ (%s: %s; %s: %s): decide which behaviour is right, then "
                                    "drop the other.",
                                    quote_identifier(keep.conname), keep_actions, quote_identifier(dup.conname),
                                    dup_actions)),
           same ? psprintf("ALTER TABLE %s DROP CONSTRAINT %s;", table, quote_identifier(dup.conname)) : nullptr);
    }
  }
}

// ---- sequences

struct Limit {
  int64 value;
  const char *what;
};

int64 TypeMax(Oid type) {
  switch (BaseType(type)) {
    case INT2OID: return PG_INT16_MAX;
    case INT4OID: return PG_INT32_MAX;
    case INT8OID: return PG_INT64_MAX;
    default: return PG_INT64_MAX;  // numeric and others: the sequence's own bound decides
  }
}

int64 TypeMin(Oid type) {
  switch (BaseType(type)) {
    case INT2OID: return PG_INT16_MIN;
    case INT4OID: return PG_INT32_MIN;
    case INT8OID: return PG_INT64_MIN;
    default: return PG_INT64_MIN;
  }
}

// The sequence's last value under the caller's privileges (SELECT or USAGE,
// as pg_sequence_last_value() asks); false when it was never called, the
// caller may not read it, or DDL holds it right now.
//
// Read from the sequence's page like pg_sequence_last_value() does, but
// under an ACCESS SHARE lock taken without waiting and released at once:
// pg_sequence_last_value() takes ROW EXCLUSIVE, waiting for it, and keeps it
// until the caller's transaction ends (it is nextval()'s lock), which would
// queue the audit behind ALTER SEQUENCE and then hold that DDL up.
bool LastValue(Oid seqid, int64 *value) {
  constexpr uint32 kSequenceMagic = 0x1717;  // SEQ_MAGIC, commands/sequence.c
  bool missing = false;
  if (pg_class_aclcheck_ext(seqid, GetUserId(), ACL_SELECT | ACL_USAGE, &missing) != ACLCHECK_OK || missing)
    return false;
  if (!ConditionalLockRelationOid(seqid, AccessShareLock)) return false;
  bool ok = false;
  Relation rel = try_relation_open(seqid, NoLock);
  if (rel != nullptr) {
    if (rel->rd_rel->relkind == RELKIND_SEQUENCE && !RELATION_IS_OTHER_TEMP(rel) &&
        (RelationIsPermanent(rel) || !RecoveryInProgress()) && RelationGetNumberOfBlocks(rel) > 0) {
      Buffer buffer = ReadBuffer(rel, 0);
      LockBuffer(buffer, BUFFER_LOCK_SHARE);
      Page page = BufferGetPage(buffer);
      const uint32 magic = *reinterpret_cast<uint32 *>(PageGetSpecialPointer(page));
      if (magic == kSequenceMagic && PageGetMaxOffsetNumber(page) >= FirstOffsetNumber) {
        ItemId item = PageGetItemId(page, FirstOffsetNumber);
        if (ItemIdIsNormal(item)) {
          HeapTupleData tuple;
          tuple.t_data = reinterpret_cast<HeapTupleHeader>(PageGetItem(page, item));
          tuple.t_len = ItemIdGetLength(item);
          const auto *data = reinterpret_cast<Form_pg_sequence_data>(GETSTRUCT(&tuple));
          ok = data->is_called;
          *value = data->last_value;
        }
      }
      UnlockReleaseBuffer(buffer);
    }
    relation_close(rel, NoLock);
  }
  UnlockRelationOid(seqid, AccessShareLock);
  return ok;
}

void CheckSequence(AuditRun *run, const SequenceFacts &s) {
  int64 last;
  if (!LastValue(s.seqid, &last)) return;
  const bool up = s.increment > 0;
  // the bound the sequence stops at (a cycling one wraps instead) and the
  // column bounds it overflows first
  Limit limit = {up ? s.max : s.min, s.cycle ? nullptr : "its own bound"};
  if (s.cycle) limit.value = up ? PG_INT64_MAX : PG_INT64_MIN;
  bool columns_bind = false;
  bool all_bigint = true;
  ListCell *cell;
  foreach (cell, s.columns) {
    const auto *col = static_cast<const FedColumn *>(lfirst(cell));
    const AttributeFacts *a = FindAttribute(*run, col->relid, col->attnum);
    if (a == nullptr) continue;
    all_bigint &= BaseType(a->typid) == INT8OID || IntegerRank(BaseType(a->typid)) == 0;
    const int64 bound = up ? TypeMax(a->typid) : TypeMin(a->typid);
    // a narrow column that only matches the sequence's bound binds too:
    // widening the sequence would not help it
    const bool narrow = IntegerRank(BaseType(a->typid)) == 1 || IntegerRank(BaseType(a->typid)) == 2;
    if (up ? (bound < limit.value || (narrow && bound == limit.value && !columns_bind))
           : (bound > limit.value || (narrow && bound == limit.value && !columns_bind))) {
      const char *column = psprintf("%s.%s (%s)", RelationName(col->relid), ColumnList(col->relid, &col->attnum, 1),
                                    TypeName(a->typid));
      limit = {bound, OidIsValid(col->constraint)
                          ? psprintf("foreign key column %s, which references a column the sequence feeds", column)
                          : psprintf("column %s", column)};
      columns_bind = true;
    }
  }
  if (limit.what == nullptr) return;  // cycles within every column's range
  const int64 origin = up ? s.min : s.max;
  const long double range = static_cast<long double>(limit.value) - static_cast<long double>(origin);
  const long double used = (static_cast<long double>(last) - static_cast<long double>(origin)) / range;
  if (range == 0 || used < 0.5L) return;
  const char *severity = used >= 0.9L ? "high" : (used >= 0.75L ? "medium" : "low");
  const char *name = RelationName(s.seqid);
  const char *fix = nullptr;
  if (!columns_bind && up && all_bigint)
    fix = psprintf("ALTER SEQUENCE %s AS bigint MAXVALUE %lld;", name, static_cast<long long>(PG_INT64_MAX));
  Emit(run, CheckId::SequenceOverflow, severity, s.seqid, name,
       psprintf("Sequence %s is at %lld, %d%% of the way from %lld to %lld, the %s of %s; %lld values remain.%s",
                name, static_cast<long long>(last), static_cast<int>(used * 100), static_cast<long long>(origin),
                static_cast<long long>(limit.value), up ? "largest value" : "smallest value", limit.what,
                static_cast<long long>((static_cast<long double>(limit.value) - last) / s.increment),
                columns_bind ? " Widening the column to bigint rewrites its table (and those of the foreign keys "
                               "referencing it): the team plans it."
                             : ""),
       fix);
}

// The columns a sequence feeds: owned ones (serial, identity) and those whose
// default calls nextval() on it.
List *FedColumns(Oid seqid) {
  List *columns = NIL;
  Relation pg_depend = table_open(DependRelationId, AccessShareLock);
  ScanKeyData keys[2];
  ScanKeyInit(&keys[0], Anum_pg_depend_classid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(RelationRelationId));
  ScanKeyInit(&keys[1], Anum_pg_depend_objid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(seqid));
  SysScanDesc scan = systable_beginscan(pg_depend, DependDependerIndexId, true, nullptr, 2, keys);
  HeapTuple tuple;
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    auto *form = reinterpret_cast<Form_pg_depend>(GETSTRUCT(tuple));
    if (form->refclassid != RelationRelationId || form->refobjsubid <= 0 ||
        (form->deptype != DEPENDENCY_AUTO && form->deptype != DEPENDENCY_INTERNAL))
      continue;
    auto *col = static_cast<FedColumn *>(palloc(sizeof(FedColumn)));
    *col = {form->refobjid, static_cast<int16>(form->refobjsubid), InvalidOid};
    columns = lappend(columns, col);
  }
  systable_endscan(scan);
  ScanKeyInit(&keys[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
              ObjectIdGetDatum(RelationRelationId));
  ScanKeyInit(&keys[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(seqid));
  scan = systable_beginscan(pg_depend, DependReferenceIndexId, true, nullptr, 2, keys);
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    auto *form = reinterpret_cast<Form_pg_depend>(GETSTRUCT(tuple));
    if (form->classid != AttrDefaultRelationId) continue;
    const ObjectAddress column = GetAttrDefaultColumnAddress(form->objid);
    if (!OidIsValid(column.objectId)) continue;
    bool known = false;
    ListCell *cell;
    foreach (cell, columns) {
      const auto *c = static_cast<const FedColumn *>(lfirst(cell));
      known |= c->relid == column.objectId && c->attnum == column.objectSubId;
    }
    if (known) continue;
    auto *col = static_cast<FedColumn *>(palloc(sizeof(FedColumn)));
    *col = {column.objectId, static_cast<int16>(column.objectSubId), InvalidOid};
    columns = lappend(columns, col);
  }
  systable_endscan(scan);
  table_close(pg_depend, AccessShareLock);
  return columns;
}

List *ReadSequences(AuditRun *run) {
  List *sequences = NIL;
  Relation pg_sequence = table_open(SequenceRelationId, AccessShareLock);
  SysScanDesc scan = systable_beginscan(pg_sequence, InvalidOid, false, nullptr, 0, nullptr);
  HeapTuple tuple;
  while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
    auto *form = reinterpret_cast<Form_pg_sequence>(GETSTRUCT(tuple));
    if (!InScopeRelation(*run, form->seqrelid)) continue;
    auto *s = static_cast<SequenceFacts *>(palloc0(sizeof(SequenceFacts)));
    s->seqid = form->seqrelid;
    s->seqtype = form->seqtypid;
    s->start = form->seqstart;
    s->increment = form->seqincrement;
    s->max = form->seqmax;
    s->min = form->seqmin;
    s->cycle = form->seqcycle;
    sequences = lappend(sequences, s);
  }
  systable_endscan(scan);
  table_close(pg_sequence, AccessShareLock);
  ListCell *cell;
  foreach (cell, sequences) {
    auto *s = static_cast<SequenceFacts *>(lfirst(cell));
    s->columns = FedColumns(s->seqid);
    // the foreign key columns that reference a fed column
    const int fed = list_length(s->columns);
    for (int f = 0; f < fed; f++) {
      const FedColumn feeds = *static_cast<FedColumn *>(list_nth(s->columns, f));
      RequestAttribute(run, feeds.relid, feeds.attnum);
      ListCell *fk;
      foreach (fk, ForeignKeysReferencing(*run, feeds.relid)) {
        const ConstraintFacts &c = run->constraints[lfirst_int(fk)];
        if (OidIsValid(c.conparentid)) continue;  // partition clones repeat their parent's columns
        for (int k = 0; k < c.n; k++) {
          if (c.confkey[k] != feeds.attnum) continue;
          auto *col = static_cast<FedColumn *>(palloc(sizeof(FedColumn)));
          *col = {c.conrelid, c.conkey[k], c.oid};
          s->columns = lappend(s->columns, col);
          RequestAttribute(run, c.conrelid, c.conkey[k]);
        }
      }
    }
  }
  return sequences;
}

}  // namespace

KeyPass *PrepareKeyChecks(AuditRun *run) {
  auto *pass = static_cast<KeyPass *>(palloc0(sizeof(KeyPass)));
  if (Enabled(*run, CheckId::ForeignKeyTypeMismatch))
    for (int i = 0; i < run->n_constraints; i++) {
      const ConstraintFacts &c = run->constraints[i];
      if (c.contype != CONSTRAINT_FOREIGN || OidIsValid(c.conparentid) || !InScopeRelation(*run, c.conrelid)) continue;
      for (int k = 0; k < c.n; k++) {
        RequestAttribute(run, c.conrelid, c.conkey[k]);
        RequestAttribute(run, c.confrelid, c.confkey[k]);
      }
    }
  if (Enabled(*run, CheckId::SequenceOverflow)) pass->sequences = ReadSequences(run);
  return pass;
}

void RunKeyChecks(AuditRun *run, KeyPass *pass) {
  if (Enabled(*run, CheckId::NotValidConstraint)) CheckNotValid(run);
  if (Enabled(*run, CheckId::ForeignKeyTypeMismatch)) CheckForeignKeyTypes(run);
  if (Enabled(*run, CheckId::DuplicateForeignKey)) CheckDuplicateForeignKeys(run);
  ListCell *cell;
  foreach (cell, pass->sequences) CheckSequence(run, *static_cast<const SequenceFacts *>(lfirst(cell)));
}

}  // namespace schema_guard::audit
