#pragma once
// Store-internal RAII wrappers for sqlite3* and sqlite3_stmt*, and the one place SQLite
// result codes become Status. Included only by reconciler/store/*.cc: nothing outside the
// store sees sqlite3.h. Not thread-safe: the Store serialises use of its connection.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "schema/result.h"

namespace ww::store {

struct DatabaseCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DatabaseHandle = std::unique_ptr<sqlite3, DatabaseCloser>;

struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};

// "context: <sqlite message> (code N)"; SQLITE_BUSY becomes kUnavailable (retryable).
Status SqliteError(sqlite3* db, std::string_view context);

// Runs one or more statements that return no rows the caller needs.
Status Exec(sqlite3* db, std::string_view sql);

// A prepared statement. Bind* record the first failure and Step reports it, so call sites
// read as one chain. Parameters are 1-based, columns 0-based, as in SQLite.
class Statement {
 public:
  static Result<Statement> Prepare(sqlite3* db, std::string_view sql);

  Statement& BindInt(int index, int64_t value);
  Statement& BindText(int index, std::string_view value);
  Statement& BindBlob(int index, std::span<const uint8_t> value);
  Statement& BindNull(int index);
  Statement& BindOptionalInt(int index, const std::optional<int64_t>& value);
  Statement& BindOptionalText(int index, const std::optional<std::string>& value);

  // true: a row is ready; false: the statement is done.
  Result<bool> Step();
  // Steps to the end, ignoring rows.
  Status Run();
  // Makes the statement ready to run again with new bindings.
  Status Reset();

  bool ColumnIsNull(int column) const;
  int64_t ColumnInt(int column) const;
  std::string ColumnText(int column) const;
  std::vector<uint8_t> ColumnBlob(int column) const;
  std::optional<int64_t> ColumnOptionalInt(int column) const;
  std::optional<std::string> ColumnOptionalText(int column) const;

 private:
  Statement(sqlite3* db, sqlite3_stmt* statement) : db_(db), statement_(statement) {}
  void RecordBind(int rc, int index);

  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, StatementFinalizer> statement_;
  Status bind_status_;
};

// Reads a single-value query such as "PRAGMA user_version".
Result<int64_t> QueryInt(sqlite3* db, std::string_view sql);
Result<std::string> QueryText(sqlite3* db, std::string_view sql);

}  // namespace ww::store
