// schema_guard_lint: judge migration files before they run, for CI.
//
// The client reads the files (it has the file system: directories, stdin, \i and \ir
// relative to the including file) with the same psql reader the extension uses, so
// every statement keeps its file, line and column.  The statements of all files form
// one ordered sequence (one change: a later file sees the tables an earlier one
// creates), each file wrapped in the transaction its migration tool opens unless it
// manages transactions itself.  The sequence goes to the server in ONE call of
// schema_guard._check_sequence() over ONE connection; the rows come back as typed
// columns, never parsed out of text.  Exit status: 0 no blocking finding, 1 a finding
// would block, 2 usage, connection, unreadable or binary file.
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "libpq-fe.h"
#include "script/psql_reader.hpp"
#include "throwaway_server.hpp"

namespace {

using schema_guard::script::Item;
using schema_guard::script::ItemKind;
using schema_guard::script::Position;
using schema_guard::script::Reader;
using schema_guard::script::Segment;
using schema_guard::script::SourceFile;
using schema_guard::script::StatementMap;

constexpr const char *kProgram = "schema_guard_lint";
constexpr const char *kVersion = "0.3.0";

// ------------------------------------------------------------------ options

enum class Format { Text, Json, GitHub, GitLab, Sarif };
enum class TransactionMode { PerFile, None, Single };

struct Options {
  Format format = Format::Text;
  TransactionMode transaction = TransactionMode::PerFile;
  bool transaction_set = false;
  bool real_sizes = false;  // judge by the tables' real sizes (default: as if large)
  std::string dbname, host, port, user;
  std::string stdin_filename;
  std::string config_path;
  std::string schema_file;  // --schema: judge against a throwaway server with this schema
  std::string sizes_file;   // --table-sizes: production sizes for the throwaway server
  std::vector<std::pair<std::string, std::string>> variables;  // -v NAME=VALUE
  std::vector<std::string> inputs;
};

struct Config {
  std::map<std::string, std::string> rule_actions;  // rule -> off | warn | block
  std::string mode;                                 // "" | warn | block
  std::vector<std::string> exclude;                 // fnmatch patterns
};

[[noreturn]] void Usage(const std::string &message) {
  fprintf(stderr, "%s: %s\nTry \"%s --help\" for more information.\n", kProgram, message.c_str(), kProgram);
  exit(2);
}

void PrintHelp() {
  printf(
      "%s judges migration files with schema_guard before they run.\n\n"
      "Usage:\n  %s [OPTION]... [FILE|DIRECTORY|-]...\n\n"
      "Files are judged in the order given as one change (directories: their *.sql files,\n"
      "recursively, sorted by path; -: standard input). No file: exit 0 with a note.\n\n"
      "Options:\n"
      "  -d, --dbname=CONNINFO       database name, connection string or URI\n"
      "  -h, --host=HOST             database server host or socket directory\n"
      "  -p, --port=PORT             database server port\n"
      "  -U, --username=USER         database user name\n"
      "      --schema=FILE           no database: start a throwaway PostgreSQL with the\n"
      "                              extension, load FILE (pg_dump -s or earlier migrations)\n"
      "      --table-sizes=FILE      with --schema: sizes exported by schema_guard.export_table_sizes()\n"
      "  -f, --format=FORMAT         text (default), json, github, gitlab, sarif\n"
      "      --transaction=MODE      file (default: each file in its own transaction unless it\n"
      "                              manages transactions itself), none (psql -f), single\n"
      "      --real-sizes            judge by the tables' real sizes, as the guard does live\n"
      "                              (default: every table as if it were large; CI databases\n"
      "                              are usually empty)\n"
      "      --stdin-filename=NAME   the name shown for standard input\n"
      "  -v, --set=NAME=VALUE        a psql variable, as psql -v\n"
      "  -c, --config=FILE           rule actions and path exclusions (default:\n"
      "                              .schema_guard_lint.conf in the current directory, if any)\n"
      "      --help, --version\n\n"
      "Connection: libpq's environment (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, ...)\n"
      "or the options above.\n"
      "Exit status: 0 no finding would block, 1 a finding would block, 2 usage, connection,\n"
      "unreadable or binary file.\n",
      kProgram, kProgram);
}

bool ParseFormat(const std::string &v, Format *f) {
  if (v == "text") *f = Format::Text;
  else if (v == "json") *f = Format::Json;
  else if (v == "github") *f = Format::GitHub;
  else if (v == "gitlab") *f = Format::GitLab;
  else if (v == "sarif") *f = Format::Sarif;
  else return false;
  return true;
}

bool ParseTransaction(const std::string &v, TransactionMode *m) {
  if (v == "file") *m = TransactionMode::PerFile;
  else if (v == "none") *m = TransactionMode::None;
  else if (v == "single") *m = TransactionMode::Single;
  else return false;
  return true;
}

Options ParseOptions(int argc, char **argv) {
  Options o;
  struct Spec {
    const char *long_name;
    char short_name;
    std::string *target;
  };
  std::string format_text, transaction_text, variable_text;
  const Spec specs[] = {
      {"dbname", 'd', &o.dbname},       {"host", 'h', &o.host},
      {"port", 'p', &o.port},           {"username", 'U', &o.user},
      {"format", 'f', &format_text},    {"transaction", 0, &transaction_text},
      {"stdin-filename", 0, &o.stdin_filename}, {"config", 'c', &o.config_path},
      {"schema", 0, &o.schema_file},    {"table-sizes", 0, &o.sizes_file},
      {"set", 'v', &variable_text},
  };
  bool only_files = false;
  for (int i = 1; i < argc; i++) {
    const std::string arg = argv[i];
    if (only_files || arg == "-" || arg.empty() || arg[0] != '-') {
      o.inputs.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_files = true;
      continue;
    }
    if (arg == "--help" || arg == "-?") {
      PrintHelp();
      exit(0);
    }
    if (arg == "--real-sizes") {
      o.real_sizes = true;
      continue;
    }
    if (arg == "--version" || arg == "-V") {
      printf("%s %s\n", kProgram, kVersion);
      exit(0);
    }
    const Spec *spec = nullptr;
    std::string value;
    bool has_value = false;
    if (arg.compare(0, 2, "--") == 0) {
      const size_t eq = arg.find('=');
      const std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      for (const Spec &s : specs)
        if (name == s.long_name) spec = &s;
      if (spec == nullptr) Usage("unknown option " + arg);
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
        has_value = true;
      }
    } else {
      for (const Spec &s : specs)
        if (s.short_name != 0 && arg[1] == s.short_name) spec = &s;
      if (spec == nullptr) Usage("unknown option " + arg);
      if (arg.size() > 2) {
        value = arg.substr(2);
        has_value = true;
      }
    }
    if (!has_value) {
      if (i + 1 >= argc) Usage(std::string("option ") + arg + " needs a value");
      value = argv[++i];
    }
    *spec->target = value;
    if (spec->target == &format_text && !ParseFormat(value, &o.format))
      Usage("--format must be text, json, github, gitlab or sarif, not \"" + value + "\"");
    if (spec->target == &transaction_text) {
      if (!ParseTransaction(value, &o.transaction)) Usage("--transaction must be file, none or single");
      o.transaction_set = true;
    }
    if (spec->target == &variable_text) {
      const size_t eq = value.find('=');
      if (eq == std::string::npos || eq == 0) Usage("-v needs NAME=VALUE, not \"" + value + "\"");
      o.variables.emplace_back(value.substr(0, eq), value.substr(eq + 1));
    }
  }
  if (!o.sizes_file.empty() && o.schema_file.empty()) Usage("--table-sizes needs --schema");
  return o;
}

// ------------------------------------------------------------------ files

struct LoadedFile {
  std::string name;
  std::string text;
  SourceFile source;
};

// Read a whole file (regular file, pipe, character device).  Empty error: fine.
std::string ReadAll(int fd, std::string *out) {
  out->clear();
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return strerror(errno);
    }
    out->append(buf, static_cast<size_t>(n));
  }
  return "";
}

// A migration is text: a NUL byte (psql -f stops reading a line there and runs what
// follows) or invalid UTF-8 makes it a file the lint refuses, naming it.
std::string CheckText(const std::string &text) {
  const size_t nul = text.find('\0');
  if (nul != std::string::npos) return "binary file (NUL byte at offset " + std::to_string(nul) + ")";
  const auto *s = reinterpret_cast<const unsigned char *>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || i + len > n || (len == 2 && c < 0xc2)) return "not UTF-8 text (byte offset " + std::to_string(i) + ")";
    for (size_t k = 1; k < len; k++)
      if ((s[i + k] & 0xc0) != 0x80) return "not UTF-8 text (byte offset " + std::to_string(i) + ")";
    i += len;
  }
  return "";
}

std::string ReadPath(const std::string &path, std::string *out) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return strerror(errno);
  if (S_ISDIR(st.st_mode)) return "is a directory";
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return strerror(errno);
  std::string error = ReadAll(fd, out);
  close(fd);
  if (!error.empty()) return error;
  return CheckText(*out);
}

std::string DirName(const std::string &path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string JoinPath(const std::string &dir, const std::string &name) {
  if (!name.empty() && name[0] == '/') return name;
  if (dir.empty() || dir == ".") return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

bool EndsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void WalkDirectory(const std::string &dir, int depth, std::vector<std::string> *files, std::vector<std::string> *errors) {
  if (depth > 64) {
    errors->push_back(dir + ": directories nested too deeply");
    return;
  }
  DIR *d = opendir(dir.c_str());
  if (d == nullptr) {
    errors->push_back(dir + ": " + strerror(errno));
    return;
  }
  std::vector<std::string> entries;
  while (dirent *e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    entries.push_back(JoinPath(dir, name));
  }
  closedir(d);
  for (const std::string &path : entries) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) continue;  // a dangling link is not a migration
    if (S_ISDIR(st.st_mode)) WalkDirectory(path, depth + 1, files, errors);
    else if (EndsWith(path, ".sql")) files->push_back(path);
  }
}

// ------------------------------------------------------------------ config

std::string Trim(const std::string &s) {
  size_t b = 0, e = s.size();
  while (b < e && isspace(static_cast<unsigned char>(s[b]))) b++;
  while (e > b && isspace(static_cast<unsigned char>(s[e - 1]))) e--;
  return s.substr(b, e - b);
}

std::vector<std::string> SplitList(const std::string &s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t comma = s.find(',', start);
    const std::string item = Trim(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// Config file: "key = value" lines, # comments.
//   rules = drop_table:warn, truncate:off   (actions applied to the server's findings)
//   mode = warn                              (every block reported as warn)
//   exclude = db/legacy/*, *.down.sql        (paths never judged; fnmatch patterns)
//   transaction = file | none | single
bool LoadConfig(const std::string &path, bool required, Config *config, Options *options, std::string *error) {
  std::string text;
  const std::string read_error = ReadPath(path, &text);
  if (!read_error.empty()) {
    if (!required && access(path.c_str(), F_OK) != 0) return true;
    *error = path + ": " + read_error;
    return false;
  }
  size_t line_no = 0, start = 0;
  while (start <= text.size()) {
    const size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    start = nl == std::string::npos ? text.size() + 1 : nl + 1;
    line_no++;
    const size_t hash = line.find('#');
    if (hash != std::string::npos) line = line.substr(0, hash);
    line = Trim(line);
    if (line.empty()) continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) {
      *error = path + ":" + std::to_string(line_no) + ": expected key = value";
      return false;
    }
    const std::string key = Trim(line.substr(0, eq)), value = Trim(line.substr(eq + 1));
    if (key == "rules") {
      for (const std::string &item : SplitList(value)) {
        const size_t colon = item.find(':');
        const std::string action = colon == std::string::npos ? "" : Trim(item.substr(colon + 1));
        if (colon == std::string::npos || (action != "off" && action != "warn" && action != "block")) {
          *error = path + ":" + std::to_string(line_no) + ": rules items are rule_id:off|warn|block, not \"" + item + "\"";
          return false;
        }
        config->rule_actions[Trim(item.substr(0, colon))] = action;
      }
    } else if (key == "mode") {
      if (value != "warn" && value != "block") {
        *error = path + ":" + std::to_string(line_no) + ": mode is warn or block";
        return false;
      }
      config->mode = value;
    } else if (key == "exclude") {
      for (const std::string &p : SplitList(value)) config->exclude.push_back(p);
    } else if (key == "transaction") {
      if (!ParseTransaction(value, &options->transaction) && !options->transaction_set) {
        *error = path + ":" + std::to_string(line_no) + ": transaction is file, none or single";
        return false;
      }
    } else {
      *error = path + ":" + std::to_string(line_no) + ": unknown key \"" + key + "\"";
      return false;
    }
  }
  return true;
}

bool Excluded(const Config &config, const std::string &path) {
  std::string p = path;
  while (p.compare(0, 2, "./") == 0) p = p.substr(2);
  for (const std::string &pattern : config.exclude)
    if (fnmatch(pattern.c_str(), p.c_str(), 0) == 0 || fnmatch(pattern.c_str(), path.c_str(), 0) == 0) return true;
  return false;
}

// ------------------------------------------------------------------ reading scripts

void *Malloc(size_t n) {
  void *p = malloc(n);
  if (p == nullptr) {
    fprintf(stderr, "%s: out of memory\n", kProgram);
    exit(2);
  }
  return p;
}
void *Realloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (q == nullptr) {
    fprintf(stderr, "%s: out of memory\n", kProgram);
    exit(2);
  }
  return q;
}
const schema_guard::script::Allocator kAllocator = {Malloc, Realloc, free};

struct StepInfo {
  char kind;  // S N C B E
  bool on_error_stop = false;
  bool autocommit = true;
  std::string text;
  Position where{};
  Position first{};
  std::vector<Segment> segments;
};

struct Linter {
  Options options;
  Config config;
  std::deque<LoadedFile> files;  // stable addresses: SourceFile pointers stay valid
  std::vector<StepInfo> steps;
  std::vector<std::string> errors;  // unreadable or binary files: exit 2
  std::string include_error;
  std::vector<std::pair<std::string, std::string>> psql_variables;
};

const SourceFile *LoadFile(Linter *linter, const std::string &name, std::string text) {
  linter->files.push_back(LoadedFile{name, std::move(text), SourceFile{}});
  LoadedFile &f = linter->files.back();
  f.source = SourceFile{f.name.c_str(), f.text.data(), f.text.size()};
  return &f.source;
}

// \i: the working directory (where psql runs), then the including file's directory
// (where it runs when the tool changes into the migrations directory); \ir: the
// including file's directory, as psql does.
const SourceFile *ResolveInclude(void *context, const SourceFile *from, const char *path, bool relative,
                                 const char **error) {
  auto *linter = static_cast<Linter *>(context);
  std::vector<std::string> candidates;
  const std::string dir = from ? DirName(from->name) : ".";
  if (path[0] == '/') candidates.push_back(path);
  else if (relative) candidates.push_back(JoinPath(dir, path));
  else {
    candidates.push_back(path);
    if (dir != ".") candidates.push_back(JoinPath(dir, path));
  }
  std::string last_error;
  for (const std::string &candidate : candidates) {
    std::string text;
    const std::string e = ReadPath(candidate, &text);
    if (e.empty()) return LoadFile(linter, candidate, std::move(text));
    last_error = candidate + ": " + e;
    if (access(candidate.c_str(), F_OK) == 0) break;  // exists but unreadable or binary: say so
  }
  linter->include_error = last_error;
  linter->errors.push_back(last_error + " (included from " + (from ? from->name : "?") + ")");
  *error = linter->include_error.c_str();
  return nullptr;
}

bool StartsWithWord(const std::string &text, const char *word) {
  size_t i = 0;
  while (i < text.size()) {  // skip /* comments */ and blanks
    if (isspace(static_cast<unsigned char>(text[i]))) i++;
    else if (text.compare(i, 2, "/*") == 0) {
      const size_t end = text.find("*/", i + 2);
      i = end == std::string::npos ? text.size() : end + 2;
    } else break;
  }
  const size_t n = strlen(word);
  if (text.size() - i < n) return false;
  for (size_t k = 0; k < n; k++)
    if (tolower(static_cast<unsigned char>(text[i + k])) != word[k]) return false;
  return i + n == text.size() || !(isalnum(static_cast<unsigned char>(text[i + n])) || text[i + n] == '_');
}

bool IsTransactionControl(const std::string &sql) {
  static const char *const kWords[] = {"begin", "start", "commit", "end", "rollback", "abort"};
  for (const char *w : kWords)
    if (StartsWithWord(sql, w)) return true;
  return false;
}

// Markers with which migration tools run a file outside a transaction.
bool HasNoTransactionMarker(const std::string &text) {
  static const char *const kMarkers[] = {
      "schema_guard:no-transaction",  // ours
      "transaction:false",            // dbmate: -- migrate:up transaction:false
      "--! no-transaction",           // graphile-migrate
      "+goose NO TRANSACTION",        // goose
      "atlas:txmode none",            // atlas
  };
  for (const char *m : kMarkers)
    if (text.find(m) != std::string::npos) return true;
  return false;
}

// One top-level file: its steps, wrapped in the tool's transaction where that applies.
void ReadScript(Linter *linter, const SourceFile *file) {
  schema_guard::script::ReaderOptions ro{};
  ro.allocator = &kAllocator;
  ro.include = ResolveInclude;
  ro.include_context = linter;
  Reader *reader = schema_guard::script::NewReader(ro, file);
  for (const auto &v : linter->psql_variables) schema_guard::script::SetVariable(reader, v.first.c_str(), v.second.c_str());
  std::vector<StepInfo> steps;
  bool own_transactions = false;
  Item item;
  while (schema_guard::script::NextItem(reader, &item)) {
    StepInfo st;
    st.kind = item.kind == ItemKind::Statement ? 'S' : item.kind == ItemKind::Note ? 'N' : 'C';
    st.on_error_stop = item.on_error_stop;
    st.autocommit = item.autocommit;
    st.text.assign(item.text, item.length);
    st.where = item.where;
    if (item.kind == ItemKind::Statement) {
      const StatementMap map = schema_guard::script::CurrentMap(reader);
      st.first = map.first;
      st.segments.assign(map.segments, map.segments + map.count);
      own_transactions |= IsTransactionControl(st.text);
    }
    steps.push_back(std::move(st));
  }
  schema_guard::script::FreeReader(reader);
  const bool wrap = linter->options.transaction == TransactionMode::PerFile && !own_transactions &&
                    !HasNoTransactionMarker(std::string(file->text, file->length));
  StepInfo edge;
  edge.where = Position{file, 0, 1, 1};
  if (wrap) {
    edge.kind = 'B';
    linter->steps.push_back(edge);
  }
  for (auto &st : steps) linter->steps.push_back(std::move(st));
  if (wrap) {
    edge.kind = 'E';
    linter->steps.push_back(edge);
  }
}

// ------------------------------------------------------------------ findings

struct Finding {
  std::string file;
  int line = 0;
  int column = 0;
  std::string rule, action, relation, lock_mode, message, hint;
  bool rewrites = false, scans = false;
};

size_t Utf8BytesForChars(const std::string &text, long chars) {
  size_t i = 0;
  for (long c = 0; c < chars && i < text.size(); c++)
    i += static_cast<size_t>(schema_guard::script::Utf8CharLength(reinterpret_cast<const unsigned char *>(text.data() + i)));
  return std::min(i, text.size());
}

// ------------------------------------------------------------------ output

std::string JsonString(const std::string &s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// GitHub workflow commands: data escapes %, CR, LF; properties also : and ,.
std::string GitHubEscape(const std::string &s, bool property) {
  std::string out;
  for (char c : s) {
    if (c == '%') out += "%25";
    else if (c == '\r') out += "%0D";
    else if (c == '\n') out += "%0A";
    else if (property && c == ':') out += "%3A";
    else if (property && c == ',') out += "%2C";
    else out += c;
  }
  return out;
}

std::string Fingerprint(const Finding &f) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  const std::string key = f.file + '\n' + f.rule + '\n' + std::to_string(f.line) + '\n' + std::to_string(f.column) + '\n' + f.message;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[20];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

void PrintFindings(const Options &o, const std::vector<Finding> &findings,
                   const std::map<std::string, std::string> &rule_descriptions) {
  switch (o.format) {
    case Format::Text:
      for (const Finding &f : findings) {
        printf("%s:%d:%d: %s[%s]: %s\n", f.file.c_str(), f.line, f.column, f.action.c_str(), f.rule.c_str(),
               f.message.c_str());
        if (!f.hint.empty()) printf("    hint: %s\n", f.hint.c_str());
      }
      break;
    case Format::Json: {
      printf("[");
      for (size_t i = 0; i < findings.size(); i++) {
        const Finding &f = findings[i];
        printf("%s\n  {\"file\": %s, \"line\": %d, \"column\": %d, \"rule\": %s, \"action\": %s, \"relation\": %s, "
               "\"lock_mode\": %s, \"rewrites\": %s, \"scans\": %s, \"message\": %s, \"hint\": %s}",
               i ? "," : "", JsonString(f.file).c_str(), f.line, f.column, JsonString(f.rule).c_str(),
               JsonString(f.action).c_str(), f.relation.empty() ? "null" : JsonString(f.relation).c_str(),
               f.lock_mode.empty() ? "null" : JsonString(f.lock_mode).c_str(), f.rewrites ? "true" : "false",
               f.scans ? "true" : "false", JsonString(f.message).c_str(), JsonString(f.hint).c_str());
      }
      printf("%s]\n", findings.empty() ? "" : "\n");
      break;
    }
    case Format::GitHub:
      for (const Finding &f : findings)
        printf("::%s file=%s,line=%d,col=%d,title=%s::%s\n", f.action == "block" ? "error" : "warning",
               GitHubEscape(f.file, true).c_str(), f.line, f.column, GitHubEscape("schema_guard " + f.rule, true).c_str(),
               GitHubEscape(f.message + (f.hint.empty() ? "" : "\nhint: " + f.hint), false).c_str());
      break;
    case Format::GitLab: {
      printf("[");
      for (size_t i = 0; i < findings.size(); i++) {
        const Finding &f = findings[i];
        printf("%s\n  {\"description\": %s, \"check_name\": %s, \"fingerprint\": \"%s\", \"severity\": \"%s\", "
               "\"location\": {\"path\": %s, \"lines\": {\"begin\": %d}}}",
               i ? "," : "", JsonString(f.message).c_str(), JsonString(f.rule).c_str(), Fingerprint(f).c_str(),
               f.action == "block" ? "critical" : "minor", JsonString(f.file).c_str(), f.line);
      }
      printf("%s]\n", findings.empty() ? "" : "\n");
      break;
    }
    case Format::Sarif: {
      std::set<std::string> rules;
      for (const Finding &f : findings) rules.insert(f.rule);
      printf("{\n  \"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n  \"version\": \"2.1.0\",\n"
             "  \"runs\": [{\n    \"tool\": {\"driver\": {\"name\": \"schema_guard_lint\", \"version\": \"%s\", "
             "\"rules\": [",
             kVersion);
      size_t i = 0;
      for (const std::string &r : rules) {
        const auto d = rule_descriptions.find(r);
        printf("%s\n      {\"id\": %s, \"shortDescription\": {\"text\": %s}}", i++ ? "," : "", JsonString(r).c_str(),
               JsonString(d == rule_descriptions.end() ? r : d->second).c_str());
      }
      printf("]}},\n    \"results\": [");
      for (size_t k = 0; k < findings.size(); k++) {
        const Finding &f = findings[k];
        printf("%s\n      {\"ruleId\": %s, \"level\": \"%s\", \"message\": {\"text\": %s}, \"locations\": [{"
               "\"physicalLocation\": {\"artifactLocation\": {\"uri\": %s}, \"region\": {\"startLine\": %d, "
               "\"startColumn\": %d}}}]}",
               k ? "," : "", JsonString(f.rule).c_str(), f.action == "block" ? "error" : "warning",
               JsonString(f.message + (f.hint.empty() ? "" : "\nhint: " + f.hint)).c_str(), JsonString(f.file).c_str(),
               f.line, f.column);
      }
      printf("]\n  }]\n}\n");
      break;
    }
  }
}

// ------------------------------------------------------------------ server

std::string ArrayLiteral(const std::vector<StepInfo> &steps) {
  std::string out = "{";
  for (size_t i = 0; i < steps.size(); i++) {
    const StepInfo &st = steps[i];
    if (i) out += ',';
    out += '"';
    out += st.kind;
    out += static_cast<char>('0' + (st.on_error_stop ? 1 : 0) + (st.autocommit ? 2 : 0));
    for (char c : st.text) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

[[noreturn]] void Fail(PGconn *conn, const std::string &message) {
  fprintf(stderr, "%s: %s\n", kProgram, message.c_str());
  if (conn) PQfinish(conn);
  exit(2);
}

std::string Trimmed(const char *s) {
  std::string t = s ? s : "";
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t;
}

PGconn *Connect(const Options &o) {
  std::vector<const char *> keys, values;
  auto add = [&](const char *k, const std::string &v) {
    if (!v.empty()) {
      keys.push_back(k);
      values.push_back(v.c_str());
    }
  };
  add("host", o.host);
  add("port", o.port);
  add("user", o.user);
  add("dbname", o.dbname);  // expanded: a name, a key=value string or a URI
  keys.push_back("application_name");
  values.push_back(kProgram);
  keys.push_back("client_encoding");
  values.push_back("UTF8");
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn *conn = PQconnectdbParams(keys.data(), values.data(), 1);
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK)
    Fail(conn, "cannot connect to the database: " + Trimmed(conn ? PQerrorMessage(conn) : "out of memory"));
  PQsetClientEncoding(conn, "UTF8");
  return conn;
}

void RequireExtension(PGconn *conn) {
  PGresult *r = PQexec(conn,
                       "SELECT (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'schema_guard'), "
                       "pg_catalog.to_regprocedure('schema_guard._check_sequence(text[])') IS NOT NULL");
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    const std::string e = Trimmed(PQresultErrorMessage(r));
    PQclear(r);
    Fail(conn, e);
  }
  const bool installed = !PQgetisnull(r, 0, 0);
  const std::string version = installed ? PQgetvalue(r, 0, 0) : "";
  const bool has_sequence = PQgetvalue(r, 0, 1)[0] == 't';
  PQclear(r);
  if (!installed)
    Fail(conn, std::string("the schema_guard extension is not installed in database \"") + PQdb(conn) +
                   "\": CREATE EXTENSION schema_guard there, or judge without a database with --schema FILE");
  if (!has_sequence)
    Fail(conn, "schema_guard " + version + " in database \"" + PQdb(conn) +
                   "\" is older than this lint (0.3.0): ALTER EXTENSION schema_guard UPDATE");
}

std::map<std::string, std::string> RuleDescriptions(PGconn *conn) {
  std::map<std::string, std::string> out;
  PGresult *r = PQexec(conn, "SELECT rule_id, description FROM schema_guard.rules()");
  if (PQresultStatus(r) == PGRES_TUPLES_OK)
    for (int i = 0; i < PQntuples(r); i++) out[PQgetvalue(r, i, 0)] = PQgetvalue(r, i, 1);
  PQclear(r);
  return out;
}

std::vector<Finding> Judge(PGconn *conn, const Linter &linter) {
  std::vector<Finding> findings;
  if (linter.steps.empty()) return findings;
  const std::string array = ArrayLiteral(linter.steps);
  const Oid types[1] = {1009};  // text[]
  const char *params[1] = {array.c_str()};
  PGresult *r = PQexecParams(conn,
                             "SELECT step, error_offset, rule, action, relation::text, lock_mode, rewrites, scans, "
                             "message, hint FROM schema_guard._check_sequence($1)",
                             1, types, params, nullptr, nullptr, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    const std::string e = Trimmed(PQresultErrorMessage(r));
    PQclear(r);
    Fail(conn, e);
  }
  for (int i = 0; i < PQntuples(r); i++) {
    const long step = strtol(PQgetvalue(r, i, 0), nullptr, 10);
    if (step < 1 || static_cast<size_t>(step) > linter.steps.size()) continue;
    const StepInfo &st = linter.steps[static_cast<size_t>(step - 1)];
    Finding f;
    Position at = st.where;
    if (!PQgetisnull(r, i, 1) && st.kind == 'S' && !st.segments.empty()) {
      const size_t bytes = Utf8BytesForChars(st.text, strtol(PQgetvalue(r, i, 1), nullptr, 10));
      const StatementMap map{st.first, st.segments.data(), st.segments.size()};
      at = schema_guard::script::LocateInMap(map, bytes, nullptr);
    }
    f.file = at.file ? at.file->name : "";
    f.line = at.line;
    f.column = at.column;
    f.rule = PQgetvalue(r, i, 2);
    f.action = PQgetvalue(r, i, 3);
    f.relation = PQgetisnull(r, i, 4) ? "" : PQgetvalue(r, i, 4);
    f.lock_mode = PQgetisnull(r, i, 5) ? "" : PQgetvalue(r, i, 5);
    f.rewrites = PQgetvalue(r, i, 6)[0] == 't';
    f.scans = PQgetvalue(r, i, 7)[0] == 't';
    f.message = PQgetvalue(r, i, 8);
    f.hint = PQgetvalue(r, i, 9);
    findings.push_back(std::move(f));
  }
  PQclear(r);
  return findings;
}

// The config's rule actions, applied where the server judges: SET schema_guard.rules on
// the lint's session to the server's list with the config's actions over it, exactly as
// a SET in the migration would be (PostgreSQL decides whether this role may; a rule off
// on the server but block in the config is then reported).  A role that may not set it
// gets a note, and the actions apply to the reported findings only (ApplyConfig).
// Returns an error (an action the server refuses as invalid), or "".
std::string ApplyConfigRules(PGconn *conn, const Config &config) {
  if (config.rule_actions.empty()) return "";
  std::map<std::string, std::string> merged;
  std::vector<std::string> order;
  PGresult *r = PQexec(conn, "SELECT pg_catalog.current_setting('schema_guard.rules')");
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
    for (const std::string &item : SplitList(PQgetvalue(r, 0, 0))) {
      const size_t colon = item.find(':');
      if (colon == std::string::npos) continue;
      const std::string rule = Trim(item.substr(0, colon));
      if (!merged.count(rule)) order.push_back(rule);
      merged[rule] = Trim(item.substr(colon + 1));
    }
  PQclear(r);
  for (const auto &ra : config.rule_actions) {
    if (!merged.count(ra.first)) order.push_back(ra.first);
    merged[ra.first] = ra.second;
  }
  std::string value;
  for (const std::string &rule : order) value += (value.empty() ? "" : ", ") + rule + ":" + merged[rule];
  const char *params[1] = {value.c_str()};
  r = PQexecParams(conn, "SELECT pg_catalog.set_config('schema_guard.rules', $1, false)", 1, nullptr, params, nullptr,
                   nullptr, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    const std::string e = primary ? primary : Trimmed(PQresultErrorMessage(r));
    const bool denied = state != nullptr && strcmp(state, "42501") == 0;
    PQclear(r);
    if (!denied) return "config rules: " + e;
    fprintf(stderr,
            "%s: note: the config's rule actions apply to the reported findings only (%s); a rule off on the "
            "server stays off\n",
            kProgram, e.c_str());
    return "";
  }
  PQclear(r);
  return "";
}

// The config's rule actions and mode, applied to what the server reported.
void ApplyConfig(const Config &config, std::vector<Finding> *findings) {
  std::vector<Finding> kept;
  for (Finding &f : *findings) {
    const auto it = config.rule_actions.find(f.rule);
    if (it != config.rule_actions.end()) {
      if (it->second == "off") continue;
      f.action = it->second;
    }
    if (config.mode == "warn" && f.action == "block") f.action = "warn";
    kept.push_back(std::move(f));
  }
  *findings = std::move(kept);
}

}  // namespace

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  Linter linter;
  linter.options = ParseOptions(argc, argv);
  Options &o = linter.options;
  std::string config_error;
  const bool config_given = !o.config_path.empty();
  if (!LoadConfig(config_given ? o.config_path : ".schema_guard_lint.conf", config_given, &linter.config, &o,
                  &config_error))
    Usage(config_error);

  // Inputs, in the order given; directories expand to their sorted *.sql files.
  std::vector<std::pair<std::string, bool>> paths;  // (path, is stdin)
  bool stdin_used = false;
  for (const std::string &input : o.inputs) {
    if (input == "-") {
      if (stdin_used) Usage("standard input (-) given twice");
      stdin_used = true;
      paths.emplace_back(o.stdin_filename.empty() ? "<stdin>" : o.stdin_filename, true);
      continue;
    }
    struct stat st;
    if (stat(input.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      std::vector<std::string> found;
      WalkDirectory(input, 0, &found, &linter.errors);
      std::sort(found.begin(), found.end());
      for (const std::string &p : found) paths.emplace_back(p, false);
    } else {
      paths.emplace_back(input, false);
    }
  }
  std::vector<const SourceFile *> scripts;
  for (const auto &p : paths) {
    if (!p.second && Excluded(linter.config, p.first)) continue;
    std::string text, error;
    if (p.second) {
      error = ReadAll(0, &text);
      if (error.empty()) error = CheckText(text);
    } else {
      error = ReadPath(p.first, &text);
    }
    if (!error.empty()) {
      linter.errors.push_back(p.first + ": " + error);
      continue;
    }
    scripts.push_back(LoadFile(&linter, p.first, std::move(text)));
  }
  if (scripts.empty() && linter.errors.empty()) {
    fprintf(stderr, "%s: no migration files to check\n", kProgram);
    PrintFindings(o, {}, {});
    return 0;
  }

  std::string throwaway;
  PGconn *conn = nullptr;
  if (o.schema_file.empty()) {
    conn = Connect(o);
    RequireExtension(conn);
  } else {
    std::string error;
    conn = schema_guard::lint::StartThrowaway(o.schema_file, o.sizes_file, &throwaway, &error);
    if (conn == nullptr) {
      schema_guard::lint::StopThrowaway(throwaway);
      Fail(nullptr, error);
    }
  }
  if (o.real_sizes) {
    PGresult *r = PQexec(conn, "SET schema_guard.table_sizes = real");
    const bool set = PQresultStatus(r) == PGRES_COMMAND_OK;
    const std::string e = set ? "" : Trimmed(PQresultErrorMessage(r));
    PQclear(r);
    if (!set) Fail(conn, "--real-sizes: " + e);
  }
  const std::string rules_error = ApplyConfigRules(conn, linter.config);
  if (!rules_error.empty()) {
    PQfinish(conn);
    schema_guard::lint::StopThrowaway(throwaway);
    Fail(nullptr, rules_error);
  }
  linter.psql_variables = {{"DBNAME", PQdb(conn)}, {"USER", PQuser(conn)}, {"PORT", PQport(conn)}};
  if (PQhost(conn)) linter.psql_variables.emplace_back("HOST", PQhost(conn));
  for (const auto &v : o.variables) linter.psql_variables.push_back(v);

  StepInfo edge;
  edge.kind = 'B';
  if (o.transaction == TransactionMode::Single) linter.steps.push_back(edge);
  for (const SourceFile *file : scripts) ReadScript(&linter, file);
  edge.kind = 'E';
  if (o.transaction == TransactionMode::Single) linter.steps.push_back(edge);

  std::vector<Finding> findings = Judge(conn, linter);
  ApplyConfig(linter.config, &findings);
  const std::map<std::string, std::string> descriptions =
      o.format == Format::Sarif ? RuleDescriptions(conn) : std::map<std::string, std::string>{};
  PQfinish(conn);
  schema_guard::lint::StopThrowaway(throwaway);

  PrintFindings(o, findings, descriptions);
  fflush(stdout);
  for (const std::string &e : linter.errors) fprintf(stderr, "%s: %s\n", kProgram, e.c_str());
  if (!linter.errors.empty()) return 2;
  for (const Finding &f : findings)
    if (f.action == "block") return 1;
  return 0;
}
