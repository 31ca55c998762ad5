// RAII wrappers for SQLite handles: see sqlite_handle.h.

#include "reconciler/store/sqlite_handle.h"

#include <string>

namespace ww::store {
namespace {

// Built with append: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string here.
Status NoRow(std::string_view sql) {
  std::string message = "query \"";
  message.append(sql).append("\" returned no row");
  return Status::Internal(std::move(message));
}

}  // namespace

Status SqliteError(sqlite3* db, std::string_view context) {
  int code = sqlite3_extended_errcode(db);
  std::string message =
      std::string(context) + ": " + sqlite3_errmsg(db) + " (code " + std::to_string(code) + ")";
  if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED) {
    return Status::Unavailable(std::move(message));
  }
  return Status::Internal(std::move(message));
}

Status Exec(sqlite3* db, std::string_view sql) {
  std::string text(sql);
  char* error = nullptr;
  int rc = sqlite3_exec(db, text.c_str(), nullptr, nullptr, &error);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string message = error != nullptr ? error : sqlite3_errstr(rc);
  sqlite3_free(error);
  std::string full = "running \"" + text + "\": " + message;
  if ((rc & 0xff) == SQLITE_BUSY) return Status::Unavailable(std::move(full));
  return Status::Internal(std::move(full));
}

Result<Statement> Statement::Prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* statement = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &statement, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(statement);
    return SqliteError(db, "preparing \"" + std::string(sql) + "\"");
  }
  return Statement(db, statement);
}

void Statement::RecordBind(int rc, int index) {
  if (rc == SQLITE_OK || !bind_status_.ok()) return;
  bind_status_ = SqliteError(db_, "binding parameter " + std::to_string(index));
}

Statement& Statement::BindInt(int index, int64_t value) {
  RecordBind(sqlite3_bind_int64(statement_.get(), index, value), index);
  return *this;
}

Statement& Statement::BindText(int index, std::string_view value) {
  RecordBind(sqlite3_bind_text64(statement_.get(), index, value.data(), value.size(),
                                 SQLITE_TRANSIENT, SQLITE_UTF8),
             index);
  return *this;
}

Statement& Statement::BindBlob(int index, std::span<const uint8_t> value) {
  // A zero-length blob with a null pointer would bind NULL; keep it a blob.
  static const uint8_t kEmpty = 0;
  const void* data = value.empty() ? &kEmpty : value.data();
  RecordBind(sqlite3_bind_blob64(statement_.get(), index, data, value.size(), SQLITE_TRANSIENT),
             index);
  return *this;
}

Statement& Statement::BindNull(int index) {
  RecordBind(sqlite3_bind_null(statement_.get(), index), index);
  return *this;
}

Statement& Statement::BindOptionalInt(int index, const std::optional<int64_t>& value) {
  return value ? BindInt(index, *value) : BindNull(index);
}

Statement& Statement::BindOptionalText(int index, const std::optional<std::string>& value) {
  return value ? BindText(index, *value) : BindNull(index);
}

Result<bool> Statement::Step() {
  if (!bind_status_.ok()) return bind_status_;
  int rc = sqlite3_step(statement_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_, std::string("running \"") + sqlite3_sql(statement_.get()) + "\"");
}

Status Statement::Run() {
  while (true) {
    WW_ASSIGN_OR_RETURN(bool has_row, Step());
    if (!has_row) return Status::Ok();
  }
}

Status Statement::Reset() {
  // sqlite3_reset repeats the last step's error, which Step already reported.
  sqlite3_reset(statement_.get());
  sqlite3_clear_bindings(statement_.get());
  bind_status_ = Status::Ok();
  return Status::Ok();
}

bool Statement::ColumnIsNull(int column) const {
  return sqlite3_column_type(statement_.get(), column) == SQLITE_NULL;
}

int64_t Statement::ColumnInt(int column) const { return sqlite3_column_int64(statement_.get(), column); }

std::string Statement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(statement_.get(), column);
  if (text == nullptr) return "";
  int size = sqlite3_column_bytes(statement_.get(), column);
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

std::vector<uint8_t> Statement::ColumnBlob(int column) const {
  const void* data = sqlite3_column_blob(statement_.get(), column);
  int size = sqlite3_column_bytes(statement_.get(), column);
  if (data == nullptr || size <= 0) return {};
  const uint8_t* bytes = static_cast<const uint8_t*>(data);
  return std::vector<uint8_t>(bytes, bytes + size);
}

std::optional<int64_t> Statement::ColumnOptionalInt(int column) const {
  if (ColumnIsNull(column)) return std::nullopt;
  return ColumnInt(column);
}

std::optional<std::string> Statement::ColumnOptionalText(int column) const {
  if (ColumnIsNull(column)) return std::nullopt;
  return ColumnText(column);
}

Result<int64_t> QueryInt(sqlite3* db, std::string_view sql) {
  WW_ASSIGN_OR_RETURN(Statement statement, Statement::Prepare(db, sql));
  WW_ASSIGN_OR_RETURN(bool has_row, statement.Step());
  if (!has_row) return NoRow(sql);
  return statement.ColumnInt(0);
}

Result<std::string> QueryText(sqlite3* db, std::string_view sql) {
  WW_ASSIGN_OR_RETURN(Statement statement, Statement::Prepare(db, sql));
  WW_ASSIGN_OR_RETURN(bool has_row, statement.Step());
  if (!has_row) return NoRow(sql);
  return statement.ColumnText(0);
}

}  // namespace ww::store
