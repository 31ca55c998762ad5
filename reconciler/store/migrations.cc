// Schema migrations: see migrations.h. Steps are append-only: never edit a released step,
// add a new one.

#include "reconciler/store/migrations.h"

#include <filesystem>
#include <string>
#include <vector>

#include "reconciler/store/sqlite_handle.h"

namespace ww::store {
namespace {

// A step that rebuilds a referenced table runs with foreign keys off (SQLite's recipe for
// table changes ALTER cannot make); foreign_key_check still runs before its COMMIT.
enum class ForeignKeys { kOn, kOffDuringStep };

struct MigrationStep {
  int version;
  const char* sql;
  ForeignKeys foreign_keys;
};

// Times are unix seconds. Enumerations are CHECKed so a bad row cannot be written.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE agents (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('server', 'client')),
  wireguard_public_key TEXT NOT NULL UNIQUE,
  hostname TEXT NOT NULL,
  version TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  deleted_at INTEGER
);
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  secret_sha256 BLOB NOT NULL CHECK (length(secret_sha256) = 32),
  type TEXT NOT NULL CHECK (type IN ('server', 'client')),
  name TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  bound_spki TEXT
);
CREATE TABLE certificates (
  serial TEXT PRIMARY KEY,
  agent_id TEXT REFERENCES agents(id),
  subject TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin', 'viewer', 'agent')),
  not_before INTEGER NOT NULL,
  not_after INTEGER NOT NULL,
  revoked_at INTEGER,
  CHECK ((role = 'agent') = (agent_id IS NOT NULL))
);
CREATE INDEX certificates_by_agent ON certificates(agent_id);
CREATE TABLE revisions (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL CHECK (source IN ('git', 'apply', 'rollback')),
  commit_sha TEXT NOT NULL,
  applied_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  content_sha256 TEXT NOT NULL,
  documents TEXT NOT NULL
);
CREATE TABLE current_revision (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  revision_id INTEGER NOT NULL REFERENCES revisions(id)
);
CREATE TABLE ip_allocations (
  tunnel TEXT NOT NULL,
  peer TEXT NOT NULL,
  address TEXT NOT NULL,
  PRIMARY KEY (tunnel, peer),
  UNIQUE (tunnel, address)
);
CREATE TABLE reports (
  agent_id TEXT PRIMARY KEY REFERENCES agents(id),
  received_at INTEGER NOT NULL,
  generation INTEGER NOT NULL,
  observed_json TEXT NOT NULL,
  metrics_json TEXT NOT NULL
);
CREATE TABLE plan_generations (
  agent_id TEXT NOT NULL REFERENCES agents(id),
  generation INTEGER NOT NULL,
  revision_id INTEGER NOT NULL REFERENCES revisions(id),
  created_at INTEGER NOT NULL,
  desired_json TEXT NOT NULL,
  plan_json TEXT NOT NULL,
  PRIMARY KEY (agent_id, generation)
);
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  agent_id TEXT REFERENCES agents(id),
  kind TEXT NOT NULL,
  message TEXT NOT NULL
);
)sql";

// Revision author and message (git commits), per-agent failure counters for retry backoff, and
// the git commits that were refused (the status page shows the latest).
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE revisions ADD COLUMN author TEXT NOT NULL DEFAULT '';
ALTER TABLE revisions ADD COLUMN message TEXT NOT NULL DEFAULT '';
CREATE TABLE agent_health (
  agent_id TEXT PRIMARY KEY REFERENCES agents(id),
  consecutive_failures INTEGER NOT NULL CHECK (consecutive_failures >= 0),
  last_failure_at INTEGER NOT NULL,
  last_failed_generation INTEGER NOT NULL,
  last_error TEXT NOT NULL
);
CREATE TABLE rejected_commits (
  id INTEGER PRIMARY KEY,
  commit_sha TEXT NOT NULL,
  at INTEGER NOT NULL,
  errors TEXT NOT NULL
);
)sql";

// A deleted agent's name and WireGuard key may be enrolled again: they are unique only among
// agents not deleted, and the deleted incarnation's row stays (with its certificates,
// reports, plan generations and events) as history. SQLite cannot drop a column's UNIQUE,
// so the table is rebuilt (foreign keys off for this step, checked before COMMIT).
constexpr const char* kSchemaV3 = R"sql(
CREATE TABLE agents_v3 (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('server', 'client')),
  wireguard_public_key TEXT NOT NULL,
  hostname TEXT NOT NULL,
  version TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  deleted_at INTEGER
);
INSERT INTO agents_v3 (rowid, id, name, role, wireguard_public_key, hostname, version, created_at, deleted_at)
  SELECT rowid, id, name, role, wireguard_public_key, hostname, version, created_at, deleted_at FROM agents;
DROP TABLE agents;
ALTER TABLE agents_v3 RENAME TO agents;
CREATE UNIQUE INDEX agents_enrolled_name ON agents(name) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX agents_enrolled_key ON agents(wireguard_public_key) WHERE deleted_at IS NULL;
CREATE INDEX agents_by_name ON agents(name);
)sql";

// Tokens can be revoked before use (`wwctl token revoke ID`).
constexpr const char* kSchemaV4 = R"sql(
ALTER TABLE tokens ADD COLUMN revoked_at INTEGER;
)sql";

// Events are pruned by age (`--event-max-age`) in every tick.
constexpr const char* kSchemaV5 = R"sql(
CREATE INDEX events_by_at ON events(at);
)sql";

// Credentials for people and CI: the ci role, each person certificate's credential name (the
// ID of its wirewarp://FLEET/KIND/ID subject for the rows made before), who created it and
// when it was last used. SQLite cannot change a CHECK, so the table is rebuilt; nothing
// references it.
constexpr const char* kSchemaV6 = R"sql(
CREATE TABLE certificates_v6 (
  serial TEXT PRIMARY KEY,
  agent_id TEXT REFERENCES agents(id),
  subject TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin', 'viewer', 'ci', 'agent')),
  not_before INTEGER NOT NULL,
  not_after INTEGER NOT NULL,
  revoked_at INTEGER,
  credential_name TEXT,
  created_by TEXT NOT NULL DEFAULT '',
  last_used_at INTEGER,
  CHECK ((role = 'agent') = (agent_id IS NOT NULL)),
  CHECK (role != 'agent' OR credential_name IS NULL)
);
INSERT INTO certificates_v6 (rowid, serial, agent_id, subject, role, not_before, not_after, revoked_at, credential_name)
  SELECT rowid, serial, agent_id, subject, role, not_before, not_after, revoked_at,
         CASE WHEN role = 'agent' THEN NULL
              ELSE substr(subject, length(rtrim(subject, replace(subject, '/', ''))) + 1) END
  FROM certificates;
DROP TABLE certificates;
ALTER TABLE certificates_v6 RENAME TO certificates;
CREATE INDEX certificates_by_agent ON certificates(agent_id);
CREATE INDEX certificates_by_credential ON certificates(credential_name);
)sql";

const std::vector<MigrationStep>& Steps() {
  static const std::vector<MigrationStep> steps = {{1, kSchemaV1, ForeignKeys::kOn},
                                                   {2, kSchemaV2, ForeignKeys::kOn},
                                                   {3, kSchemaV3, ForeignKeys::kOffDuringStep},
                                                   {4, kSchemaV4, ForeignKeys::kOn},
                                                   {5, kSchemaV5, ForeignKeys::kOn},
                                                   {6, kSchemaV6, ForeignKeys::kOn}};
  return steps;
}

// "<path>.bak-vN", or "<path>.bak-vN.2", ... when an earlier attempt left one behind:
// VACUUM INTO refuses to overwrite, and an older backup is worth keeping.
std::string BackupPath(const std::string& path, int64_t version) {
  std::string base = path + ".bak-v" + std::to_string(version);
  std::string candidate = base;
  std::error_code error;
  for (int attempt = 2; std::filesystem::exists(candidate, error); ++attempt) {
    candidate = base + "." + std::to_string(attempt);
  }
  return candidate;
}

Status Backup(sqlite3* db, const std::string& path, int64_t version) {
  WW_ASSIGN_OR_RETURN(int64_t objects, QueryInt(db, "SELECT count(*) FROM sqlite_master"));
  if (objects == 0) return Status::Ok();
  std::string backup_path = BackupPath(path, version);
  WW_ASSIGN_OR_RETURN(Statement vacuum, Statement::Prepare(db, "VACUUM INTO ?"));
  vacuum.BindText(1, backup_path);
  return vacuum.Run().WithContext("backing up " + path + " to " + backup_path);
}

Status CheckForeignKeys(sqlite3* db) {
  WW_ASSIGN_OR_RETURN(Statement check, Statement::Prepare(db, "PRAGMA foreign_key_check"));
  WW_ASSIGN_OR_RETURN(bool has_row, check.Step());
  if (has_row) {
    return Status::FailedPrecondition("foreign key violation in table \"" + check.ColumnText(0) +
                                      "\" row " + std::to_string(check.ColumnInt(1)) +
                                      " referencing \"" + check.ColumnText(2) + "\"");
  }
  return Status::Ok();
}

Status ApplyStepInTransaction(sqlite3* db, const MigrationStep& step) {
  WW_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE"));
  auto body = [&]() -> Status {
    // Another process may have migrated while we waited for the write lock.
    WW_ASSIGN_OR_RETURN(int64_t version, QueryInt(db, "PRAGMA user_version"));
    if (version >= step.version) return Status::Ok();
    WW_RETURN_IF_ERROR(Exec(db, step.sql));
    WW_RETURN_IF_ERROR(Exec(db, "PRAGMA user_version=" + std::to_string(step.version)));
    return CheckForeignKeys(db);
  };
  Status status = body();
  if (status.ok()) status = Exec(db, "COMMIT");
  if (!status.ok()) {
    (void)Exec(db, "ROLLBACK");
    return status.WithContext("migrating to schema version " + std::to_string(step.version));
  }
  return Status::Ok();
}

// PRAGMA foreign_keys is a no-op inside a transaction, so it is switched around it.
Status ApplyStep(sqlite3* db, const MigrationStep& step) {
  if (step.foreign_keys == ForeignKeys::kOn) return ApplyStepInTransaction(db, step);
  WW_RETURN_IF_ERROR(Exec(db, "PRAGMA foreign_keys=OFF"));
  Status status = ApplyStepInTransaction(db, step);
  Status restored = Exec(db, "PRAGMA foreign_keys=ON");
  return status.ok() ? restored : status;
}

}  // namespace

Status Migrate(sqlite3* db, const std::string& path) {
  WW_ASSIGN_OR_RETURN(int64_t version, QueryInt(db, "PRAGMA user_version"));
  if (version > kSchemaVersion) {
    return Status::FailedPrecondition("database " + path + " has schema version " +
                                      std::to_string(version) + ", newer than version " +
                                      std::to_string(kSchemaVersion) +
                                      " that this reconciler knows; run a newer reconciler");
  }
  if (version == kSchemaVersion) return Status::Ok();
  WW_RETURN_IF_ERROR(Backup(db, path, version));
  for (const MigrationStep& step : Steps()) {
    if (step.version <= version) continue;
    WW_RETURN_IF_ERROR(ApplyStep(db, step));
  }
  return Status::Ok();
}

}  // namespace ww::store
