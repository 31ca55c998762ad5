#pragma once
// The store tests' back door: SQL on a separate raw SQLite connection, as another tool or an
// older version of the reconciler would run it (migrations, tampering, forced states).

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <string>

namespace ww::test_support {

inline void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  REQUIRE_MESSAGE(rc == SQLITE_OK, message);
}

}  // namespace ww::test_support
