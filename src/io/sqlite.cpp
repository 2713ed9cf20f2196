// SQLite wrapper implementation.
#include "io/sqlite.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "io/error.h"

namespace lsc::io {

namespace {

// SQLite's message plus, for a failed read or write, the OS reason when SQLite kept it ("disk I/O
// error" alone does not say whether the disk is full or the device failed).
std::string error_text(sqlite3* db) {
  std::string msg = sqlite3_errmsg(db);
  const int code = sqlite3_errcode(db);
  const int os = sqlite3_system_errno(db);
  if (os != 0 && (code == SQLITE_IOERR || code == SQLITE_FULL)) {
    msg += std::string(" (") + std::strerror(os) + ")";
  }
  return msg;
}

std::string folder_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// -1: no such file (or not a regular file); else its size in bytes.
int64_t file_bytes(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) ? static_cast<int64_t>(st.st_size)
                                                               : -1;
}

// Opens path and reads the schema, so that a file that is not a database fails here, naming it.
// Returns SQLITE_OK or the error code; *db is then open, or null with *msg set.
int open_and_probe(const std::string& uri, int flags, sqlite3** db, std::string* msg) {
  if (sqlite3_open_v2(uri.c_str(), db, flags, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(*db, 5000);
    if (sqlite3_exec(*db, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) ==
        SQLITE_OK) {
      return SQLITE_OK;
    }
  }
  const int code = *db ? sqlite3_errcode(*db) : SQLITE_NOMEM;
  *msg = *db ? error_text(*db) : "cannot allocate";
  sqlite3_close(*db);
  *db = nullptr;
  return code;
}

}  // namespace

Db::Db(const std::string& path, bool create) : path_(path) {
  if (!create && file_bytes(path) < 0) {
    throw InputError(path, "", "a results database", "no such file");
  }
  // (Not "cannot open ... no write permission": the file is what cannot be read.)
  if (!create && ::access(path.c_str(), R_OK) != 0) throw InputError(path, "", "a readable results database", std::strerror(errno));
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
  std::string msg;
  const int code = open_and_probe(path, flags, &db_, &msg);
  if (code == SQLITE_OK) return;
  if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) {
    throw InputError(path, "", "an SQLite results database", msg);
  }
  // A database in WAL mode (results.sqlite is) in a folder we cannot write cannot even be read
  // the normal way: the reader must create path-shm beside it. No process of ours can be writing
  // it then, so a reader opens it as immutable (read-only, without -shm); a write fails later
  // with "attempt to write a readonly database". Not if a -wal with committed frames is there:
  // immutable would ignore them.
  const bool folder_writable = ::access(folder_of(path).c_str(), W_OK) == 0;
  if (!create && !folder_writable && file_bytes(path + "-wal") <= 0) {
    std::string uri = "file:";
    for (char c : path) {
      uri += c == '%' ? "%25" : c == '?' ? "%3f" : c == '#' ? "%23" : std::string(1, c);
    }
    uri += "?immutable=1";
    std::string ro_msg;
    if (open_and_probe(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, &db_,
                       &ro_msg) == SQLITE_OK) {
      return;
    }
  }
  throw IoError(path + (create ? ": cannot open for writing: " : ": cannot open: ") + msg +
                (folder_writable ? "" : " (no write permission in " + folder_of(path) + ")"));
}

Db::~Db() {
  if (db_ != nullptr) sqlite3_close(db_);
}

void Db::fail(const std::string& what) const {
  throw IoError(path_ + ": " + what + ": " + error_text(db_));
}

void Db::exec(const std::string& sql) {
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    throw IoError(path_ + ": " + error_text(db_) + " (in: " + sql.substr(0, 80) + ")");
  }
}

int64_t Db::query_int(const std::string& sql) {
  Stmt s(*this, sql);
  return s.step() ? s.col_int(0) : 0;
}

bool Db::has_table(const std::string& name) {
  Stmt s(*this, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?");
  s.bind(1, name);
  return s.step() && s.col_int(0) > 0;
}

Stmt::Stmt(Db& db, const std::string& sql) : db_(db) {
  if (sqlite3_prepare_v2(db.handle(), sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) {
    db.fail("cannot prepare '" + sql.substr(0, 80) + "'");
  }
}

Stmt::~Stmt() { sqlite3_finalize(stmt_); }

Stmt& Stmt::bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
Stmt& Stmt::bind(int i, double v) {
  sqlite3_bind_double(stmt_, i, v);
  return *this;
}
Stmt& Stmt::bind(int i, const std::string& v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::bind_blob(int i, const void* data, size_t n_bytes) {
  sqlite3_bind_blob(stmt_, i, data, static_cast<int>(n_bytes), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::bind_null(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

bool Stmt::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // A damaged file is bad input (exit 3, as one that is not a database at all), not an I/O failure.
  if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB) {
    throw InputError(db_.path(), "", "an intact SQLite results database", sqlite3_errstr(rc));
  }
  db_.fail("step failed");
}

void Stmt::run() {
  while (step()) {
  }
  reset();
}

void Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Stmt::col_int(int i) const { return sqlite3_column_int64(stmt_, i); }
double Stmt::col_double(int i) const { return sqlite3_column_double(stmt_, i); }
std::string Stmt::col_text(int i) const {
  const auto* p = sqlite3_column_text(stmt_, i);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, i)))
           : std::string();
}
bool Stmt::col_is_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
std::vector<uint8_t> Stmt::col_blob(int i) const {
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, i));
  return p ? std::vector<uint8_t>(p, p + sqlite3_column_bytes(stmt_, i)) : std::vector<uint8_t>();
}
int Stmt::n_columns() const { return sqlite3_column_count(stmt_); }
std::string Stmt::col_name(int i) const { return sqlite3_column_name(stmt_, i); }
int Stmt::col_type(int i) const { return sqlite3_column_type(stmt_, i); }

Transaction::Transaction(Db& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }
Transaction::~Transaction() {
  if (!done_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}
void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace lsc::io
