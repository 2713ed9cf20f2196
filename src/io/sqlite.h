// Thin RAII wrapper over SQLite (Debian libsqlite3): a connection, prepared statements and a
// transaction guard. Errors become IoError (cannot write) or InputError (not a database), naming
// the file. Knows nothing about logitscope's tables.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace lsc::io {

class Db;

class Stmt {
 public:
  Stmt(Db& db, const std::string& sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Binds by 1-based index; returns *this for chaining.
  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Stmt& bind(int i, double v);
  Stmt& bind(int i, const std::string& v);
  Stmt& bind_blob(int i, const void* data, size_t n_bytes);
  Stmt& bind_null(int i);
  // Runs one step: true while a row is available (SELECT), false when done.
  bool step();
  // Runs to completion and resets for reuse (INSERT/UPDATE).
  void run();
  void reset();

  int64_t col_int(int i) const;
  double col_double(int i) const;
  std::string col_text(int i) const;
  bool col_is_null(int i) const;
  std::vector<uint8_t> col_blob(int i) const;
  int n_columns() const;
  std::string col_name(int i) const;
  int col_type(int i) const;  // SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB, SQLITE_NULL

 private:
  Db& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class Db {
 public:
  // Opens (creating if asked) the database at path. Throws IoError/InputError naming the path.
  // Without create, a database in a folder we cannot write is opened read-only (writes then fail).
  Db(const std::string& path, bool create);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(const std::string& sql);
  int64_t query_int(const std::string& sql);  // first column of the first row (0 if none)
  bool has_table(const std::string& name);
  int64_t last_insert_id() const { return sqlite3_last_insert_rowid(db_); }
  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }
  [[noreturn]] void fail(const std::string& what) const;  // throws IoError with the SQLite message

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

// BEGIN IMMEDIATE on construction, ROLLBACK on destruction unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Db& db);
  ~Transaction();
  void commit();

 private:
  Db& db_;
  bool done_ = false;
};

}  // namespace lsc::io
