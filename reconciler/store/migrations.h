#pragma once
// Schema migrations by PRAGMA user_version. Each step runs as BEGIN IMMEDIATE; DDL;
// PRAGMA user_version=N; foreign_key_check; COMMIT, so a failed step leaves the database
// at the previous version. Store-internal: included only by reconciler/store/*.cc.

#include <sqlite3.h>

#include <string>

#include "schema/result.h"

namespace ww::store {

// The newest schema this code knows.
inline constexpr int kSchemaVersion = 6;

// Brings `db` (opened from `path`) to kSchemaVersion. An existing non-empty database is
// first copied with VACUUM INTO to "<path>.bak-v<old version>". Refuses a database whose
// user_version is newer than kSchemaVersion (kFailedPrecondition naming both versions).
Status Migrate(sqlite3* db, const std::string& path);

}  // namespace ww::store
