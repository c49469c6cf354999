// The psql script reader.  It follows psql 15's own lexers (psqlscan.l for SQL,
// psqlscanslash.l for meta-command arguments) and MainLoop() for what happens
// between statements; the comments name the psql behaviour each part reproduces.
#include "script/psql_reader.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace schema_guard::script {

namespace {

constexpr size_t kNone = static_cast<size_t>(-1);
constexpr int kMaxIncludeDepth = 64;
constexpr int kQueueSize = 4;

struct Buf {
  char *data;
  size_t len;
  size_t cap;
};

struct Var {
  char *name;
  char *value;
};

// psql's ifState (fe_utils/conditional.h).
enum class Cond : uint8_t { True, False, Ignored, ElseTrue, ElseFalse };

enum class Lex : uint8_t { Normal, Quote, ExtQuote, Dollar, Ident, Comment };

struct Cursor {
  size_t offset;
  int line;
  int column;
};

// psql's query buffer, its lexer state and its previous query: MainLoop has its own for
// each file, so a file included in the middle of a statement starts with an empty
// buffer and the outer statement goes on after it.
struct QueryBuffer {
  Buf stmt;
  Segment *segs;
  size_t nsegs;
  size_t segs_cap;
  bool has_first;
  bool has_start;
  Position first;
  Position start;
  int paren_depth;
  int begin_depth;
  char identifiers[4];
  int identifier_count;
  Buf previous;  // the last query sent (\g with an empty buffer sends it again)
};

struct Source {
  const SourceFile *file;  // the file (for a variable: the file that names it)
  const char *text;
  size_t len;
  size_t pos;
  bool is_variable;
  const char *var_name;  // variable sources: owned copy of the name
  char *owned;           // variable sources: owned copy of the value
  size_t origin;         // variable sources: offset of the ':' in the file
  int file_index;        // index of the innermost file source (itself for files)
  // file sources only
  Cursor cursor;        // positions are computed forwards from here
  size_t copy_skip_at;  // COPY ... FROM stdin data starts at this line (kNone: none)
  int cond_base;        // \if stack height when the file started (psql: one stack per file)
  QueryBuffer *outer;   // the including file's query buffer, restored at the end of this one
};

struct Queued {
  Item item;
  Buf own;  // text storage for notes
};

}  // namespace

struct Reader {
  ReaderOptions opt;
  CharLengthFn char_length;
  Source *stack;
  int depth;
  int stack_cap;
  Cond *cond;
  int cond_depth;
  int cond_cap;
  Var *vars;
  int nvars;
  int vars_cap;
  // the statement being collected (psql's query buffer)
  Buf stmt;
  Segment *segs;
  size_t nsegs;
  size_t segs_cap;
  bool stmt_has_first;
  bool stmt_has_start;
  Position stmt_first;  // first byte of the buffer
  Position stmt_start;  // first token
  bool reset_pending;
  QueryBuffer *restore_pending;  // restored once the statement sent at the end of a file is consumed
  Buf previous;                  // the last query sent from the current file
  bool std_strings;              // standard_conforming_strings as psql knows it
  // lexer state (psqlscan.l's PsqlScanStateData)
  Lex lex;
  int paren_depth;
  int begin_depth;
  int comment_depth;
  char identifiers[4];
  int identifier_count;
  Buf dollar_tag;
  // output
  Queued queue[kQueueSize];
  int queue_head;
  int queue_len;
  Buf scratch;
  bool quit;
};

namespace {

// ------------------------------------------------------------------ memory

void *Alloc(const Reader *r, size_t n) { return r->opt.allocator->allocate(n == 0 ? 1 : n); }

void Reserve(const Reader *r, Buf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra + 1) cap *= 2;
  b->data = static_cast<char *>(b->data ? r->opt.allocator->reallocate(b->data, cap) : Alloc(r, cap));
  b->cap = cap;
}

void BufAppend(const Reader *r, Buf *b, const char *s, size_t n) {
  Reserve(r, b, n);
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void BufSet(const Reader *r, Buf *b, const char *s) {
  b->len = 0;
  BufAppend(r, b, s, strlen(s));
}

char *Strdup(const Reader *r, const char *s, size_t n) {
  auto *p = static_cast<char *>(Alloc(r, n + 1));
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

void Release(const Reader *r, void *p) {
  if (p != nullptr) r->opt.allocator->release(p);
}

// ------------------------------------------------------------------ characters

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool IsHighBit(char c) { return (static_cast<unsigned char>(c) & 0x80) != 0; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
// psqlscan.l: ident_start [A-Za-z\200-\377_], ident_cont adds [0-9\$]
bool IdentStart(char c) { return IsAlpha(c) || c == '_' || IsHighBit(c); }
bool IdentCont(char c) { return IdentStart(c) || IsDigit(c) || c == '$'; }
// dolq_start [A-Za-z\200-\377_], dolq_cont adds [0-9]
bool DolqCont(char c) { return IdentStart(c) || IsDigit(c); }
// variable_char [A-Za-z\200-\377_0-9]
bool VarChar(char c) { return IdentStart(c) || IsDigit(c); }
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsNoCase(const char *s, size_t n, const char *word) {
  const size_t w = strlen(word);
  if (n != w) return false;
  for (size_t i = 0; i < n; i++)
    if (Lower(s[i]) != word[i]) return false;
  return true;
}

// ------------------------------------------------------------------ positions

void AdvanceCursor(const Reader *r, const SourceFile *file, Cursor *c, size_t target) {
  if (target > file->length) target = file->length;
  if (target < c->offset) *c = Cursor{0, 1, 1};
  const auto *text = reinterpret_cast<const unsigned char *>(file->text);
  size_t i = c->offset;
  int line = c->line, column = c->column;
  while (i < target) {
    const unsigned char ch = text[i];
    if (ch == '\n') {
      line++;
      column = 1;
      i++;
    } else if (ch < 0x80) {
      column++;
      i++;
    } else {
      int n = r->char_length(text + i);
      if (n < 1) n = 1;
      column++;
      i += static_cast<size_t>(n);
    }
  }
  *c = Cursor{i, line, column};
}

Source &Top(Reader *r) { return r->stack[r->depth - 1]; }
Source &FileOf(Reader *r, const Source &s) { return r->stack[s.file_index]; }

// Where the byte at the source's current position comes from in its file.
size_t FileOffset(const Source &s, size_t pos) { return s.is_variable ? s.origin : pos; }

Position PositionAt(Reader *r, const Source &s, size_t pos) {
  Source &f = FileOf(r, s);
  const size_t offset = FileOffset(s, pos);
  AdvanceCursor(r, f.file, &f.cursor, offset);
  return Position{f.file, offset, f.cursor.line, f.cursor.column};
}

// ------------------------------------------------------------------ variables

Var *FindVar(Reader *r, const char *name, size_t n) {
  for (int i = 0; i < r->nvars; i++)
    if (strlen(r->vars[i].name) == n && memcmp(r->vars[i].name, name, n) == 0) return &r->vars[i];
  return nullptr;
}

const char *VarValue(Reader *r, const char *name, size_t n) {
  Var *v = FindVar(r, name, n);
  return v ? v->value : nullptr;
}

void SetVar(Reader *r, const char *name, const char *value) {
  const size_t n = strlen(name);
  Var *v = FindVar(r, name, n);
  if (v == nullptr) {
    if (r->nvars == r->vars_cap) {
      const int cap = r->vars_cap ? r->vars_cap * 2 : 16;
      auto *vars = static_cast<Var *>(Alloc(r, sizeof(Var) * static_cast<size_t>(cap)));
      if (r->nvars) memcpy(vars, r->vars, sizeof(Var) * static_cast<size_t>(r->nvars));
      Release(r, r->vars);
      r->vars = vars;
      r->vars_cap = cap;
    }
    v = &r->vars[r->nvars++];
    v->name = Strdup(r, name, n);
    v->value = nullptr;
  }
  Release(r, v->value);
  v->value = Strdup(r, value, strlen(value));
}

void UnsetVar(Reader *r, const char *name) {
  Var *v = FindVar(r, name, strlen(name));
  if (v == nullptr) return;
  Release(r, v->name);
  Release(r, v->value);
  *v = r->vars[--r->nvars];
}

bool VarBool(Reader *r, const char *name) {
  const char *v = VarValue(r, name, strlen(name));
  bool b = false;
  return v != nullptr && ParseBool(v, &b) && b;
}

// Is the variable being expanded already (psql refuses recursive expansion)?
bool ExpandingVar(const Reader *r, const char *name, size_t n) {
  for (int i = 0; i < r->depth; i++)
    if (r->stack[i].is_variable && strlen(r->stack[i].var_name) == n && memcmp(r->stack[i].var_name, name, n) == 0)
      return true;
  return false;
}

// PQescapeLiteral / PQescapeIdentifier for :'var' and :"var".
void AppendEscaped(Reader *r, Buf *b, const char *value, bool literal) {
  const char quote = literal ? '\'' : '"';
  bool backslash = false;
  if (literal)
    for (const char *p = value; *p; p++) backslash |= *p == '\\';
  if (backslash) BufAppend(r, b, " E", 2);
  BufAppend(r, b, &quote, 1);
  for (const char *p = value; *p; p++) {
    if (*p == quote || (backslash && *p == '\\')) BufAppend(r, b, p, 1);
    BufAppend(r, b, p, 1);
  }
  BufAppend(r, b, &quote, 1);
}

// ------------------------------------------------------------------ conditionals

bool CondActive(const Reader *r) {
  return r->cond_depth == 0 || r->cond[r->cond_depth - 1] == Cond::True || r->cond[r->cond_depth - 1] == Cond::ElseTrue;
}

void PushCond(Reader *r, Cond c) {
  if (r->cond_depth == r->cond_cap) {
    const int cap = r->cond_cap ? r->cond_cap * 2 : 16;
    auto *cond = static_cast<Cond *>(Alloc(r, sizeof(Cond) * static_cast<size_t>(cap)));
    if (r->cond_depth) memcpy(cond, r->cond, sizeof(Cond) * static_cast<size_t>(r->cond_depth));
    Release(r, r->cond);
    r->cond = cond;
    r->cond_cap = cap;
  }
  r->cond[r->cond_depth++] = c;
}

// ------------------------------------------------------------------ items

Queued *Enqueue(Reader *r, ItemKind kind, const Position &where) {
  Queued *q = &r->queue[(r->queue_head + r->queue_len) % kQueueSize];
  r->queue_len++;
  q->item = Item{};
  q->item.kind = kind;
  q->item.where = where;
  q->item.on_error_stop = VarBool(r, "ON_ERROR_STOP");
  q->item.autocommit = VarBool(r, "AUTOCOMMIT");
  return q;
}

void Note(Reader *r, const Position &where, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void Note(Reader *r, const Position &where, const char *fmt, ...) {
  if (r->queue_len == kQueueSize) return;  // cannot happen: at most three items per step
  Queued *q = Enqueue(r, ItemKind::Note, where);
  q->own.len = 0;
  va_list ap;
  va_start(ap, fmt);
  char text[1024];
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  BufSet(r, &q->own, text);
  q->item.text = q->own.data;
  q->item.length = q->own.len;
}

void ResetStatement(Reader *r) {
  r->stmt.len = 0;
  if (r->stmt.data) r->stmt.data[0] = '\0';
  r->nsegs = 0;
  r->stmt_has_first = r->stmt_has_start = false;
  // psql_scan_reset()
  r->paren_depth = r->begin_depth = r->identifier_count = 0;
}

// The statement is COPY ... FROM STDIN: psql then reads its data from the script.
bool IsCopyFromStdin(const char *s, size_t n) {
  size_t i = 0;
  int words = 0;
  bool copy = false, from = false;
  while (i < n) {
    const char c = s[i];
    if (c == '\'' || c == '"') {  // skip quoted text
      const char q = c;
      for (i++; i < n; i++)
        if (s[i] == q) {
          if (i + 1 < n && s[i + 1] == q) i++;
          else break;
        }
      i++;
      from = false;
      words++;
    } else if (IdentStart(c)) {
      const size_t b = i;
      while (i < n && IdentCont(s[i])) i++;
      if (words == 0) copy = EqualsNoCase(s + b, i - b, "copy");
      else if (copy && from && EqualsNoCase(s + b, i - b, "stdin")) return true;
      from = EqualsNoCase(s + b, i - b, "from");
      words++;
      if (!copy) return false;
    } else if (c == '-' && i + 1 < n && s[i + 1] == '-') {
      while (i < n && s[i] != '\n') i++;
    } else {
      if (!IsSpace(c)) from = false, words++;
      i++;
      if (!copy && words > 0) return false;
    }
  }
  return false;
}

// The next word of a statement (letters, digits, '_', or one other character; quotes
// around it dropped), skipping spaces and comments; *p moves past it.
size_t NextWord(const char *s, size_t n, size_t *p, char *out, size_t cap) {
  size_t i = *p;
  for (;;) {
    while (i < n && IsSpace(s[i])) i++;
    if (i + 1 < n && s[i] == '-' && s[i + 1] == '-') {
      while (i < n && s[i] != '\n') i++;
    } else if (i + 1 < n && s[i] == '/' && s[i + 1] == '*') {
      const char *e = nullptr;
      for (size_t j = i + 2; j + 1 < n; j++)
        if (s[j] == '*' && s[j + 1] == '/') {
          e = s + j;
          break;
        }
      i = e ? static_cast<size_t>(e - s) + 2 : n;
    } else {
      break;
    }
  }
  size_t len = 0;
  if (i < n && (s[i] == '\'' || s[i] == '"')) {
    const char q = s[i++];
    while (i < n && s[i] != q) {
      if (len + 1 < cap) out[len++] = Lower(s[i]);
      i++;
    }
    if (i < n) i++;
  } else if (i < n && IdentCont(s[i])) {
    while (i < n && IdentCont(s[i])) {
      if (len + 1 < cap) out[len++] = Lower(s[i]);
      i++;
    }
  } else if (i < n) {
    out[len++] = s[i++];
  }
  out[len] = '\0';
  *p = i;
  return len;
}

// psql learns standard_conforming_strings from the server after each statement: the
// script's SET [SESSION] standard_conforming_strings, RESET of it and RESET ALL change
// how psql reads the quotes of the statements after it.  (SET LOCAL, which the server
// undoes at the end of the transaction, is not followed.)
void FollowStandardStrings(Reader *r, const char *text, size_t n) {
  char w[64];
  size_t p = 0;
  NextWord(text, n, &p, w, sizeof w);
  const bool reset = strcmp(w, "reset") == 0;
  if (!reset && strcmp(w, "set") != 0) return;
  NextWord(text, n, &p, w, sizeof w);
  if (reset && strcmp(w, "all") == 0) {
    r->std_strings = true;
    return;
  }
  if (!reset && strcmp(w, "session") == 0) NextWord(text, n, &p, w, sizeof w);
  if (strcmp(w, "standard_conforming_strings") != 0) return;
  if (reset) {
    r->std_strings = true;
    return;
  }
  NextWord(text, n, &p, w, sizeof w);
  if (strcmp(w, "to") != 0 && strcmp(w, "=") != 0) return;
  NextWord(text, n, &p, w, sizeof w);
  bool value;
  if (strcmp(w, "default") == 0) r->std_strings = true;
  else if (ParseBool(w, &value)) r->std_strings = value;
}

// psql sends the query buffer (a semicolon, \g, or the end of a file).
void SendStatement(Reader *r) {
  if (r->stmt.len == 0) {
    ResetStatement(r);
    return;
  }
  if (!CondActive(r)) {  // psql discards queries in an inactive \if branch
    ResetStatement(r);
    return;
  }
  BufSet(r, &r->previous, r->stmt.data);
  FollowStandardStrings(r, r->stmt.data, r->stmt.len);
  Queued *q = Enqueue(r, ItemKind::Statement, r->stmt_has_start ? r->stmt_start : r->stmt_first);
  q->item.text = r->stmt.data;
  q->item.length = r->stmt.len;
  q->item.copy_from_stdin = IsCopyFromStdin(r->stmt.data, r->stmt.len);
  if (q->item.copy_from_stdin) {
    // handleCopyIn() reads from the script's next line on, up to a line "\."
    Source &f = FileOf(r, Top(r));
    const char *nl = static_cast<const char *>(memchr(f.text + f.pos, '\n', f.len - f.pos));
    f.copy_skip_at = nl ? static_cast<size_t>(nl - f.text) + 1 : f.len;
  }
  r->reset_pending = true;
}

// \g (and \gx, \gset, \gexec ...) with an empty query buffer: psql sends the previous
// query again.  Its text is the previous statement's; errors in it are shown at the
// command, where psql reports them.
void SendOrResend(Reader *r, const Position &at) {
  if (r->stmt.len == 0 && r->previous.len > 0 && CondActive(r)) {
    BufSet(r, &r->stmt, r->previous.data);
    r->nsegs = 0;
    if (r->segs_cap == 0) {
      r->segs = static_cast<Segment *>(Alloc(r, sizeof(Segment) * 16));
      r->segs_cap = 16;
    }
    r->segs[r->nsegs++] = Segment{0, at.offset, true};
    r->stmt_first = r->stmt_start = at;
    r->stmt_has_first = r->stmt_has_start = true;
  }
  SendStatement(r);
}

QueryBuffer *SaveQuery(Reader *r) {
  auto *q = static_cast<QueryBuffer *>(Alloc(r, sizeof(QueryBuffer)));
  *q = QueryBuffer{r->stmt,          r->segs,          r->nsegs,          r->segs_cap,  r->stmt_has_first,
                   r->stmt_has_start, r->stmt_first,   r->stmt_start,     r->paren_depth, r->begin_depth,
                   {0},              r->identifier_count, r->previous};
  memcpy(q->identifiers, r->identifiers, sizeof r->identifiers);
  r->stmt = Buf{};
  r->segs = nullptr;
  r->nsegs = r->segs_cap = 0;
  r->previous = Buf{};
  ResetStatement(r);
  return q;
}

void ReleaseQuery(Reader *r, QueryBuffer *q) {
  Release(r, q->stmt.data);
  Release(r, q->segs);
  Release(r, q->previous.data);
  Release(r, q);
}

void RestoreQuery(Reader *r, QueryBuffer *q) {
  Release(r, r->stmt.data);
  Release(r, r->segs);
  Release(r, r->previous.data);
  r->stmt = q->stmt;
  r->segs = q->segs;
  r->nsegs = q->nsegs;
  r->segs_cap = q->segs_cap;
  r->stmt_has_first = q->has_first;
  r->stmt_has_start = q->has_start;
  r->stmt_first = q->first;
  r->stmt_start = q->start;
  r->paren_depth = q->paren_depth;
  r->begin_depth = q->begin_depth;
  memcpy(r->identifiers, q->identifiers, sizeof r->identifiers);
  r->identifier_count = q->identifier_count;
  r->previous = q->previous;
  Release(r, q);
}

void SkipCopyData(Source &f) {
  size_t i = f.copy_skip_at;
  f.copy_skip_at = kNone;
  while (i < f.len) {
    const char *nl = static_cast<const char *>(memchr(f.text + i, '\n', f.len - i));
    const size_t end = nl ? static_cast<size_t>(nl - f.text) : f.len;
    const bool terminator = end - i >= 2 && f.text[i] == '\\' && f.text[i + 1] == '.' &&
                            (end - i == 2 || (end - i == 3 && f.text[i + 2] == '\r'));
    i = nl ? end + 1 : end;
    if (terminator) break;
  }
  if (i > f.pos) f.pos = i;
}

// ------------------------------------------------------------------ statement text

void AppendStatement(Reader *r, const Source &s, size_t pos, const char *bytes, size_t n, bool token) {
  if (n == 0) return;
  if (!r->stmt_has_first) {
    r->stmt_first = PositionAt(r, s, pos);
    r->stmt_has_first = true;
  }
  if (token && !r->stmt_has_start) {
    r->stmt_start = PositionAt(r, s, pos);
    r->stmt_has_start = true;
  }
  const size_t file_offset = FileOffset(s, pos);
  bool extend = false;
  if (r->nsegs > 0) {
    const Segment &last = r->segs[r->nsegs - 1];
    extend = s.is_variable ? (last.from_variable && last.file_offset == file_offset)
                           : (!last.from_variable && last.file_offset + (r->stmt.len - last.text_offset) == file_offset);
  }
  if (!extend) {
    if (r->nsegs == r->segs_cap) {
      const size_t cap = r->segs_cap ? r->segs_cap * 2 : 16;
      auto *segs = static_cast<Segment *>(Alloc(r, sizeof(Segment) * cap));
      if (r->nsegs) memcpy(segs, r->segs, sizeof(Segment) * r->nsegs);
      Release(r, r->segs);
      r->segs = segs;
      r->segs_cap = cap;
    }
    r->segs[r->nsegs++] = Segment{r->stmt.len, file_offset, s.is_variable};
  }
  BufAppend(r, &r->stmt, bytes, n);
}

// Copy n bytes of the current source into the statement and move past them.
void Take(Reader *r, Source &s, size_t n, bool token) {
  AppendStatement(r, s, s.pos, s.text + s.pos, n, token);
  s.pos += n;
}

// psqlscan.l's {identifier} rule: track CREATE [OR REPLACE] FUNCTION|PROCEDURE so that
// semicolons inside a BEGIN ATOMIC ... END body do not end the statement.
void TrackIdentifier(Reader *r, const char *word, size_t n) {
  if (r->identifier_count == 0) memset(r->identifiers, 0, sizeof r->identifiers);
  if (EqualsNoCase(word, n, "create") || EqualsNoCase(word, n, "function") || EqualsNoCase(word, n, "procedure") ||
      EqualsNoCase(word, n, "or") || EqualsNoCase(word, n, "replace")) {
    if (r->identifier_count < static_cast<int>(sizeof r->identifiers))
      r->identifiers[r->identifier_count] = Lower(word[0]);
  }
  r->identifier_count++;
  const char *id = r->identifiers;
  if (id[0] == 'c' && (id[1] == 'f' || id[1] == 'p' || (id[1] == 'o' && id[2] == 'r' && (id[3] == 'f' || id[3] == 'p'))) &&
      r->paren_depth == 0) {
    if (EqualsNoCase(word, n, "begin")) r->begin_depth++;
    else if (EqualsNoCase(word, n, "case")) {
      if (r->begin_depth >= 1) r->begin_depth++;
    } else if (EqualsNoCase(word, n, "end")) {
      if (r->begin_depth > 0) r->begin_depth--;
    }
  }
}

// ------------------------------------------------------------------ sources

void Push(Reader *r, const Source &s) {
  if (r->depth == r->stack_cap) {
    const int cap = r->stack_cap ? r->stack_cap * 2 : 8;
    auto *stack = static_cast<Source *>(Alloc(r, sizeof(Source) * static_cast<size_t>(cap)));
    if (r->depth) memcpy(stack, r->stack, sizeof(Source) * static_cast<size_t>(r->depth));
    Release(r, r->stack);
    r->stack = stack;
    r->stack_cap = cap;
  }
  r->stack[r->depth++] = s;
}

int FileDepth(const Reader *r) {
  int n = 0;
  for (int i = 0; i < r->depth; i++) n += !r->stack[i].is_variable;
  return n;
}

void PushFile(Reader *r, const SourceFile *file) {
  Source s{};
  s.file = file;
  s.text = file->text;
  s.len = file->length;
  s.pos = 0;
  s.file_index = r->depth;
  s.cursor = Cursor{0, 1, 1};
  s.copy_skip_at = kNone;
  s.cond_base = r->cond_depth;
  // psql drops a UTF-8 byte order mark at the start of a file (MainLoop)
  if (s.len >= 3 && memcmp(s.text, "\xef\xbb\xbf", 3) == 0) s.pos = s.cursor.offset = 3;
  Push(r, s);
}

void PushVariable(Reader *r, const Source &from, size_t colon, const char *name, size_t n, const char *value) {
  Source s{};
  s.file = from.file;
  s.owned = Strdup(r, value, strlen(value));
  s.text = s.owned;
  s.len = strlen(value);
  s.is_variable = true;
  s.var_name = Strdup(r, name, n);
  s.origin = FileOffset(from, colon);
  s.file_index = from.file_index;
  s.copy_skip_at = kNone;
  Push(r, s);
}

// The end of a source.  At the end of a file psql sends an unterminated statement
// and complains about unclosed \if blocks.
void Pop(Reader *r) {
  Source &s = Top(r);
  if (s.is_variable) {
    Release(r, s.owned);
    Release(r, const_cast<char *>(s.var_name));
    r->depth--;
    return;
  }
  if (r->stmt.len > 0) SendStatement(r);
  QueryBuffer *outer = s.outer;
  if (r->cond_depth > s.cond_base) {
    Note(r, PositionAt(r, s, s.len), "%s: end of file inside \\if: psql reports \"reached EOF without finding closing \\endif(s)\"",
         s.file->name);
    r->cond_depth = s.cond_base;
  }
  r->depth--;
  if (outer != nullptr) {  // the including file's statement goes on
    if (r->reset_pending) r->restore_pending = outer;  // after the statement just sent is consumed
    else RestoreQuery(r, outer);
  }
}

// ------------------------------------------------------------------ meta-commands

struct Arg {
  Buf text;
  bool backtick;  // came (partly) from a shell command: unknown
  bool present;
};

constexpr int kMaxArgs = 16;

struct Args {
  Arg arg[kMaxArgs];
  int count;
  bool backtick;
};

// psqlscanslash.l, OT_NORMAL: whitespace-separated words up to the end of the line
// or an unquoted backslash ("\\" is eaten: it separates meta-commands).
void ReadArgs(Reader *r, Source &s, bool interpolate, Args *out) {
  out->count = 0;
  out->backtick = false;
  size_t p = s.pos;
  for (;;) {
    while (p < s.len && s.text[p] != '\n' && IsSpace(s.text[p])) p++;
    if (p >= s.len || s.text[p] == '\n') break;
    if (s.text[p] == '\\') {
      if (p + 1 < s.len && s.text[p + 1] == '\\') p += 2;
      break;
    }
    Arg *a = &out->arg[out->count < kMaxArgs ? out->count : kMaxArgs - 1];
    if (out->count < kMaxArgs) {
      a->text.len = 0;
      BufAppend(r, &a->text, "", 0);
      a->backtick = false;
      out->count++;
    }
    while (p < s.len && !IsSpace(s.text[p]) && s.text[p] != '\\') {
      const char c = s.text[p];
      if (c == '\'') {
        for (p++; p < s.len && s.text[p] != '\n';) {
          char ch = s.text[p];
          if (ch == '\'') {
            if (p + 1 < s.len && s.text[p + 1] == '\'') {
              BufAppend(r, &a->text, "'", 1);
              p += 2;
              continue;
            }
            p++;
            break;
          }
          if (ch == '\\' && p + 1 < s.len) {
            p++;
            ch = s.text[p];
            char out_ch = ch;
            if (ch == 'n') out_ch = '\n';
            else if (ch == 't') out_ch = '\t';
            else if (ch == 'b') out_ch = '\b';
            else if (ch == 'r') out_ch = '\r';
            else if (ch == 'f') out_ch = '\f';
            else if (ch >= '0' && ch <= '7') {
              int v = 0, k = 0;
              while (k < 3 && p < s.len && s.text[p] >= '0' && s.text[p] <= '7') v = v * 8 + (s.text[p++] - '0'), k++;
              out_ch = static_cast<char>(v);
              p--;
            } else if (ch == 'x' && p + 1 < s.len) {
              int v = 0, k = 0;
              p++;
              for (; k < 2 && p < s.len; k++, p++) {
                const char h = s.text[p];
                if (IsDigit(h)) v = v * 16 + (h - '0');
                else if (Lower(h) >= 'a' && Lower(h) <= 'f') v = v * 16 + (Lower(h) - 'a' + 10);
                else break;
              }
              out_ch = static_cast<char>(v);
              p--;
            }
            BufAppend(r, &a->text, &out_ch, 1);
            p++;
            continue;
          }
          BufAppend(r, &a->text, &ch, 1);
          p++;
        }
      } else if (c == '"') {  // kept with its quotes (OT_NORMAL)
        const size_t b = p;
        for (p++; p < s.len && s.text[p] != '\n'; p++)
          if (s.text[p] == '"') {
            if (p + 1 < s.len && s.text[p + 1] == '"') p++;
            else break;
          }
        if (p < s.len && s.text[p] == '"') p++;
        BufAppend(r, &a->text, s.text + b, p - b);
      } else if (c == '`') {
        for (p++; p < s.len && s.text[p] != '`' && s.text[p] != '\n'; p++) {
        }
        if (p < s.len && s.text[p] == '`') p++;
        a->backtick = out->backtick = true;
      } else if (c == ':' && interpolate && p + 2 < s.len && s.text[p + 1] == '{' && s.text[p + 2] == '?') {
        size_t e = p + 3;
        while (e < s.len && VarChar(s.text[e])) e++;
        if (e > p + 3 && e < s.len && s.text[e] == '}') {
          const char *answer = VarValue(r, s.text + p + 3, e - p - 3) ? "TRUE" : "FALSE";
          BufAppend(r, &a->text, answer, strlen(answer));
          p = e + 1;
        } else {
          BufAppend(r, &a->text, s.text + p, 1);
          p++;
        }
      } else if (c == ':' && interpolate && p + 1 < s.len &&
                 (VarChar(s.text[p + 1]) || s.text[p + 1] == '\'' || s.text[p + 1] == '"')) {
        const char kind = s.text[p + 1];
        const size_t b = kind == '\'' || kind == '"' ? p + 2 : p + 1;
        size_t e = b;
        while (e < s.len && VarChar(s.text[e])) e++;
        const bool quoted = kind == '\'' || kind == '"';
        const char *value = e > b && (!quoted || (e < s.len && s.text[e] == kind)) ? VarValue(r, s.text + b, e - b) : nullptr;
        const size_t end = quoted ? e + 1 : e;
        if (value == nullptr) {
          BufAppend(r, &a->text, s.text + p, (e > b ? end : p + 1) - p);
          p = e > b ? end : p + 1;
        } else {
          if (quoted) AppendEscaped(r, &a->text, value, kind == '\'');
          else BufAppend(r, &a->text, value, strlen(value));
          p = end;
        }
      } else {
        BufAppend(r, &a->text, &c, 1);
        p++;
      }
    }
  }
  s.pos = p;
}

// OT_WHOLE_LINE: the rest of the line, as it is.
void ReadLine(Reader *r, Source &s, Buf *out) {
  const char *nl = static_cast<const char *>(memchr(s.text + s.pos, '\n', s.len - s.pos));
  const size_t end = nl ? static_cast<size_t>(nl - s.text) : s.len;
  out->len = 0;
  BufAppend(r, out, s.text + s.pos, end - s.pos);
  s.pos = end;
}

bool CommandIs(const char *cmd, size_t n, const char *a, const char *b = nullptr, const char *c = nullptr) {
  return (strlen(a) == n && memcmp(cmd, a, n) == 0) || (b && strlen(b) == n && memcmp(cmd, b, n) == 0) ||
         (c && strlen(c) == n && memcmp(cmd, c, n) == 0);
}

bool IsWholeLineCommand(const char *cmd, size_t n) {
  return CommandIs(cmd, n, "!", "copy") || CommandIs(cmd, n, "ef", "ev", "sf") || CommandIs(cmd, n, "sv", "h", "help") ||
         CommandIs(cmd, n, "ef+", "sf+", "sv+");
}

// Known meta-commands without an effect on what the server runs.
bool IsHarmless(const char *cmd, size_t n) {
  static const char *const kHarmless[] = {
      "echo", "qecho", "warn", "pset", "timing", "x", "a", "t", "T", "f", "H", "C", "o", "out", "encoding",
      "conninfo", "errverbose", "p", "print", "w", "write", "z", "l", "list", "l+", "list+", "s", "?", "copyright",
      "q", "quit", "lo_list", "lo_export", "setenv", "sf", "sv", "h", "help", "bind", "dp", "crosstabview",
      "restrict", "unrestrict"};  // pg_dump's \restrict KEY guards its own output
  for (const char *h : kHarmless)
    if (CommandIs(cmd, n, h)) return true;
  return n >= 1 && cmd[0] == 'd';  // \d and its family only describe
}

void JoinArgs(Reader *r, const Args &args, int from, const char *sep, Buf *out) {
  out->len = 0;
  BufAppend(r, out, "", 0);
  for (int i = from; i < args.count; i++) {
    if (i > from && sep) BufAppend(r, out, sep, strlen(sep));
    BufAppend(r, out, args.arg[i].text.data, args.arg[i].text.len);
  }
}

// \if / \elif: psql's is_true_boolean_expression().
Cond Evaluate(Reader *r, const Position &at, const char *cmd, const Args &args) {
  if (args.backtick) {
    Note(r, at, "\\%s runs a shell command (backticks): the condition is unknown; its branch is taken as false", cmd);
    return Cond::False;
  }
  JoinArgs(r, args, 0, " ", &r->scratch);
  bool value;
  if (!ParseBool(r->scratch.data, &value)) {
    Note(r, at, "\\%s \"%s\": not a boolean, psql reports an error and takes the branch as false", cmd, r->scratch.data);
    return Cond::False;
  }
  return value ? Cond::True : Cond::False;
}

void Include(Reader *r, const Position &at, const char *cmd, const char *path, bool relative) {
  if (r->opt.include == nullptr) {
    Note(r, at, "\\%s %s: %s", cmd, path, r->opt.no_include_reason ? r->opt.no_include_reason : "includes are not read");
    return;
  }
  if (FileDepth(r) >= kMaxIncludeDepth) {
    Note(r, at, "\\%s %s: more than %d nested includes; not read", cmd, path, kMaxIncludeDepth);
    return;
  }
  const char *error = nullptr;
  const SourceFile *file = r->opt.include(r->opt.include_context, at.file, path, relative, &error);
  if (file == nullptr) {
    Note(r, at, "\\%s %s: %s; psql reports an error here", cmd, path, error ? error : "cannot read the file");
    return;
  }
  QueryBuffer *outer = SaveQuery(r);
  PushFile(r, file);
  Top(r).outer = outer;
}

void MetaCommand(Reader *r) {
  Source &s = Top(r);
  const Position at = PositionAt(r, s, s.pos);
  size_t p = s.pos + 1;
  const size_t name_start = p;
  while (p < s.len && !IsSpace(s.text[p]) && s.text[p] != '\\') p++;
  const size_t n = p - name_start;
  char cmd[64];
  const size_t shown = n < sizeof cmd - 1 ? n : sizeof cmd - 1;
  memcpy(cmd, s.text + name_start, shown);
  cmd[shown] = '\0';
  s.pos = p;
  const bool active = CondActive(r);
  const char *c = s.text + name_start;

  if (IsWholeLineCommand(c, n)) {
    ReadLine(r, s, &r->scratch);
    if (!active) return;
    if (CommandIs(c, n, "!")) {
      Note(r, at, "\\! runs a shell command: what it does is not simulated");
    } else if (CommandIs(c, n, "copy")) {
      // \copy ... from stdin / pstdin reads its data from the script like COPY does
      if (IsCopyFromStdin(r->scratch.data, r->scratch.len)) {
        Source &f = FileOf(r, s);
        const char *nl = static_cast<const char *>(memchr(f.text + f.pos, '\n', f.len - f.pos));
        f.copy_skip_at = nl ? static_cast<size_t>(nl - f.text) + 1 : f.len;
      }
    } else if (CommandIs(c, n, "ef", "ev")) {
      Note(r, at, "\\%s opens an editor: what it runs is not simulated", cmd);
    }
    return;
  }

  Args args;
  for (auto &a : args.arg) a = Arg{};
  const bool conditional = CommandIs(c, n, "if", "elif") || CommandIs(c, n, "else", "endif");
  // In an inactive branch psql reads arguments without expanding variables.
  const bool evaluate_elif = CommandIs(c, n, "elif") && r->cond_depth > Top(r).cond_base &&
                             r->cond[r->cond_depth - 1] == Cond::False;
  ReadArgs(r, s, active || evaluate_elif, &args);
  const int base = FileOf(r, s).cond_base;

  if (conditional) {
    if (CommandIs(c, n, "if")) {
      PushCond(r, active ? Evaluate(r, at, cmd, args) : Cond::Ignored);
    } else if (r->cond_depth <= base) {
      Note(r, at, "\\%s without a matching \\if: psql reports an error here", cmd);
    } else {
      Cond &top = r->cond[r->cond_depth - 1];
      if (CommandIs(c, n, "elif")) {
        if (top == Cond::True) top = Cond::Ignored;
        else if (top == Cond::False) top = Evaluate(r, at, cmd, args);
        else if (top == Cond::ElseTrue || top == Cond::ElseFalse)
          Note(r, at, "\\elif after \\else: psql reports an error here");
      } else if (CommandIs(c, n, "else")) {
        if (top == Cond::False) top = Cond::ElseTrue;
        else if (top == Cond::True || top == Cond::Ignored) top = Cond::ElseFalse;
        else Note(r, at, "\\else after \\else: psql reports an error here");
      } else {
        r->cond_depth--;
      }
    }
    return;
  }
  if (!active) return;

  if (CommandIs(c, n, "set")) {
    if (args.count == 0) return;
    JoinArgs(r, args, 1, nullptr, &r->scratch);
    if (args.backtick)
      Note(r, at, "\\set %s runs a shell command (backticks): its value is unknown and taken as empty", args.arg[0].text.data);
    // psql's bool_substitute_hook: ON_ERROR_STOP / AUTOCOMMIT set to '' mean on
    const char *name = args.arg[0].text.data;
    const bool boolean = strcmp(name, "ON_ERROR_STOP") == 0 || strcmp(name, "AUTOCOMMIT") == 0;
    SetVar(r, name, boolean && r->scratch.len == 0 ? "on" : r->scratch.data);
  } else if (CommandIs(c, n, "unset")) {
    if (args.count == 0) return;
    const char *name = args.arg[0].text.data;
    if (strcmp(name, "ON_ERROR_STOP") == 0 || strcmp(name, "AUTOCOMMIT") == 0) SetVar(r, name, "off");
    else UnsetVar(r, name);
  } else if (CommandIs(c, n, "i", "include")) {
    if (args.count > 0) Include(r, at, cmd, args.arg[0].text.data, false);
  } else if (CommandIs(c, n, "ir", "include_relative")) {
    if (args.count > 0) Include(r, at, cmd, args.arg[0].text.data, true);
  } else if (CommandIs(c, n, "c", "connect")) {
    Queued *q = Enqueue(r, ItemKind::Connect, at);
    BufSet(r, &q->own, args.count > 0 ? args.arg[0].text.data : "-");
    q->item.text = q->own.data;
    q->item.length = q->own.len;
  } else if (CommandIs(c, n, "g", "gx") || CommandIs(c, n, "watch", "crosstabview")) {
    SendOrResend(r, at);
  } else if (CommandIs(c, n, "gset")) {
    const bool any = r->stmt.len > 0 || r->previous.len > 0;
    SendOrResend(r, at);
    if (any) Note(r, at, "\\gset sets variables from the query's result: their values are unknown");
  } else if (CommandIs(c, n, "gexec")) {
    const bool any = r->stmt.len > 0 || r->previous.len > 0;
    SendOrResend(r, at);
    if (any) Note(r, at, "\\gexec runs the statements its query returns: they were not judged");
  } else if (CommandIs(c, n, "gdesc")) {
    ResetStatement(r);  // describes the query without running it
  } else if (CommandIs(c, n, "r", "reset")) {
    ResetStatement(r);
  } else if (CommandIs(c, n, "q", "quit")) {
    r->quit = true;
  } else if (CommandIs(c, n, "prompt")) {
    const char *name = args.count > 0 ? args.arg[args.count - 1].text.data : "";
    Note(r, at, "\\prompt reads variable %s from the terminal: its value is unknown and taken as empty", name);
    if (args.count > 0) SetVar(r, name, "");
  } else if (CommandIs(c, n, "getenv")) {
    Note(r, at, "\\getenv reads the environment: the variable's value is unknown and taken as empty");
    if (args.count > 0) SetVar(r, args.arg[0].text.data, "");
  } else if (CommandIs(c, n, "e", "edit")) {
    Note(r, at, "\\%s opens an editor: what it runs is not simulated", cmd);
  } else if (CommandIs(c, n, "cd")) {
    Note(r, at, "\\cd changes the directory \\i reads from: later includes are read from the original one");
  } else if (CommandIs(c, n, "lo_import", "lo_unlink")) {
    // large objects: data, not schema
  } else if (!IsHarmless(c, n)) {
    Note(r, at, "invalid command \\%s: psql reports an error here", cmd);
  }
}

// ------------------------------------------------------------------ the scanner

// :name, :'name', :"name", :{?name} (psqlscan.l); in an inactive branch, as is.
void Colon(Reader *r, Source &s) {
  const size_t p = s.pos;
  const char next = p + 1 < s.len ? s.text[p + 1] : '\0';
  if (next == ':' || next == '=') {
    Take(r, s, 2, true);
    return;
  }
  const bool active = CondActive(r);
  if ((next == '\'' || next == '"') && active) {
    size_t e = p + 2;
    while (e < s.len && VarChar(s.text[e])) e++;
    if (e > p + 2 && e < s.len && s.text[e] == next) {
      const char *value = VarValue(r, s.text + p + 2, e - p - 2);
      if (value != nullptr) {
        r->scratch.len = 0;
        AppendEscaped(r, &r->scratch, value, next == '\'');
        AppendStatement(r, s, p, r->scratch.data, r->scratch.len, true);
      } else {
        AppendStatement(r, s, p, s.text + p, e + 1 - p, true);
      }
      s.pos = e + 1;
      return;
    }
  }
  if (next == '{' && p + 2 < s.len && s.text[p + 2] == '?' && active) {
    size_t e = p + 3;
    while (e < s.len && VarChar(s.text[e])) e++;
    if (e > p + 3 && e < s.len && s.text[e] == '}') {
      const char *answer = VarValue(r, s.text + p + 3, e - p - 3) ? "TRUE" : "FALSE";
      AppendStatement(r, s, p, answer, strlen(answer), true);
      s.pos = e + 1;
      return;
    }
  }
  if (VarChar(next) && active) {
    size_t e = p + 1;
    while (e < s.len && VarChar(s.text[e])) e++;
    const char *value = VarValue(r, s.text + p + 1, e - p - 1);
    if (value != nullptr && !ExpandingVar(r, s.text + p + 1, e - p - 1)) {
      s.pos = e;  // the value is lexed as if it were in the script
      const Source from = s;
      PushVariable(r, from, p, from.text + p + 1, e - p - 1, value);
      return;
    }
    Take(r, s, e - p, true);
    return;
  }
  Take(r, s, 1, true);
}

void ScanNormal(Reader *r, Source &s) {
  const char c = s.text[s.pos];
  const char next = s.pos + 1 < s.len ? s.text[s.pos + 1] : '\0';
  if (IsSpace(c)) {
    // psql drops white space (and -- comments) until the query has some text
    if (r->stmt.len > 0) Take(r, s, 1, false);
    else s.pos++;
  } else if (c == '-' && next == '-') {
    const char *nl = static_cast<const char *>(memchr(s.text + s.pos, '\n', s.len - s.pos));
    const size_t n = (nl ? static_cast<size_t>(nl - s.text) : s.len) - s.pos;
    if (r->stmt.len > 0) Take(r, s, n, false);
    else s.pos += n;
  } else if (c == '/' && next == '*') {
    Take(r, s, 2, false);
    r->lex = Lex::Comment;
    r->comment_depth = 1;
  } else if (c == '\'') {
    Take(r, s, 1, true);
    // with standard_conforming_strings off, psql's lexer reads '...' as E'...'
    r->lex = r->std_strings ? Lex::Quote : Lex::ExtQuote;
  } else if (c == '"') {
    Take(r, s, 1, true);
    r->lex = Lex::Ident;
  } else if (c == '$' && (next == '$' || (IdentStart(next)))) {
    size_t e = s.pos + 1;
    while (e < s.len && DolqCont(s.text[e])) e++;
    if (e < s.len && s.text[e] == '$') {
      r->dollar_tag.len = 0;
      BufAppend(r, &r->dollar_tag, s.text + s.pos, e + 1 - s.pos);
      Take(r, s, e + 1 - s.pos, true);
      r->lex = Lex::Dollar;
    } else {
      Take(r, s, 1, true);
    }
  } else if (IdentStart(c)) {
    size_t e = s.pos;
    while (e < s.len && IdentCont(s.text[e])) e++;
    const size_t n = e - s.pos;
    TrackIdentifier(r, s.text + s.pos, n);
    const bool extended = n == 1 && (c == 'e' || c == 'E') && e < s.len && s.text[e] == '\'';
    Take(r, s, n, true);
    if (extended) {
      Take(r, s, 1, true);
      r->lex = Lex::ExtQuote;
    }
  } else if (IsDigit(c)) {
    size_t e = s.pos;
    while (e < s.len && (IsDigit(s.text[e]) || IsAlpha(s.text[e]) || s.text[e] == '_' || s.text[e] == '.')) e++;
    Take(r, s, e - s.pos, true);
  } else if (c == '(') {
    r->paren_depth++;
    Take(r, s, 1, true);
  } else if (c == ')') {
    if (r->paren_depth > 0) r->paren_depth--;
    Take(r, s, 1, true);
  } else if (c == ';') {
    Take(r, s, 1, true);
    if (r->paren_depth == 0 && r->begin_depth == 0) SendStatement(r);
  } else if (c == ':') {
    Colon(r, s);
  } else if (c == '\\') {
    if (next == ';' || next == ':') {  // "\;" and "\:" are the characters themselves
      AppendStatement(r, s, s.pos + 1, s.text + s.pos + 1, 1, true);
      s.pos += 2;
    } else {
      MetaCommand(r);
    }
  } else {
    Take(r, s, 1, true);
  }
}

// Inside quotes and comments: copy up to the closing delimiter (or the end of the source).
void ScanQuoted(Reader *r, Source &s) {
  size_t p = s.pos;
  switch (r->lex) {
    case Lex::Quote:
    case Lex::Ident:
    case Lex::ExtQuote: {
      // A doubled quote stands for itself; in E'' strings a backslash escapes the next byte.
      const char q = r->lex == Lex::Ident ? '"' : '\'';
      const bool backslash_escapes = r->lex == Lex::ExtQuote;
      while (p < s.len) {
        if (backslash_escapes && s.text[p] == '\\') {
          p += p + 1 < s.len ? 2 : 1;
          continue;
        }
        if (s.text[p] == q) {
          if (p + 1 < s.len && s.text[p + 1] == q) {
            p += 2;
            continue;
          }
          p++;
          r->lex = Lex::Normal;
          break;
        }
        p++;
      }
      break;
    }
    case Lex::Dollar: {
      const char *tag = r->dollar_tag.data;
      const size_t n = r->dollar_tag.len;
      while (p < s.len) {
        const char *d = static_cast<const char *>(memchr(s.text + p, '$', s.len - p));
        if (d == nullptr) {
          p = s.len;
          break;
        }
        p = static_cast<size_t>(d - s.text);
        if (s.len - p >= n && memcmp(s.text + p, tag, n) == 0) {
          p += n;
          r->lex = Lex::Normal;
          break;
        }
        p++;
      }
      break;
    }
    case Lex::Comment:
      while (p < s.len) {
        if (s.text[p] == '/' && p + 1 < s.len && s.text[p + 1] == '*') {
          r->comment_depth++;
          p += 2;
        } else if (s.text[p] == '*' && p + 1 < s.len && s.text[p + 1] == '/') {
          p += 2;
          if (--r->comment_depth == 0) {
            r->lex = Lex::Normal;
            break;
          }
        } else {
          p++;
        }
      }
      break;
    case Lex::Normal:
      break;
  }
  Take(r, s, p - s.pos, false);
}

void Step(Reader *r) {
  Source &s = Top(r);
  if (!s.is_variable && s.copy_skip_at != kNone && s.pos >= s.copy_skip_at) {
    SkipCopyData(s);
    return;
  }
  if (s.pos >= s.len) {
    Pop(r);
    return;
  }
  if (r->lex == Lex::Normal) ScanNormal(r, s);
  else ScanQuoted(r, s);
}

}  // namespace

// ------------------------------------------------------------------ interface

int Utf8CharLength(const unsigned char *s) {
  const unsigned char c = *s;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0) return 2;
  if ((c & 0xf0) == 0xe0) return 3;
  if ((c & 0xf8) == 0xf0) return 4;
  return 1;
}

bool ParseBool(const char *value, bool *result) {
  const size_t len = strlen(value);
  auto prefix = [&](const char *word) {
    if (len == 0 || len > strlen(word)) return false;
    for (size_t i = 0; i < len; i++)
      if (Lower(value[i]) != word[i]) return false;
    return true;
  };
  if (prefix("true")) *result = true;
  else if (prefix("false")) *result = false;
  else if (prefix("yes")) *result = true;
  else if (prefix("no")) *result = false;
  else if (len >= 2 && prefix("on")) *result = true;
  else if (len >= 2 && prefix("off")) *result = false;
  else if (EqualsNoCase(value, len, "1")) *result = true;
  else if (EqualsNoCase(value, len, "0")) *result = false;
  else return false;
  return true;
}

Reader *NewReader(const ReaderOptions &options, const SourceFile *file) {
  auto *r = static_cast<Reader *>(options.allocator->allocate(sizeof(Reader)));
  memset(r, 0, sizeof *r);
  r->opt = options;
  r->char_length = options.char_length ? options.char_length : Utf8CharLength;
  r->lex = Lex::Normal;
  r->std_strings = !options.nonstandard_strings;
  SetVar(r, "AUTOCOMMIT", "on");
  SetVar(r, "ON_ERROR_STOP", "off");
  PushFile(r, file);
  return r;
}

void FreeReader(Reader *r) {
  if (r == nullptr) return;
  while (r->depth > 0) {
    Source &s = Top(r);
    if (s.is_variable) {
      Release(r, s.owned);
      Release(r, const_cast<char *>(s.var_name));
    } else if (s.outer != nullptr) {
      ReleaseQuery(r, s.outer);
    }
    r->depth--;
  }
  if (r->restore_pending != nullptr) ReleaseQuery(r, r->restore_pending);
  Release(r, r->previous.data);
  for (int i = 0; i < r->nvars; i++) {
    Release(r, r->vars[i].name);
    Release(r, r->vars[i].value);
  }
  for (auto &q : r->queue) Release(r, q.own.data);
  Release(r, r->vars);
  Release(r, r->stack);
  Release(r, r->cond);
  Release(r, r->stmt.data);
  Release(r, r->segs);
  Release(r, r->dollar_tag.data);
  Release(r, r->scratch.data);
  Release(r, r);
}

void SetVariable(Reader *r, const char *name, const char *value) { SetVar(r, name, value); }

bool NextItem(Reader *r, Item *item) {
  if (r->queue_len > 0) {  // the previous call returned the head
    r->queue_head = (r->queue_head + 1) % kQueueSize;
    r->queue_len--;
  }
  if (r->queue_len == 0) {
    if (r->reset_pending) {
      ResetStatement(r);
      r->reset_pending = false;
      if (r->restore_pending != nullptr) {
        RestoreQuery(r, r->restore_pending);
        r->restore_pending = nullptr;
      }
    }
    while (r->queue_len == 0 && r->depth > 0 && !r->quit) Step(r);
  }
  if (r->queue_len == 0) return false;
  *item = r->queue[r->queue_head].item;
  return true;
}

StatementMap CurrentMap(const Reader *r) {
  return StatementMap{r->stmt_has_first ? r->stmt_first : Position{}, r->segs, r->nsegs};
}

Position LocateInMap(const StatementMap &map, size_t offset, CharLengthFn char_length) {
  Position result = map.first;
  if (map.count == 0 || map.first.file == nullptr) return result;
  size_t i = 0;
  while (i + 1 < map.count && map.segments[i + 1].text_offset <= offset) i++;
  const Segment &seg = map.segments[i];
  size_t target = seg.from_variable ? seg.file_offset : seg.file_offset + (offset - seg.text_offset);
  const SourceFile *file = map.first.file;
  if (target > file->length) target = file->length;
  Reader fake{};
  fake.char_length = char_length ? char_length : Utf8CharLength;
  Cursor c = target >= map.first.offset ? Cursor{map.first.offset, map.first.line, map.first.column} : Cursor{0, 1, 1};
  AdvanceCursor(&fake, file, &c, target);
  return Position{file, c.offset, c.line, c.column};
}

Position Locate(const Reader *r, const Item &item, size_t offset) {
  if (item.kind != ItemKind::Statement) return item.where;
  return LocateInMap(CurrentMap(r), offset, r->char_length);
}

}  // namespace schema_guard::script
