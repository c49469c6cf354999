#include "throwaway_server.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "script/psql_reader.hpp"

namespace schema_guard::lint {
namespace {

std::string BinDir() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  buf[n] = '\0';
  std::string path = buf;
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// Run a server program, as the postgres user when we are root (initdb and postgres
// refuse to run as root); its output goes to log.  True when it exits with 0.
bool Run(const std::vector<std::string> &argv, const struct passwd *as, const std::string &log) {
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    if (as != nullptr && (setgid(as->pw_gid) != 0 || setuid(as->pw_uid) != 0)) _exit(126);
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);  // as the server's user
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, 0);
    std::vector<char *> args;
    for (const std::string &a : argv) args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string Tail(const std::string &path) {
  FILE *f = fopen(path.c_str(), "r");
  if (f == nullptr) return "";
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  fclose(f);
  if (text.size() > 1500) text = "..." + text.substr(text.size() - 1500);
  return text;
}

bool ReadText(const std::string &path, std::string *out, std::string *error) {
  FILE *f = fopen(path.c_str(), "rb");
  if (f == nullptr) {
    *error = path + ": " + strerror(errno);
    return false;
  }
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out->append(buf, n);
  fclose(f);
  if (out->find('\0') != std::string::npos) {
    *error = path + ": binary file (a NUL byte)";
    return false;
  }
  return true;
}

void *Malloc(size_t n) {
  void *p = malloc(n);
  if (p == nullptr) abort();
  return p;
}
void *Realloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (q == nullptr) abort();
  return q;
}
const script::Allocator kAllocator = {Malloc, Realloc, free};

PGconn *ConnectTo(const std::string &dir) {
  const char *keys[] = {"host", "port", "user", "dbname", "application_name", "client_encoding", nullptr};
  const char *values[] = {dir.c_str(), "5432", "postgres", "postgres", "schema_guard_lint", "UTF8", nullptr};
  return PQconnectdbParams(keys, values, 0);
}

// Load the schema as psql would run it, with the guard off; statements that fail
// (an extension this server does not have, say) are reported, not fatal.
bool LoadSchema(PGconn *conn, const std::string &path, std::string *error) {
  std::string text;
  if (!ReadText(path, &text, error)) return false;
  script::SourceFile file = {path.c_str(), text.data(), text.size()};
  script::ReaderOptions ro{};
  ro.allocator = &kAllocator;
  ro.no_include_reason = "not read";
  script::Reader *reader = script::NewReader(ro, &file);
  script::Item item;
  int failed = 0;
  while (script::NextItem(reader, &item)) {
    if (item.kind != script::ItemKind::Statement || item.copy_from_stdin) continue;  // no data in a schema
    PGresult *r = PQexec(conn, item.text);
    const ExecStatusType status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_EMPTY_QUERY) {
      if (failed++ < 5) {
        std::string e = PQresultErrorMessage(r);
        while (!e.empty() && e.back() == '\n') e.pop_back();
        fprintf(stderr, "schema_guard_lint: --schema %s:%d: %s\n", path.c_str(), item.where.line, e.c_str());
      }
      if (PQtransactionStatus(conn) == PQTRANS_INERROR) PQclear(PQexec(conn, "ROLLBACK"));
    }
    PQclear(r);
  }
  script::FreeReader(reader);
  if (failed > 0)
    fprintf(stderr, "schema_guard_lint: --schema %s: %d statement(s) failed to load; the rest is loaded\n", path.c_str(),
            failed);
  return true;
}

// CSV records (RFC 4180: quoted fields may hold commas, quotes and newlines).
std::vector<std::vector<std::string>> ParseCsv(const std::string &text) {
  std::vector<std::vector<std::string>> records(1, std::vector<std::string>(1));
  bool quoted = false;
  for (size_t i = 0; i < text.size(); i++) {
    const char c = text[i];
    std::string &field = records.back().back();
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += text[++i];
      else if (c == '"') quoted = false;
      else field += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      records.back().emplace_back();
    } else if (c == '\n') {
      records.emplace_back(1);
    } else if (c != '\r') {
      field += c;
    }
  }
  if (records.back().size() == 1 && records.back()[0].empty()) records.pop_back();
  return records;
}

void AppendArrayElement(std::string *array, const std::string &value) {
  if (array->size() > 1) *array += ',';
  *array += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') *array += '\\';
    *array += c;
  }
  *array += '"';
}

// Sizes as schema_guard.export_table_sizes() exports them with COPY ... CSV: relation,bytes.
bool LoadSizes(PGconn *conn, const std::string &path, std::string *error) {
  std::string text;
  if (!ReadText(path, &text, error)) return false;
  std::string names = "{", bytes = "{";
  for (const auto &record : ParseCsv(text)) {
    if (record.size() == 2 && record[0] == "relation" && record[1] == "bytes") continue;  // a header
    if (record.size() != 2 || record[1].empty() || record[1].find_first_not_of("0123456789") != std::string::npos) {
      *error = path + ": expected relation,bytes records (COPY (SELECT * FROM schema_guard.export_table_sizes()) TO STDOUT CSV)";
      return false;
    }
    AppendArrayElement(&names, record[0]);
    AppendArrayElement(&bytes, record[1]);
  }
  names += "}";
  bytes += "}";
  const char *params[2] = {names.c_str(), bytes.c_str()};
  PGresult *r = PQexecParams(conn, "SELECT schema_guard._simulate_table_sizes($1::text[], $2::bigint[])", 2, nullptr,
                             params, nullptr, nullptr, 0);
  const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
  if (!ok) *error = path + ": " + PQresultErrorMessage(r);
  PQclear(r);
  return ok;
}

}  // namespace

PGconn *StartThrowaway(const std::string &schema_file, const std::string &sizes_file, std::string *dir,
                       std::string *error) {
  const std::string bindir = BinDir();
  for (const char *program : {"postgres", "initdb", "pg_ctl"})
    if (access((bindir + "/" + program).c_str(), X_OK) != 0) {
      *error = "--schema needs the PostgreSQL server binaries next to schema_guard_lint (" + bindir + "/" + program +
               " is missing): install the postgresql server package the extension was built for";
      return nullptr;
    }
  const struct passwd *as = nullptr;
  if (geteuid() == 0) {
    as = getpwnam("postgres");
    if (as == nullptr) {
      *error = "--schema as root needs a \"postgres\" user to run the throwaway server (PostgreSQL refuses root)";
      return nullptr;
    }
  }
  const char *tmp = getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/schema_guard_lint.XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    *error = pattern + ": " + strerror(errno);
    return nullptr;
  }
  *dir = buf.data();
  if (as != nullptr && chown(dir->c_str(), as->pw_uid, as->pw_gid) != 0) {
    *error = *dir + ": " + strerror(errno);
    return nullptr;
  }
  const std::string log = *dir + "/setup.log";
  const std::string server_log = *dir + "/server.log";
  if (!Run({bindir + "/initdb", "-D", *dir + "/data", "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8",
            "--locale=C"},
           as, log)) {
    *error = "initdb failed:\n" + Tail(log);
    return nullptr;
  }
  const std::string options = "-c listen_addresses='' -c unix_socket_directories='" + *dir +
                              "' -c port=5432 -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
                              " -c shared_preload_libraries=schema_guard";
  if (!Run({bindir + "/pg_ctl", "-D", *dir + "/data", "-l", server_log, "-o", options, "-w", "-t", "60", "start"}, as,
           log)) {
    *error = "the throwaway server did not start:\n" + Tail(server_log);
    return nullptr;
  }
  PGconn *conn = ConnectTo(*dir);
  if (PQstatus(conn) != CONNECTION_OK) {
    *error = std::string("cannot connect to the throwaway server: ") + PQerrorMessage(conn);
    PQfinish(conn);
    return nullptr;
  }
  // The schema first, with the guard off (a dump of a database with the extension
  // creates it before the tables); then the extension, if the schema did not create it.
  PQclear(PQexec(conn, "SET schema_guard.mode = off"));
  if (!LoadSchema(conn, schema_file, error)) {
    PQfinish(conn);
    return nullptr;
  }
  PGresult *r = PQexec(conn, "CREATE EXTENSION IF NOT EXISTS schema_guard; ALTER EXTENSION schema_guard UPDATE");
  const bool created = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!created) *error = std::string("CREATE EXTENSION schema_guard failed: ") + PQresultErrorMessage(r);
  PQclear(r);
  if (!created) {
    PQfinish(conn);
    return nullptr;
  }
  PQfinish(conn);  // the schema may have changed session settings (pg_dump clears search_path)
  conn = ConnectTo(*dir);
  if (PQstatus(conn) != CONNECTION_OK) {
    *error = std::string("cannot connect to the throwaway server: ") + PQerrorMessage(conn);
    PQfinish(conn);
    return nullptr;
  }
  if (!sizes_file.empty()) {
    // Production's sizes stand in for the empty tables: judge by them (by default
    // check() judges every table as if it were large).
    if (!LoadSizes(conn, sizes_file, error)) {
      PQfinish(conn);
      return nullptr;
    }
    PQclear(PQexec(conn, "SET schema_guard.table_sizes = real"));
  }
  return conn;
}

void StopThrowaway(const std::string &dir) {
  if (dir.empty()) return;
  const std::string bindir = BinDir();
  const struct passwd *as = geteuid() == 0 ? getpwnam("postgres") : nullptr;
  Run({bindir + "/pg_ctl", "-D", dir + "/data", "-m", "immediate", "-w", "stop"}, as, "/dev/null");
  const std::vector<std::string> rm = {"/bin/rm", "-rf", dir};
  Run(rm, nullptr, "/dev/null");
}

}  // namespace schema_guard::lint
