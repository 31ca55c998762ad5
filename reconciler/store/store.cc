// The SQLite store: see store.h. Row <-> record conversion sits next to each query.

#include "reconciler/store/store.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

#include "reconciler/store/migrations.h"
#include "reconciler/store/sqlite_handle.h"
#include "reconciler/store/store_rows.h"

namespace ww {

using store::DatabaseHandle;
using store::Exec;
using store::QueryInt;
using store::QueryText;
using store::SqliteError;
using store::Statement;
using store::kRevisionColumns;
using store::ReadRevision;
using store::RevisionSourceName;

namespace {

const char* TokenTypeName(TokenType type) { return type == TokenType::kServer ? "server" : "client"; }
TokenType ParseTokenType(std::string_view text) { return text == "server" ? TokenType::kServer : TokenType::kClient; }

const char* AgentRoleName(AgentRole role) { return role == AgentRole::kServer ? "server" : "client"; }
AgentRole ParseAgentRole(std::string_view text) { return text == "server" ? AgentRole::kServer : AgentRole::kClient; }

CertificateRole ParseCertificateRole(std::string_view text) {
  if (text == "admin") return CertificateRole::kAdmin;
  if (text == "viewer") return CertificateRole::kViewer;
  if (text == "ci") return CertificateRole::kCi;
  return CertificateRole::kAgent;
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

// The columns ReadToken reads, in its order.
constexpr std::string_view kTokenColumns =
    "id, secret_sha256, type, name, created_by, created_at, expires_at, used_at, bound_spki, revoked_at";

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
  token.revoked_at = row.ColumnOptionalInt(9);
  return token;
}

Result<AgentRecord> ReadAgent(const Statement& row) {
  AgentRecord agent;
  agent.id = row.ColumnText(0);
  agent.name = row.ColumnText(1);
  agent.role = ParseAgentRole(row.ColumnText(2));
  WW_ASSIGN_OR_RETURN(agent.wireguard_public_key, WireguardKey::Parse(row.ColumnText(3)));
  agent.hostname = row.ColumnText(4);
  agent.version = row.ColumnText(5);
  agent.created_at = row.ColumnInt(6);
  agent.deleted_at = row.ColumnOptionalInt(7);
  return agent;
}

// The database holds token hashes, certificates and every agent's config: owner only. SQLite
// gives its -wal and -shm files the database file's mode, so they follow.
Status RestrictToOwner(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::Internal("opening " + path + ": " + std::strerror(errno));
  int changed = ::fchmod(fd, 0600);
  int saved_errno = errno;
  ::close(fd);
  if (changed != 0) return Status::Internal("chmod 600 " + path + ": " + std::strerror(saved_errno));
  for (const char* suffix : {"-wal", "-shm"}) {
    std::string side = path + suffix;
    if (::chmod(side.c_str(), 0600) != 0 && errno != ENOENT) {
      return Status::Internal("chmod 600 " + side + ": " + std::strerror(errno));
    }
  }
  return Status::Ok();
}

}  // namespace

const char* CertificateRoleName(CertificateRole role) {
  switch (role) {
    case CertificateRole::kAdmin: return "admin";
    case CertificateRole::kViewer: return "viewer";
    case CertificateRole::kAgent: return "agent";
    case CertificateRole::kCi: return "ci";
  }
  return "agent";
}

Store::Store(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

Store::~Store() { sqlite3_close_v2(db_); }

Result<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  if (path != ":memory:") WW_RETURN_IF_ERROR(RestrictToOwner(path));
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

Result<std::vector<TokenRecord>> Store::ListTokens() {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_, "SELECT " + std::string(kTokenColumns) +
                                                  " FROM tokens ORDER BY created_at DESC, id"));
  std::vector<TokenRecord> tokens;
  while (true) {
    WW_ASSIGN_OR_RETURN(bool has_row, select.Step());
    if (!has_row) break;
    tokens.push_back(ReadToken(select));
  }
  return tokens;
}

Status Store::RevokeToken(const std::string& id, int64_t now) {
  std::lock_guard lock(mutex_);
  return WriteTransaction([&]() -> Status {
    std::optional<int64_t> used_at;
    {
      WW_ASSIGN_OR_RETURN(Statement select, Statement::Prepare(db_, "SELECT used_at FROM tokens WHERE id = ?"));
      select.BindText(1, id);
      WW_ASSIGN_OR_RETURN(bool found, select.Step());
      if (!found) return Status::NotFound("no token with id \"" + id + "\"");
      used_at = select.ColumnOptionalInt(0);
    }
    if (used_at) {
      return Status::FailedPrecondition("token " + id + " was already used to enroll an agent; delete the agent "
                                        "(wwctl agent delete NAME) to revoke its access");
    }
    WW_ASSIGN_OR_RETURN(Statement update,
                        Statement::Prepare(db_, "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"));
    update.BindInt(1, now).BindText(2, id);
    return update.Run().WithContext("revoking token " + id);
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
                                  const std::string& spki, AgentRecord agent, CertificateRecord certificate) {
  std::lock_guard lock(mutex_);
  TokenRecord token;
  Status status = WriteTransaction([&]() -> Status {
    WW_ASSIGN_OR_RETURN(token, ConsumeTokenInTransaction(token_id, secret_sha256, now, spki));
    // Checked after the secret, so only a holder of the token learns its scope; the refusal
    // rolls back the consumption above.
    WW_RETURN_IF_ERROR(CheckTokenScope(token, agent));
    WW_ASSIGN_OR_RETURN(agent.id, EnrollmentIdInTransaction(agent));
    certificate.agent_id = agent.id;
    WW_RETURN_IF_ERROR(InsertAgentInTransaction(agent));
    return InsertCertificateInTransaction(certificate);
  });
  if (!status.ok()) return status;
  return token;
}

Result<TokenRecord> Store::FindTokenBySecretLocked(const std::string& id, const Sha256& secret_sha256) {
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_,
                                         "SELECT " + std::string(kTokenColumns) + " FROM tokens WHERE id = ?"));
  select.BindText(1, id);
  WW_ASSIGN_OR_RETURN(bool found, select.Step());
  // An unknown id still pays for one comparison, so timing does not tell it apart.
  TokenRecord token;
  Sha256 stored{};
  if (found) token = ReadToken(select);
  if (found) stored = token.secret_sha256;
  bool secret_matches = CRYPTO_memcmp(stored.data(), secret_sha256.data(), stored.size()) == 0;
  if (!found || !secret_matches) return TokenRefused();
  return token;
}

Status Store::CheckToken(const std::string& id, const Sha256& secret_sha256, int64_t now) {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(TokenRecord token, FindTokenBySecretLocked(id, secret_sha256));
  if (token.used_at || token.revoked_at || token.expires_at <= now) return TokenRefused();
  return Status::Ok();
}

Result<TokenRecord> Store::ConsumeTokenInTransaction(const std::string& id, const Sha256& secret_sha256,
                                                     int64_t now, const std::string& spki) {
  WW_ASSIGN_OR_RETURN(TokenRecord token, FindTokenBySecretLocked(id, secret_sha256));

  // The WHERE clause is the single-use and expiry check; changes()==1 says we won.
  WW_ASSIGN_OR_RETURN(Statement update,
                      Statement::Prepare(db_,
                                         "UPDATE tokens SET used_at = ?, bound_spki = ? "
                                         "WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?"));
  update.BindInt(1, now).BindText(2, spki).BindText(3, id).BindInt(4, now);
  WW_RETURN_IF_ERROR(update.Run());
  if (sqlite3_changes(db_) != 1) return TokenRefused();
  token.used_at = now;
  token.bound_spki = spki;
  return token;
}

Result<std::string> Store::EnrollmentIdInTransaction(const AgentRecord& agent) {
  WW_ASSIGN_OR_RETURN(Statement taken, Statement::Prepare(db_, "SELECT count(*) FROM agents WHERE id = ?"));
  taken.BindText(1, agent.id);
  WW_RETURN_IF_ERROR(taken.Step().status());
  if (taken.ColumnInt(0) == 0) return agent.id;
  WW_ASSIGN_OR_RETURN(Statement earlier, Statement::Prepare(db_, "SELECT count(*) FROM agents WHERE name = ?"));
  earlier.BindText(1, agent.name);
  WW_RETURN_IF_ERROR(earlier.Step().status());
  // Unique because a name's rows are only ever added: N enrollments so far, this is N + 1.
  return agent.id + "." + std::to_string(earlier.ColumnInt(0) + 1);
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
                                         "created_at, deleted_at FROM agents WHERE name = ? "
                                         "ORDER BY deleted_at IS NULL DESC, rowid DESC LIMIT 1"));
  select.BindText(1, name);
  WW_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return Status::NotFound("no agent named \"" + name + "\"");
  return ReadAgent(select);
}

Result<std::vector<AgentRecord>> Store::ListAgents() {
  return ListAgentsWhere("WHERE deleted_at IS NULL ORDER BY name");
}

Result<std::vector<AgentRecord>> Store::ListAgentHistory() { return ListAgentsWhere("ORDER BY name, rowid"); }

Result<std::vector<AgentRecord>> Store::ListAgentsWhere(const char* clauses) {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_, std::string("SELECT id, name, role, wireguard_public_key, hostname, "
                                                          "version, created_at, deleted_at FROM agents ") +
                                                  clauses));
  std::vector<AgentRecord> agents;
  while (true) {
    WW_ASSIGN_OR_RETURN(bool has_row, select.Step());
    if (!has_row) break;
    WW_ASSIGN_OR_RETURN(AgentRecord agent, ReadAgent(select));
    agents.push_back(std::move(agent));
  }
  return agents;
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
    WW_RETURN_IF_ERROR(RevokeKeepingAnAdminInTransaction(update, now, "certificate " + serial));
    if (sqlite3_changes(db_) != 1) return Status::NotFound("no certificate with serial " + serial);
    return Status::Ok();
  });
}

Status Store::RevokeKeepingAnAdminInTransaction(Statement& revoke, int64_t now, const std::string& what) {
  constexpr std::string_view kActiveAdmins =
      "SELECT count(*) FROM certificates WHERE role = 'admin' AND revoked_at IS NULL AND not_after > ";
  WW_ASSIGN_OR_RETURN(int64_t before, QueryInt(db_, std::string(kActiveAdmins) + std::to_string(now)));
  WW_RETURN_IF_ERROR(revoke.Run());
  // A SELECT leaves sqlite3_changes alone: the caller still reads its UPDATE's count.
  WW_ASSIGN_OR_RETURN(int64_t after, QueryInt(db_, std::string(kActiveAdmins) + std::to_string(now)));
  if (before > 0 && after == 0) {
    return Status::FailedPrecondition(std::string(kLastAdminMessage) + ": revoking " + what +
                                      " would leave no valid admin certificate; create another first "
                                      "(wwctl credential create --role admin --name NAME)");
  }
  return Status::Ok();
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
                                           "WHERE agent_id IN (SELECT id FROM agents WHERE name = ?)"));
    revoke.BindInt(1, now).BindText(2, name);
    return revoke.Run();
  });
}

namespace {

// The columns ReadCredential reads, in its order.
constexpr std::string_view kCredentialColumns =
    "credential_name, serial, subject, role, not_before, not_after, revoked_at, created_by, last_used_at";

CredentialRecord ReadCredential(const Statement& row) {
  CredentialRecord credential;
  credential.name = row.ColumnText(0);
  credential.certificate.serial = row.ColumnText(1);
  credential.certificate.subject = row.ColumnText(2);
  credential.certificate.role = ParseCertificateRole(row.ColumnText(3));
  credential.certificate.not_before = row.ColumnInt(4);
  credential.certificate.not_after = row.ColumnInt(5);
  credential.certificate.revoked_at = row.ColumnOptionalInt(6);
  credential.created_by = row.ColumnText(7);
  credential.last_used_at = row.ColumnOptionalInt(8);
  return credential;
}

}  // namespace

Status Store::CreateCredential(const CredentialRecord& credential, int64_t now) {
  const CertificateRecord& certificate = credential.certificate;
  if (certificate.role == CertificateRole::kAgent || certificate.agent_id) {
    return Status::InvalidArgument("a credential's certificate is an admin, viewer or ci certificate");
  }
  std::lock_guard lock(mutex_);
  return WriteTransaction([&]() -> Status {
    {
      WW_ASSIGN_OR_RETURN(Statement active,
                          Statement::Prepare(db_, "SELECT serial FROM certificates WHERE credential_name = ? "
                                                  "AND revoked_at IS NULL AND not_after > ?"));
      active.BindText(1, credential.name).BindInt(2, now);
      WW_ASSIGN_OR_RETURN(bool found, active.Step());
      if (found) {
        return Status::FailedPrecondition("credential \"" + credential.name + "\" exists (certificate " +
                                          active.ColumnText(0) + "); revoke it first or choose another name");
      }
    }
    WW_ASSIGN_OR_RETURN(Statement insert,
                        Statement::Prepare(db_,
                                           "INSERT INTO certificates (serial, subject, role, not_before, not_after, "
                                           "revoked_at, credential_name, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
    insert.BindText(1, certificate.serial)
        .BindText(2, certificate.subject)
        .BindText(3, CertificateRoleName(certificate.role))
        .BindInt(4, certificate.not_before)
        .BindInt(5, certificate.not_after)
        .BindOptionalInt(6, certificate.revoked_at)
        .BindText(7, credential.name)
        .BindText(8, credential.created_by);
    return insert.Run().WithContext("inserting certificate " + certificate.serial);
  });
}

Result<std::vector<CredentialRecord>> Store::ListCredentials() {
  std::lock_guard lock(mutex_);
  WW_ASSIGN_OR_RETURN(Statement select,
                      Statement::Prepare(db_, "SELECT " + std::string(kCredentialColumns) +
                                                  " FROM certificates WHERE credential_name IS NOT NULL "
                                                  "ORDER BY credential_name, not_before, serial"));
  std::vector<CredentialRecord> credentials;
  while (true) {
    WW_ASSIGN_OR_RETURN(bool has_row, select.Step());
    if (!has_row) break;
    credentials.push_back(ReadCredential(select));
  }
  return credentials;
}

Result<std::vector<std::string>> Store::RevokeCredential(const std::string& name, int64_t now) {
  std::lock_guard lock(mutex_);
  std::vector<std::string> serials;
  Status status = WriteTransaction([&]() -> Status {
    {
      WW_ASSIGN_OR_RETURN(Statement select,
                          Statement::Prepare(db_, "SELECT serial, revoked_at FROM certificates "
                                                  "WHERE credential_name = ? ORDER BY serial"));
      select.BindText(1, name);
      bool known = false;
      while (true) {
        WW_ASSIGN_OR_RETURN(bool has_row, select.Step());
        if (!has_row) break;
        known = true;
        if (select.ColumnIsNull(1)) serials.push_back(select.ColumnText(0));
      }
      if (!known) return Status::NotFound("no credential named \"" + name + "\"");
    }
    WW_ASSIGN_OR_RETURN(Statement revoke,
                        Statement::Prepare(db_, "UPDATE certificates SET revoked_at = ? "
                                                "WHERE credential_name = ? AND revoked_at IS NULL"));
    revoke.BindInt(1, now).BindText(2, name);
    return RevokeKeepingAnAdminInTransaction(revoke, now, "credential \"" + name + "\"");
  });
  if (!status.ok()) return status;
  return serials;
}

Status Store::RecordCertificateUse(const std::vector<std::pair<std::string, int64_t>>& uses) {
  if (uses.empty()) return Status::Ok();
  std::lock_guard lock(mutex_);
  return WriteTransaction([&]() -> Status {
    WW_ASSIGN_OR_RETURN(Statement update,
                        Statement::Prepare(db_, "UPDATE certificates SET last_used_at = max(coalesce(last_used_at, 0), ?) "
                                                "WHERE serial = ?"));
    for (const auto& [serial, at] : uses) {
      update.BindInt(1, at).BindText(2, serial);
      WW_RETURN_IF_ERROR(update.Run());
      WW_RETURN_IF_ERROR(update.Reset());
    }
    return Status::Ok();
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
                                           "content_sha256, documents, author, message) "
                                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
    insert.BindText(1, RevisionSourceName(revision.source))
        .BindText(2, revision.commit_sha)
        .BindText(3, revision.applied_by)
        .BindInt(4, revision.created_at)
        .BindText(5, revision.content_sha256)
        .BindText(6, revision.documents)
        .BindText(7, revision.author)
        .BindText(8, revision.message);
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

}  // namespace ww
