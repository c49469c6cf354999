// Reading a migration file the way psql runs it (`psql -f FILE`): statements split
// where psql splits them (quotes, dollar quotes, comments, parentheses, BEGIN ATOMIC
// bodies), meta-commands executed or turned into notes, variables interpolated,
// \if branches taken, \i files included, COPY ... FROM stdin data skipped, and
// every statement mapped back to the file, line and column it came from.
//
// Shared by the extension (schema_guard.check() on a script given as text) and the
// schema_guard_lint client (which also has the file system for \i).  Pure C++: no
// PostgreSQL header, no exception, no object with a destructor.  All memory comes
// from the caller's Allocator (palloc in the server, so an ERROR that unwinds through
// a caller frees it with the memory context; malloc in the client).  Memory stays
// bounded by the input plus the longest statement: the reader hands out one item at
// a time and reuses its buffers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace schema_guard::script {

struct Allocator {
  void *(*allocate)(size_t size);             // never returns nullptr
  void *(*reallocate)(void *p, size_t size);  // never returns nullptr
  void (*release)(void *p);
};

// Byte length of the character that starts at s (>= 1), in the text's encoding.
using CharLengthFn = int (*)(const unsigned char *s);

// One input file as the reader sees it.  `text` is `length` bytes (not necessarily
// NUL-terminated) and must outlive the reader.
struct SourceFile {
  const char *name;  // as positions show it
  const char *text;
  size_t length;
};

// \i / \include (relative = false: the working directory) and \ir /
// \include_relative (relative = true: the directory of `from`).  Returns the file,
// or nullptr with *error set to a message (the include becomes a note).
using IncludeFn = const SourceFile *(*)(void *context, const SourceFile *from, const char *path,
                                        bool relative, const char **error);

struct Position {
  const SourceFile *file;
  size_t offset;  // byte offset in file->text
  int line;       // 1-based
  int column;     // 1-based, in characters
};

enum class ItemKind : uint8_t {
  Statement,  // SQL psql sends to the server
  Note,       // something psql does that cannot be simulated (text says what)
  Connect,    // \connect: the rest runs in a new session; text is the database or "-"
};

struct Item {
  ItemKind kind;
  const char *text;  // NUL-terminated; valid until the next NextItem() call
  size_t length;
  Position where;      // where the statement (first token) or meta-command starts
  bool on_error_stop;  // psql's ON_ERROR_STOP when the statement is sent
  bool autocommit;     // psql's AUTOCOMMIT when the statement is sent
  bool copy_from_stdin;  // COPY ... FROM STDIN: its data lines were skipped
};

struct Reader;

struct ReaderOptions {
  const Allocator *allocator;
  CharLengthFn char_length;  // nullptr: UTF-8
  IncludeFn include;         // nullptr: includes become notes
  void *include_context;
  const char *no_include_reason;  // note text when include is nullptr
  // The session's standard_conforming_strings is off when the script starts (psql reads
  // it from the server); the script's own SET [SESSION] / RESET of it is followed.
  bool nonstandard_strings;
};

Reader *NewReader(const ReaderOptions &options, const SourceFile *file);
void FreeReader(Reader *reader);  // everything the reader allocated

// psql variables set before the script runs (DBNAME, USER, -v NAME=VALUE).
void SetVariable(Reader *reader, const char *name, const char *value);

// The next item in execution order; false at the end (or after \q).
bool NextItem(Reader *reader, Item *item);

// The position of byte `offset` of the current item's text (for an error position
// inside a statement).  Text that came from a variable maps to the variable's name.
Position Locate(const Reader *reader, const Item &item, size_t offset);

// The origin of a statement's bytes, kept by callers that locate positions after the
// reader has moved on (the lint: the server answers later).
struct Segment;
struct StatementMap {
  Position first;  // the statement's first byte
  const Segment *segments;
  size_t count;
};
struct Segment {
  size_t text_offset;  // from this byte of the statement text on ...
  size_t file_offset;  // ... the bytes come from here in the file
  bool from_variable;  // (all of them from this one place: a :variable)
};
StatementMap CurrentMap(const Reader *reader);  // of the current item; valid until NextItem()
Position LocateInMap(const StatementMap &map, size_t offset, CharLengthFn char_length);

// psql's boolean values (ParseVariableBool): prefixes of true/false/yes/no, on/off, 1/0.
bool ParseBool(const char *value, bool *result);

// UTF-8 character length (invalid lead bytes count as one byte).
int Utf8CharLength(const unsigned char *s);

}  // namespace schema_guard::script
