#pragma once
// The reconciler's durable state in one SQLite file: agents, enrollment tokens (hashed),
// certificates, revisions, IP allocations, reports, plan generations and the event log.
// Thread-safe: one connection behind a mutex; every write is one BEGIN IMMEDIATE
// transaction, so several processes on the same file also serialise their writes.
// There is no clock inside: callers pass times as unix seconds.

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "schema/ipam.h"
#include "schema/net.h"
#include "schema/result.h"

struct sqlite3;

namespace ww {
namespace store {
class Statement;
}  // namespace store

using Sha256 = std::array<uint8_t, 32>;

enum class TokenType { kServer, kClient };

struct TokenRecord {
  std::string id;        // the public part of "wwt_<id>_<secret>"
  Sha256 secret_sha256{};  // never the secret itself
  TokenType type = TokenType::kClient;
  std::string name;      // the agent name it is meant for; may be empty
  std::string created_by;
  int64_t created_at = 0;
  int64_t expires_at = 0;
  std::optional<int64_t> used_at;
  std::optional<std::string> bound_spki;  // "sha256:<hex>" of the key that used it
  std::optional<int64_t> revoked_at;      // revoked before use: refused like an unknown token
  friend bool operator==(const TokenRecord&, const TokenRecord&) = default;
};

enum class AgentRole { kServer, kClient };

// One enrollment of an agent. Deleting marks it (deleted_at) and keeps the row, its
// certificates (revoked), reports, plan generations and events as history; the name and the
// WireGuard key are then free for a new enrollment, a new record with its own id.
struct AgentRecord {
  std::string id;    // this enrollment: the name, then "NAME.2", "NAME.3", ... (a dot is never in a name)
  std::string name;  // the identity in the agent's certificate
  AgentRole role = AgentRole::kClient;
  WireguardKey wireguard_public_key;
  std::string hostname;
  std::string version;
  int64_t created_at = 0;
  std::optional<int64_t> deleted_at;
  friend bool operator==(const AgentRecord&, const AgentRecord&) = default;
};

enum class CertificateRole { kAdmin, kViewer, kAgent, kCi };

// "admin", "viewer", "agent", "ci": as stored, and as the API shows a credential's role.
const char* CertificateRoleName(CertificateRole role);

struct CertificateRecord {
  std::string serial;  // hex
  std::optional<std::string> agent_id;  // set exactly when role is kAgent
  std::string subject;
  CertificateRole role = CertificateRole::kAgent;
  int64_t not_before = 0;
  int64_t not_after = 0;
  std::optional<int64_t> revoked_at;
  friend bool operator==(const CertificateRecord&, const CertificateRecord&) = default;
};

// A certificate issued by name to a person or a CI job (`wwctl credential create`), the
// bootstrap's "admin" included. Each certificate is its own record; a name has several when
// it was created again after a revocation or expiry.
struct CredentialRecord {
  std::string name;  // the identity's ID
  CertificateRecord certificate;  // role kAdmin, kViewer or kCi; no agent_id
  std::string created_by;         // the creator's identity URI; "" for the bootstrap's admin
  std::optional<int64_t> last_used_at;
  friend bool operator==(const CredentialRecord&, const CredentialRecord&) = default;
};

// The refusal of a revocation that would leave no admin able to manage the reconciler.
inline constexpr const char* kLastAdminMessage = "another admin must remain";

enum class RevisionSource { kGit, kApply, kRollback };

struct RevisionRecord {
  int64_t id = 0;  // assigned by AddRevision, increasing
  RevisionSource source = RevisionSource::kApply;
  std::string commit_sha;  // empty unless source is kGit
  std::string applied_by;
  int64_t created_at = 0;
  std::string content_sha256;  // hex
  std::string documents;       // the accepted desired state, as uploaded
  std::string author;          // git: "name <email>"; else empty
  std::string message;         // git: the commit message's first line; else empty
  friend bool operator==(const RevisionRecord&, const RevisionRecord&) = default;
};

// Failed applies of one agent since its last success, for retry backoff (core/reconcile.h).
struct AgentHealthRecord {
  std::string agent_id;
  int64_t consecutive_failures = 0;
  int64_t last_failure_at = 0;         // unix seconds
  int64_t last_failed_generation = 0;  // a failure is counted once per plan generation
  std::string last_error;
  friend bool operator==(const AgentHealthRecord&, const AgentHealthRecord&) = default;
};

// A git commit that was refused (invalid fleet, fetch refusal).
struct RejectedCommitRecord {
  std::string commit_sha;
  int64_t at = 0;
  std::vector<std::string> errors;  // one line each
  friend bool operator==(const RejectedCommitRecord&, const RejectedCommitRecord&) = default;
};

// The latest report of one agent.
struct ReportRecord {
  std::string agent_id;
  int64_t received_at = 0;
  int64_t generation = 0;  // the plan generation the agent had applied
  std::string observed_json;
  std::string metrics_json;
  friend bool operator==(const ReportRecord&, const ReportRecord&) = default;
};

struct PlanGenerationRecord {
  std::string agent_id;
  int64_t generation = 0;  // assigned by AddPlanGeneration: 1, 2, ... per agent
  int64_t revision_id = 0;
  int64_t created_at = 0;
  std::string desired_json;
  std::string plan_json;
  friend bool operator==(const PlanGenerationRecord&, const PlanGenerationRecord&) = default;
};

struct EventRecord {
  int64_t id = 0;  // assigned by AppendEvent
  int64_t at = 0;
  std::optional<std::string> agent_id;
  std::string kind;
  std::string message;
  friend bool operator==(const EventRecord&, const EventRecord&) = default;
};

// Connection settings as read back from SQLite (for status output and tests).
struct ConnectionSettings {
  int64_t foreign_keys = 0;
  int64_t busy_timeout_ms = 0;
  int64_t trusted_schema = 0;
  std::string journal_mode;
  int64_t synchronous = 0;  // 2 is FULL
  int defensive = 0;
  int64_t user_version = 0;
};

// The one message for every refused token: it does not say whether the id was unknown, the
// secret wrong, the token expired or already used.
inline constexpr const char* kTokenRefusedMessage =
    "token refused: it is unknown, expired or already used";

class Store {
 public:
  // Opens or creates the database at `path`, checks it (quick_check) and migrates it.
  // kFailedPrecondition when the file's schema is newer than this code.
  static Result<std::unique_ptr<Store>> Open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  Result<ConnectionSettings> Settings();

  // Tokens. REQUIRES: token.used_at, bound_spki and revoked_at are empty.
  Status CreateToken(const TokenRecord& token);
  // Every token ever created (secret hashes included; callers show only the rest), newest first.
  Result<std::vector<TokenRecord>> ListTokens();
  // Makes an unused token unusable at once. kNotFound for an unknown id; kFailedPrecondition
  // for a token already used (its agent exists: delete the agent instead). Revoking twice
  // keeps the first time.
  Status RevokeToken(const std::string& id, int64_t now);
  // Marks the token used and bound to `spki`, and returns it. Every refusal is
  // kInvalidArgument with kTokenRefusedMessage. Of concurrent calls, exactly one wins.
  Result<TokenRecord> ConsumeToken(const std::string& id, const Sha256& secret_sha256, int64_t now,
                                   const std::string& spki);
  // Whether the token would be accepted now (known, secret matching, unused, unrevoked, not
  // expired), without using it: enrollment asks before it spends CPU signing a certificate.
  // Refusals as ConsumeToken's. A later ConsumeToken/Enroll still decides who wins.
  Status CheckToken(const std::string& id, const Sha256& secret_sha256, int64_t now);

  // Enrollment in one transaction: consumes the token (as ConsumeToken, same refusals), checks
  // its scope, then inserts the agent and its certificate. A token of type server enrolls only
  // role kServer, client only kClient, and a named token only an agent of that name; otherwise
  // kFailedPrecondition with a message starting "token scope: " (it names the token's type or
  // name, never its secret). Any failure leaves all three untouched, so a refused agent (wrong
  // scope, a taken name) does not burn the token. A name or key held by a deleted agent is
  // free: when agent.id is taken by an earlier enrollment, the new record's id (and the
  // certificate's agent_id) become "<agent.id>.<N>", N the enrollment's number for the name.
  Result<TokenRecord> Enroll(const std::string& token_id, const Sha256& secret_sha256, int64_t now,
                             const std::string& spki, AgentRecord agent, CertificateRecord certificate);

  // Agents and certificates.
  Status InsertAgent(const AgentRecord& agent);
  // The enrolled agent of that name, else its latest deleted enrollment; kNotFound if none.
  Result<AgentRecord> FindAgentByName(const std::string& name);
  // Agents not deleted, sorted by name.
  Result<std::vector<AgentRecord>> ListAgents();
  // Every enrollment, deleted ones too, by name and then in enrollment order.
  Result<std::vector<AgentRecord>> ListAgentHistory();
  Status InsertCertificate(const CertificateRecord& certificate);
  // kNotFound for an unknown serial. Revoking twice keeps the first time. Revoking the last
  // admin certificate valid at `now` is kFailedPrecondition starting with kLastAdminMessage.
  Status RevokeCertificate(const std::string& serial, int64_t now);
  // kNotFound for a serial this store never issued: callers refuse it like a revoked one.
  Result<bool> IsRevoked(const std::string& serial);
  // Marks the agent deleted and revokes all its certificates (of every enrollment of the
  // name), in one transaction. kNotFound for an unknown or already deleted name.
  Status DeleteAgent(const std::string& name, int64_t now);
  // Every revoked serial, sorted: loads the in-memory set checked on each request.
  Result<std::vector<std::string>> ListRevokedSerials();

  // Credentials. Inserts the credential's certificate; kFailedPrecondition when a certificate
  // of that name is active (unrevoked and unexpired at `now`).
  Status CreateCredential(const CredentialRecord& credential, int64_t now);
  // Every credential certificate, revoked and expired ones too, by name then issue time.
  Result<std::vector<CredentialRecord>> ListCredentials();
  // Revokes every unrevoked certificate of the name in one transaction and returns their
  // serials (none when all were revoked already). kNotFound for a name never issued;
  // kFailedPrecondition (kLastAdminMessage) when no admin would remain, revoking nothing.
  Result<std::vector<std::string>> RevokeCredential(const std::string& name, int64_t now);
  // Keeps the later of the stored and the given time of each serial's last use; unknown
  // serials are ignored.
  Status RecordCertificateUse(const std::vector<std::pair<std::string, int64_t>>& uses);
  // Certificate renewal (store_renewal.cc). The newest notBefore among the certificates of
  // the enrollment `agent_id`, nullopt when it has none.
  Result<std::optional<int64_t>> NewestCertificateNotBefore(const std::string& agent_id);
  // A renewed certificate's first use: revokes the unrevoked certificates of the same
  // enrollment issued before `serial` (an earlier notBefore), in one transaction, and returns
  // their serials. Nothing for a serial that is unknown, revoked or not an agent's.
  Result<std::vector<std::string>> RevokeEarlierAgentCertificates(const std::string& serial, int64_t now);

  // Revisions. AddRevision assigns the id and makes it current in the same transaction.
  Result<int64_t> AddRevision(const RevisionRecord& revision);
  // kNotFound before the first revision.
  Result<RevisionRecord> CurrentRevision();
  // Newest first, at most `limit`.
  Result<std::vector<RevisionRecord>> ListRevisions(int64_t limit);
  // kNotFound for an unknown id.
  Result<RevisionRecord> FindRevision(int64_t id);
  // The newest revision that came from a git commit, or nullopt: the commit a forced apply or
  // rollback diverged from, and the one the git source must not submit again after a restart.
  Result<std::optional<RevisionRecord>> LatestGitRevision();

  // The latest rejected git commit (kept until ClearRejectedCommits), or nullopt.
  Status RecordRejectedCommit(const RejectedCommitRecord& rejected);
  Result<std::optional<RejectedCommitRecord>> LatestRejectedCommit();
  Status ClearRejectedCommits();

  // Replaces every allocation at once; on failure (e.g. two peers of a tunnel on one
  // address) the previous allocations stay.
  Status SaveAllocations(const Allocations& allocations);
  // Sorted by (tunnel, peer).
  Result<Allocations> LoadAllocations();

  // Keeps only the latest report per agent. kInternal for an unknown agent (foreign key).
  Status SaveReport(const ReportRecord& report);
  Result<ReportRecord> LatestReport(const std::string& agent_id);
  // Every agent's latest report, sorted by agent id.
  Result<std::vector<ReportRecord>> ListLatestReports();

  // Replaces the agent's counters. kInternal for an unknown agent (foreign key).
  Status SaveAgentHealth(const AgentHealthRecord& health);
  // Sorted by agent id.
  Result<std::vector<AgentHealthRecord>> ListAgentHealth();

  // Assigns the next generation of plan.agent_id and returns it. Generations count up per
  // agent name across its enrollments, so a re-enrolled agent's long-poll never goes back.
  Result<int64_t> AddPlanGeneration(const PlanGenerationRecord& plan);
  Result<PlanGenerationRecord> LatestPlanGeneration(const std::string& agent_id);
  // AddPlanGeneration for many agents in one transaction (one fsync for a whole fleet);
  // returns the generations in the order of `plans`. All or nothing.
  Result<std::vector<int64_t>> AddPlanGenerations(const std::vector<PlanGenerationRecord>& plans);
  // Every agent's latest generation, sorted by agent id.
  Result<std::vector<PlanGenerationRecord>> ListLatestPlanGenerations();

  Result<int64_t> AppendEvent(const EventRecord& event);
  // Many events in one transaction; ids are assigned in order.
  Status AppendEvents(const std::vector<EventRecord>& events);
  // Newest first, at most `limit`.
  Result<std::vector<EventRecord>> RecentEvents(int64_t limit);
  // The events with an id below `before_id`, newest first, at most `limit` (older pages).
  Result<std::vector<EventRecord>> EventsBefore(int64_t before_id, int64_t limit);
  // Deletes the events before `older_than` (unix seconds) and all but the newest
  // `keep_newest`, in one transaction; returns how many went.
  Result<int64_t> PruneEvents(int64_t keep_newest, int64_t older_than);

 private:
  Store(sqlite3* db, std::string path);
  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT under the writer mutex; rolls back when
  // `body` fails.
  template <typename Body>
  Status WriteTransaction(Body&& body);
  // The bodies of the writes above. REQUIRES: inside WriteTransaction.
  // The token of `id` when its secret matches; kTokenRefusedMessage otherwise (constant time
  // in the secret, and an unknown id pays for a comparison too). REQUIRES: mutex_ held.
  Result<TokenRecord> FindTokenBySecretLocked(const std::string& id, const Sha256& secret_sha256);
  Result<TokenRecord> ConsumeTokenInTransaction(const std::string& id, const Sha256& secret_sha256,
                                                int64_t now, const std::string& spki);
  Status InsertAgentInTransaction(const AgentRecord& agent);
  // agent.id, or "<agent.id>.<N>" when an earlier enrollment holds it.
  Result<std::string> EnrollmentIdInTransaction(const AgentRecord& agent);
  // The agents query with `clauses` (WHERE/ORDER BY) appended.
  Result<std::vector<AgentRecord>> ListAgentsWhere(const char* clauses);
  Status InsertCertificateInTransaction(const CertificateRecord& certificate);
  // Runs `revoke` (an UPDATE of certificates.revoked_at); fails when it took the last admin
  // certificate valid at `now`.
  Status RevokeKeepingAnAdminInTransaction(store::Statement& revoke, int64_t now, const std::string& what);
  // Its two statements are prepared once for the whole batch: a fleet's worth of plans is
  // one transaction, and preparing per plan cost as much as the inserts.
  Result<std::vector<int64_t>> AddPlanGenerationsInTransaction(std::span<const PlanGenerationRecord> plans);

  std::mutex mutex_;
  sqlite3* db_;  // owned; closed in the destructor
  std::string path_;
};

}  // namespace ww
