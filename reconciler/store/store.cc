// The SQLite store: see store.h. Row <-> record conversion sits next to each query.

#include "reconciler/store/store.h"

#include <openssl/crypto.h>

#include <string_view>
#include <utility>

#include "reconciler/store/migrations.h"
#include "reconciler/store/sqlite_handle.h"

namespace ww {

using store::DatabaseHandle;
using store::Exec;
using store::QueryInt;
using store::QueryText;
using store::SqliteError;
using store::Statement;

namespace {

const char* TokenTypeName(TokenType type) { return type == TokenType::kServer ? "server" : "client"; }
TokenType ParseTokenType(std::string_view text) { return text == "server" ? TokenType::kServer : TokenType::kClient; }

const char* AgentRoleName(AgentRole role) { return role == AgentRole::kServer ? "server" : "client"; }
AgentRole ParseAgentRole(std::string_view text) { return text == "server" ? AgentRole::kServer : AgentRole::kClient; }

const char* CertificateRoleName(CertificateRole role) {
  switch (role) {
    case CertificateRole::kAdmin: return "admin";
    case CertificateRole::kViewer: return "viewer";
    case CertificateRole::kAgent: return "agent";
  }
  return "agent";
}

const char* RevisionSourceName(RevisionSource source) {
  switch (source) {
    case RevisionSource::kGit: return "git";
    case RevisionSource::kApply: return "apply";
    case RevisionSource::kRollback: return "rollback";
  }
  return "apply";
}

RevisionSource ParseRevisionSource(std::string_view text) {
  if (text == "git") return RevisionSource::kGit;
  if (text == "rollback") return RevisionSource::kRollback;
  return RevisionSource::kApply;
}

Status TokenRefused() { return Status::InvalidArgument(kTokenRefusedMessage); }

// A token enrolls only the role it was created for and, when named, only that agent name.
Status CheckTokenScope(const TokenRecord& token, const AgentRecord& agent) {
  bool role_matches = (token.type == TokenType::kServer) == (agent.role == AgentRole::kServer);
  if (!role_matches) {
    return Status::FailedPrecondition(std::string("token scope: this token enrolls a ") + TokenTypeName(token.type) +
                                      " agent, not mode \"" + AgentRoleName(agent.role) + "\"");
  }
  if (!token.name.empty() && token.name != agent.name) {
    return Status::FailedPrecondition("token scope: this token enrolls the agent named \"" + token.name +
                                      "\", not \"" + agent.name + "\"");
  }
  return Status::Ok();
}

Status SetPragmas(sqlite3* db) {
  int defensive = 0;
  if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, &defensive) != SQLITE_OK || defensive != 1) {
    return Status::Internal("could not enable SQLITE_DBCONFIG_DEFENSIVE");
  }
  WW_RETURN_IF_ERROR(Exec(db, "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000; "
                              "PRAGMA trusted_schema=OFF"));
  WW_ASSIGN_OR_RETURN(std::string journal_mode, QueryText(db, "PRAGMA journal_mode=WAL"));
  if (journal_mode != "wal") {
    return Status::FailedPrecondition("journal_mode is \"" + journal_mode + "\", not \"wal\"");
  }
  return Exec(db, "PRAGMA synchronous=FULL");
}

Status QuickCheck(sqlite3* db) {
  WW_ASSIGN_OR_RETURN(Statement check, Statement::Prepare(db, "PRAGMA quick_check"));
  WW_ASSIGN_OR_RETURN(bool has_row, check.Step());
  std::string verdict = has_row ? check.ColumnText(0) : "no result";
  if (verdict != "ok") return Status::FailedPrecondition("quick_check failed: " + verdict);
  return Status::Ok();
}

TokenRecord ReadToken(const Statement& row) {
  TokenRecord token;
  token.id = row.ColumnText(0);
  std::vector<uint8_t> hash = row.ColumnBlob(1);
  if (hash.size() == token.secret_sha256.size()) {
    std::copy(hash.begin(), hash.end(), token.secret_sha256.begin());
  }
  token.type = ParseTokenType(row.ColumnText(2));
  token.name = row.ColumnText(3);
  token.created_by = row.ColumnText(4);
  token.created_at = row.ColumnInt(5);
  token.expires_at = row.ColumnInt(6);
  token.used_at = row.ColumnOptionalInt(7);
  token.bound_spki = row.ColumnOptionalText(8);
  return token;
}

constexpr const char* kRevisionColumns =
    "id, source, commit_sha, applied_by, created_at, content_sha256, documents";

RevisionRecord ReadRevision(const Statement& row) {
  RevisionRecord revision;
  revision.id = row.ColumnInt(0);
  revision.source = ParseRevisionSource(row.ColumnText(1));
  revision.commit_sha = row.ColumnText(2);
  revision.applied_by = row.ColumnText(3);
  revision.created_at = row.ColumnInt(4);
  revision.content_sha256 = row.ColumnText(5);
  revision.documents = row.ColumnText(6);
  return revision;
}

}  // namespace

Store::Store(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

Store::~Store() { sqlite3_close_v2(db_); }

Result<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  DatabaseHandle db(raw);
  if (rc != SQLITE_OK) {
    if (raw == nullptr) return Status::Internal("opening " + path + ": out of memory");
    return SqliteError(raw, "opening " + path);
  }
  sqlite3_extended_result_codes(raw, 1);
  Status status = SetPragmas(raw);
  if (status.ok()) status = QuickCheck(raw);
  if (status.ok()) status = store::Migrate(raw, path);
  if (!status.ok()) return status.WithContext("opening " + path);
  return std::unique_ptr<Store>(new Store(db.release(), path));
}

template <typename Body>
Status Store::WriteTransaction(Body&& body) {
  WW_RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE"));
  Status status = body();
  if (status.ok()) status = Exec(db_, "COMMIT");
  if (!status.ok()) (void)Exec(db_, "ROLLBACK");
  return status;
}

Result<ConnectionSettings> Store::Settings() {
  std::lock_guard lock(mutex_);
  ConnectionSettings settings;
  WW_ASSIGN_OR_RETURN(settings.foreign_keys, QueryInt(db_, "PRAGMA foreign_keys"));
  WW_ASSIGN_OR_RETURN(settings.busy_timeout_ms, QueryInt(db_, "PRAGMA busy_timeout"));
  WW_ASSIGN_OR_RETURN(settings.trusted_schema, QueryInt(db_, "PRAGMA trusted_schema"));
  WW_ASSIGN_OR_RETURN(settings.journal_mode, QueryText(db_, "PRAGMA journal_mode"));
  WW_ASSIGN_OR_RETURN(settings.synchronous, QueryInt(db_, "PRAGMA synchronous"));
  WW_ASSIGN_OR_RETURN(settings.user_version, QueryInt(db_, "PRAGMA user_version"));
  sqlite3_db_config(db_, SQLITE_DBCONFIG_DEFENSIVE, -1, &settings.defensive);
  return settings;
}

Status Store::CreateToken(const TokenRecord& token) {
  std::lock_guard lock(mutex_);
  return WriteTransaction([&]() -> Status {
    WW_ASSIGN_OR_RETURN(Statement insert,
                        Statement::Prepare(db_,
                                           "INSERT INTO tokens (id, secret_sha256, type, name, created_by, "
                                           "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)"));
    insert.BindText(1, token.id)
        .BindBlob(2, token.secret_sha256)
        .BindText(3, TokenTypeName(token.type))
        .BindText(4, token.name)
        .BindText(5, token.created_by)
        .BindInt(6, token.created_at)
        .BindInt(7, token.expires_at);
    return insert.Run().WithContext("creating token " + token.id);
  });
}

Result<TokenRecord> Store::ConsumeToken(const std::string& id, const Sha256& secret_sha256, int64_t now,
                                        const std::string& spki) {
  std::lock_guard lock(mutex_);
  TokenRecord token;
  Status status = WriteTransaction([&]() -> Status {
    WW_ASSIGN_OR_RETURN(token, ConsumeTokenInTransaction(id, secret_sha256, now, spki));
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return token;
}

Result<TokenRecord> Store::Enroll(const std::string& token_id, const Sha256& secret_sha256, int64_t now,
                                  const std::string& spki, const AgentRecord& agent,
                                  const CertificateRecord& certificate) {
  std::lock_guard lock(mutex_);
  TokenRecord token;
  Status status = WriteTransaction([&]() -> Status {
    WW_ASSIGN_OR_RETURN(token, ConsumeTokenInTransaction(token_id, secret_sha256, now, spki));
    // Checked after the secret, so only a holder of the token learns its scope; the refusal
    // rolls back the consumption above.
    WW_RETURN_IF_ERROR(CheckTokenScope(token, agent));
    WW_RETURN_IF_ERROR(InsertAgentInTransaction(agent));
    return InsertCertificateInTransaction(certificate);
  });
  if (!status.ok()) return status;
  return token;
}

Result<TokenRecord> Store::ConsumeTokenInTransaction(const std::string& id, const Sha256& secret_sha256,
                                                     int64_t now, const std::string& spki) {
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_,
                                         "SELECT id, secret_sha256, type, name, created_by, created_at, "
                                         "expires_at, used_at, bound_spki FROM tokens WHERE id = ?"));
  select.BindText(1, id);
  WW_ASSIGN_OR_RETURN(bool found, select.Step());
  // An unknown id still pays for one comparison, so timing does not tell it apart.
  TokenRecord token;
  Sha256 stored{};
  if (found) token = ReadToken(select);
  if (found) stored = token.secret_sha256;
  bool secret_matches = CRYPTO_memcmp(stored.data(), secret_sha256.data(), stored.size()) == 0;
  if (!found || !secret_matches) return TokenRefused();

  // The WHERE clause is the single-use and expiry check; changes()==1 says we won.
  WW_ASSIGN_OR_RETURN(Statement update,
                      Statement::Prepare(db_,
                                         "UPDATE tokens SET used_at = ?, bound_spki = ? "
                                         "WHERE id = ? AND used_at IS NULL AND expires_at > ?"));
  update.BindInt(1, now).BindText(2, spki).BindText(3, id).BindInt(4, now);
  WW_RETURN_IF_ERROR(update.Run());
  if (sqlite3_changes(db_) != 1) return TokenRefused();
  token.used_at = now;
  token.bound_spki = spki;
  return token;
}

Status Store::InsertAgent(const AgentRecord& agent) {
  std::lock_guard lock(mutex_);
  return WriteTransaction([&]() { return InsertAgentInTransaction(agent); });
}

Status Store::InsertAgentInTransaction(const AgentRecord& agent) {
  WW_ASSIGN_OR_RETURN(Statement insert,
                      Statement::Prepare(db_,
                                         "INSERT INTO agents (id, name, role, wireguard_public_key, hostname, "
                                         "version, created_at, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
  insert.BindText(1, agent.id)
      .BindText(2, agent.name)
      .BindText(3, AgentRoleName(agent.role))
      .BindText(4, agent.wireguard_public_key.ToBase64())
      .BindText(5, agent.hostname)
      .BindText(6, agent.version)
      .BindInt(7, agent.created_at)
      .BindOptionalInt(8, agent.deleted_at);
  return insert.Run().WithContext("inserting agent \"" + agent.name + "\"");
}

Result<AgentRecord> Store::FindAgentByName(const std::string& name) {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_,
                                         "SELECT id, name, role, wireguard_public_key, hostname, version, "
                                         "created_at, deleted_at FROM agents WHERE name = ?"));
  select.BindText(1, name);
  WW_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return Status::NotFound("no agent named \"" + name + "\"");
  AgentRecord agent;
  agent.id = select.ColumnText(0);
  agent.name = select.ColumnText(1);
  agent.role = ParseAgentRole(select.ColumnText(2));
  WW_ASSIGN_OR_RETURN(agent.wireguard_public_key, WireguardKey::Parse(select.ColumnText(3)));
  agent.hostname = select.ColumnText(4);
  agent.version = select.ColumnText(5);
  agent.created_at = select.ColumnInt(6);
  agent.deleted_at = select.ColumnOptionalInt(7);
  return agent;
}

Status Store::InsertCertificate(const CertificateRecord& certificate) {
  std::lock_guard lock(mutex_);
  return WriteTransaction([&]() { return InsertCertificateInTransaction(certificate); });
}

Status Store::InsertCertificateInTransaction(const CertificateRecord& certificate) {
  WW_ASSIGN_OR_RETURN(Statement insert,
                      Statement::Prepare(db_,
                                         "INSERT INTO certificates (serial, agent_id, subject, role, "
                                         "not_before, not_after, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)"));
  insert.BindText(1, certificate.serial)
      .BindOptionalText(2, certificate.agent_id)
      .BindText(3, certificate.subject)
      .BindText(4, CertificateRoleName(certificate.role))
      .BindInt(5, certificate.not_before)
      .BindInt(6, certificate.not_after)
      .BindOptionalInt(7, certificate.revoked_at);
  return insert.Run().WithContext("inserting certificate " + certificate.serial);
}

Status Store::RevokeCertificate(const std::string& serial, int64_t now) {
  std::lock_guard lock(mutex_);
  return WriteTransaction([&]() -> Status {
    WW_ASSIGN_OR_RETURN(Statement update,
                        Statement::Prepare(db_,
                                           "UPDATE certificates SET revoked_at = coalesce(revoked_at, ?) "
                                           "WHERE serial = ?"));
    update.BindInt(1, now).BindText(2, serial);
    WW_RETURN_IF_ERROR(update.Run());
    if (sqlite3_changes(db_) != 1) return Status::NotFound("no certificate with serial " + serial);
    return Status::Ok();
  });
}

Result<bool> Store::IsRevoked(const std::string& serial) {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_, "SELECT revoked_at FROM certificates WHERE serial = ?"));
  select.BindText(1, serial);
  WW_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return Status::NotFound("no certificate with serial " + serial);
  return !select.ColumnIsNull(0);
}

Status Store::DeleteAgent(const std::string& name, int64_t now) {
  std::lock_guard lock(mutex_);
  return WriteTransaction([&]() -> Status {
    WW_ASSIGN_OR_RETURN(Statement mark,
                        Statement::Prepare(db_, "UPDATE agents SET deleted_at = ? WHERE name = ? AND deleted_at IS NULL"));
    mark.BindInt(1, now).BindText(2, name);
    WW_RETURN_IF_ERROR(mark.Run());
    if (sqlite3_changes(db_) != 1) return Status::NotFound("no agent named \"" + name + "\"");
    WW_ASSIGN_OR_RETURN(Statement revoke,
                        Statement::Prepare(db_,
                                           "UPDATE certificates SET revoked_at = coalesce(revoked_at, ?) "
                                           "WHERE agent_id = (SELECT id FROM agents WHERE name = ?)"));
    revoke.BindInt(1, now).BindText(2, name);
    return revoke.Run();
  });
}

Result<std::vector<std::string>> Store::ListRevokedSerials() {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_, "SELECT serial FROM certificates WHERE revoked_at IS NOT NULL "
                                              "ORDER BY serial"));
  std::vector<std::string> serials;
  while (true) {
    WW_ASSIGN_OR_RETURN(bool has_row, select.Step());
    if (!has_row) break;
    serials.push_back(select.ColumnText(0));
  }
  return serials;
}

Result<int64_t> Store::AddRevision(const RevisionRecord& revision) {
  std::lock_guard lock(mutex_);
  int64_t id = 0;
  Status status = WriteTransaction([&]() -> Status {
    WW_ASSIGN_OR_RETURN(Statement insert,
                        Statement::Prepare(db_,
                                           "INSERT INTO revisions (source, commit_sha, applied_by, created_at, "
                                           "content_sha256, documents) VALUES (?, ?, ?, ?, ?, ?)"));
    insert.BindText(1, RevisionSourceName(revision.source))
        .BindText(2, revision.commit_sha)
        .BindText(3, revision.applied_by)
        .BindInt(4, revision.created_at)
        .BindText(5, revision.content_sha256)
        .BindText(6, revision.documents);
    WW_RETURN_IF_ERROR(insert.Run());
    id = sqlite3_last_insert_rowid(db_);
    WW_ASSIGN_OR_RETURN(Statement pointer,
                        Statement::Prepare(db_,
                                           "INSERT INTO current_revision (singleton, revision_id) VALUES (1, ?) "
                                           "ON CONFLICT (singleton) DO UPDATE SET revision_id = excluded.revision_id"));
    pointer.BindInt(1, id);
    return pointer.Run();
  });
  if (!status.ok()) return status.WithContext("adding a revision");
  return id;
}

Result<RevisionRecord> Store::CurrentRevision() {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_, std::string("SELECT ") + kRevisionColumns +
                                                  " FROM revisions WHERE id = "
                                                  "(SELECT revision_id FROM current_revision WHERE singleton = 1)"));
  WW_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return Status::NotFound("no revision has been accepted yet");
  return ReadRevision(select);
}

Result<std::vector<RevisionRecord>> Store::ListRevisions(int64_t limit) {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_, std::string("SELECT ") + kRevisionColumns +
                                                  " FROM revisions ORDER BY id DESC LIMIT ?"));
  select.BindInt(1, limit);
  std::vector<RevisionRecord> revisions;
  while (true) {
    WW_ASSIGN_OR_RETURN(bool has_row, select.Step());
    if (!has_row) break;
    revisions.push_back(ReadRevision(select));
  }
  return revisions;
}

Status Store::SaveAllocations(const Allocations& allocations) {
  std::lock_guard lock(mutex_);
  return WriteTransaction([&]() -> Status {
    WW_RETURN_IF_ERROR(Exec(db_, "DELETE FROM ip_allocations"));
    WW_ASSIGN_OR_RETURN(Statement insert,
                        Statement::Prepare(db_, "INSERT INTO ip_allocations (tunnel, peer, address) VALUES (?, ?, ?)"));
    for (const Allocation& allocation : allocations) {
      std::string address = allocation.address.ToString();
      insert.BindText(1, allocation.tunnel).BindText(2, allocation.peer).BindText(3, address);
      WW_RETURN_IF_ERROR(insert.Run().WithContext("allocating " + address + " to peer \"" + allocation.peer +
                                                  "\" of tunnel \"" + allocation.tunnel + "\""));
      WW_RETURN_IF_ERROR(insert.Reset());
    }
    return Status::Ok();
  });
}

Result<Allocations> Store::LoadAllocations() {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_, "SELECT tunnel, peer, address FROM ip_allocations ORDER BY tunnel, peer"));
  Allocations allocations;
  while (true) {
    WW_ASSIGN_OR_RETURN(bool has_row, select.Step());
    if (!has_row) break;
    Allocation allocation;
    allocation.tunnel = select.ColumnText(0);
    allocation.peer = select.ColumnText(1);
    WW_ASSIGN_OR_RETURN(allocation.address, Ipv4Address::Parse(select.ColumnText(2)));
    allocations.push_back(std::move(allocation));
  }
  return allocations;
}

Status Store::SaveReport(const ReportRecord& report) {
  std::lock_guard lock(mutex_);
  return WriteTransaction([&]() -> Status {
    WW_ASSIGN_OR_RETURN(Statement upsert,
                        Statement::Prepare(db_,
                                           "INSERT INTO reports (agent_id, received_at, generation, observed_json, "
                                           "metrics_json) VALUES (?, ?, ?, ?, ?) ON CONFLICT (agent_id) DO UPDATE SET "
                                           "received_at = excluded.received_at, generation = excluded.generation, "
                                           "observed_json = excluded.observed_json, "
                                           "metrics_json = excluded.metrics_json"));
    upsert.BindText(1, report.agent_id)
        .BindInt(2, report.received_at)
        .BindInt(3, report.generation)
        .BindText(4, report.observed_json)
        .BindText(5, report.metrics_json);
    return upsert.Run().WithContext("saving the report of agent " + report.agent_id);
  });
}

Result<ReportRecord> Store::LatestReport(const std::string& agent_id) {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_,
                                         "SELECT agent_id, received_at, generation, observed_json, metrics_json "
                                         "FROM reports WHERE agent_id = ?"));
  select.BindText(1, agent_id);
  WW_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return Status::NotFound("no report from agent " + agent_id);
  ReportRecord report;
  report.agent_id = select.ColumnText(0);
  report.received_at = select.ColumnInt(1);
  report.generation = select.ColumnInt(2);
  report.observed_json = select.ColumnText(3);
  report.metrics_json = select.ColumnText(4);
  return report;
}

Result<int64_t> Store::AddPlanGeneration(const PlanGenerationRecord& plan) {
  std::lock_guard lock(mutex_);
  int64_t generation = 0;
  Status status = WriteTransaction([&]() -> Status {
    WW_ASSIGN_OR_RETURN(Statement next,
                        Statement::Prepare(db_,
                                           "SELECT coalesce(max(generation), 0) + 1 FROM plan_generations "
                                           "WHERE agent_id = ?"));
    next.BindText(1, plan.agent_id);
    WW_RETURN_IF_ERROR(next.Step().status());
    generation = next.ColumnInt(0);
    WW_ASSIGN_OR_RETURN(Statement insert,
                        Statement::Prepare(db_,
                                           "INSERT INTO plan_generations (agent_id, generation, revision_id, "
                                           "created_at, desired_json, plan_json) VALUES (?, ?, ?, ?, ?, ?)"));
    insert.BindText(1, plan.agent_id)
        .BindInt(2, generation)
        .BindInt(3, plan.revision_id)
        .BindInt(4, plan.created_at)
        .BindText(5, plan.desired_json)
        .BindText(6, plan.plan_json);
    return insert.Run();
  });
  if (!status.ok()) return status.WithContext("adding a plan generation for agent " + plan.agent_id);
  return generation;
}

Result<PlanGenerationRecord> Store::LatestPlanGeneration(const std::string& agent_id) {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_,
                                         "SELECT agent_id, generation, revision_id, created_at, desired_json, "
                                         "plan_json FROM plan_generations WHERE agent_id = ? "
                                         "ORDER BY generation DESC LIMIT 1"));
  select.BindText(1, agent_id);
  WW_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return Status::NotFound("no plan for agent " + agent_id);
  PlanGenerationRecord plan;
  plan.agent_id = select.ColumnText(0);
  plan.generation = select.ColumnInt(1);
  plan.revision_id = select.ColumnInt(2);
  plan.created_at = select.ColumnInt(3);
  plan.desired_json = select.ColumnText(4);
  plan.plan_json = select.ColumnText(5);
  return plan;
}

Result<int64_t> Store::AppendEvent(const EventRecord& event) {
  std::lock_guard lock(mutex_);
  int64_t id = 0;
  Status status = WriteTransaction([&]() -> Status {
    WW_ASSIGN_OR_RETURN(Statement insert,
                        Statement::Prepare(db_, "INSERT INTO events (at, agent_id, kind, message) VALUES (?, ?, ?, ?)"));
    insert.BindInt(1, event.at).BindOptionalText(2, event.agent_id).BindText(3, event.kind).BindText(4, event.message);
    WW_RETURN_IF_ERROR(insert.Run());
    id = sqlite3_last_insert_rowid(db_);
    return Status::Ok();
  });
  if (!status.ok()) return status.WithContext("appending a " + event.kind + " event");
  return id;
}

Result<std::vector<EventRecord>> Store::RecentEvents(int64_t limit) {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_, "SELECT id, at, agent_id, kind, message FROM events "
                                              "ORDER BY id DESC LIMIT ?"));
  select.BindInt(1, limit);
  std::vector<EventRecord> events;
  while (true) {
    WW_ASSIGN_OR_RETURN(bool has_row, select.Step());
    if (!has_row) break;
    EventRecord event;
    event.id = select.ColumnInt(0);
    event.at = select.ColumnInt(1);
    event.agent_id = select.ColumnOptionalText(2);
    event.kind = select.ColumnText(3);
    event.message = select.ColumnText(4);
    events.push_back(std::move(event));
  }
  return events;
}

}  // namespace ww
