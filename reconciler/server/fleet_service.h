#pragma once
// FleetService: the reconciler's control loop behind its API. It owns the current revision
// (validated whole, like offline `wwctl validate`), renders every agent from it with the
// enrolled WireGuard keys and stored address allocations, reconciles each agent against its
// latest report (core/reconcile.h), stores plan generations and wakes long-polls. Routes
// (reconciler/api/API.md): revisions, rollback, status, agent plan/report/certificate/delete.
// Everything it knows survives a restart: Start() reloads it from the Store.
// Thread-safe: one mutex serialises submissions and reconciles; long-polls wait outside it.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "reconciler/api/https_server.h"
#include "reconciler/core/reconcile.h"
#include "reconciler/core/revision_guard.h"
#include "reconciler/pki/certificate_authority.h"
#include "reconciler/store/store.h"
#include "schema/fleet_diff.h"
#include "schema/loader.h"
#include "schema/model.h"
#include "schema/validate.h"
#include "schema/result.h"

namespace ww {

inline constexpr std::size_t kRevisionMaxBody = std::size_t{8} << 20;
inline constexpr std::size_t kReportMaxBody = std::size_t{4} << 20;
inline constexpr int64_t kDefaultPollWaitSeconds = 25;
inline constexpr int64_t kMaxPollWaitSeconds = 30;
inline constexpr int64_t kStatusRevisionCount = 20;
inline constexpr int64_t kStatusEventCount = 50;
// The LongPollHub key GET /v1/status?after=VERSION waits on; no agent name has a "/".
inline constexpr const char* kStatusPollKey = "/status";

// The certificate serials refused on every request: loaded from the Store, extended when an
// agent is deleted. Built before the HttpsServer (its is_revoked option calls Contains).
class RevokedSerials {
 public:
  bool Contains(const std::string& serial_hex) const;
  void Replace(std::vector<std::string> serials);

 private:
  mutable std::mutex mutex_;
  std::set<std::string> serials_;  // GUARDED_BY(mutex_)
};

enum class DryRun { kNo, kYes };
// Whether an upload may replace a revision that came from git.
enum class ForceOverGit { kNo, kYes };

struct RevisionRequest {
  std::vector<SourceFile> documents;  // path is only shown in messages
  RevisionSource source = RevisionSource::kApply;
  std::string commit_sha;  // git only
  std::string author;      // git only
  std::string message;     // git only
  std::string applied_by;  // the caller's identity URI, or "git"
  DryRun dry_run = DryRun::kNo;
  AllowDestructive allow_destructive = AllowDestructive::kNo;
  ForceOverGit force = ForceOverGit::kNo;
};

// What one agent would be sent for a submitted revision.
struct AgentPreview {
  std::string agent;
  std::string phase;               // ReconcilePhaseName
  std::vector<std::string> steps;  // DescribeStep of each plan step
  bool destructive = false;
  std::string message;
};

enum class RevisionVerdict {
  kAccepted,     // stored as revision_id
  kUnchanged,    // identical to the current revision: nothing stored
  kDryRun,       // nothing stored
  kInvalid,      // diagnostics: 422
  kDestructive,  // refused without allow_destructive: 409
  kGitOwned,     // the current revision is from git and force was not given: 409
};

struct RevisionOutcome {
  RevisionVerdict verdict = RevisionVerdict::kAccepted;
  std::optional<int64_t> revision_id;  // with kAccepted
  std::string message;                 // why, for kInvalid / kDestructive / kGitOwned
  // kInvalid: every finding as `wwctl validate` prints it (warnings too); error_count errors.
  std::vector<std::string> diagnostics;
  std::size_t error_count = 0;
  std::vector<std::string> warnings;  // accepted or dry-run: warning lines
  std::vector<AgentPreview> agents;   // accepted, unchanged or dry-run
  FleetDiff changes;                  // accepted or dry-run: against the current revision
  // Accepted from git over a forced apply or rollback: ", ending the override by ..." (for
  // logs; the event log has it too). Empty otherwise.
  std::string override_ended;
};

struct FleetServiceOptions {
  std::function<int64_t()> now;  // unix seconds; required
  // How often disconnections and due retries are looked at.
  std::chrono::milliseconds tick_interval{2000};
  // Control-plane address kept off the tunnel in gateway mode (render.h), if known.
  std::optional<Ipv4Address> control_address;
  // The release GET /v1/version reports ("0.1.0"); the daemon passes its build's version.
  std::string version = "unknown";
  // The advertised host and port: forwards that would take the control server's port on
  // its own VPS are refused (validate.h).
  ValidationContext validation;
};

class FleetService {
 public:
  // REQUIRES: store, ca, server and revoked outlive the service; call before server.Start().
  FleetService(Store& store, const CertificateAuthority& ca, HttpsServer& server, RevokedSerials& revoked,
               FleetServiceOptions options);
  ~FleetService();  // Stop()s
  FleetService(const FleetService&) = delete;
  FleetService& operator=(const FleetService&) = delete;

  // Loads the current revision, agents, reports, plan generations and revoked serials,
  // reconciles once, registers the routes and starts the tick thread.
  Status Start();
  // Joins the tick thread. Idempotent. The HttpsServer is stopped by its owner.
  void Stop();

  // The one way a revision comes in: POST /v1/revisions, rollback and the git source. A git
  // revision (source kGit) that is invalid is also recorded as the rejected commit. Errors
  // (Status) are only internal failures; refusals are verdicts.
  Result<RevisionOutcome> Submit(const RevisionRequest& request);
  // A git commit that could not become a revision (fetch refusal, invalid fleet).
  Status RecordRejectedCommit(const std::string& commit_sha, const std::vector<std::string>& errors);

  // GET /v1/status: the fleet snapshot of API.md (also the status page's /status.json).
  Result<std::string> StatusJson();
  // The snapshot's "version": it grows whenever what the snapshot says changes (a revision,
  // an agent's phase, connection, plan or report generation, an event), not for its clock.
  std::uint64_t StatusVersion();

  // Reconciles every agent now (also done on every trigger and tick).
  Status ReconcileAll();
  // Enrollment's hook (EnrollmentOptions::on_enrolled): loads the new agent and re-renders
  // every agent, since its WireGuard key is new. An agent's first contact does the same.
  Status AgentEnrolled(const std::string& name);

  // EnrollmentOptions::token_warnings: a token for an agent the current revision does not
  // name, or of the other mode than the fleet's use of that name (a Tunnel's agent is a
  // server, a Peer's agent a client), enrolls an agent that gets nothing or cannot enroll.
  std::vector<std::string> TokenWarnings(TokenType type, const std::string& name);

 private:
  // The git commit a forced apply or rollback replaced: the fleet is diverged from git
  // until the next commit arrives.
  struct GitBase {
    std::string commit_sha;
    int64_t revision_id = 0;
  };
  struct CurrentRevision {
    RevisionRecord record;
    Fleet fleet;
    Allocations allocations;
    std::set<std::string> fleet_agents;  // FleetAgents(fleet)
    std::optional<GitBase> diverged_from;  // set only when record is not from git
    // Errors this version's validation finds in a revision an earlier version accepted (a
    // rule added by an upgrade). The revision stays in force, since refusing to start would
    // leave the fleet unmanageable, and status says what to fix until the next revision.
    std::vector<std::string> stale_findings;
  };
  // What the service remembers about one agent between reconciles.
  struct AgentView {
    std::optional<AgentRecord> record;   // absent: named by the fleet, not enrolled (or deleted)
    std::optional<AgentRecord> deleted;  // without record: its latest enrollment, deleted
    // The highest plan generation of its deleted enrollments: the long-poll hub's generations
    // never go back, so a new enrollment's poll waits for one above this.
    int64_t generation_floor = 0;
    std::vector<std::string> warnings;  // of its rendered config (e.g. a peer left out)
    int64_t last_seen = 0;              // latest report or poll; 0 = never
    std::optional<ReportRecord> report;
    std::optional<ObservedState> observed;  // parsed report
    std::optional<PlanGenerationRecord> latest_plan;
    AgentHealthRecord health;
    // From the latest reconcile ("" until the first one):
    std::string phase;
    std::string message;
    std::vector<std::string> steps;  // the plan against the latest report (or the full plan)
    bool destructive = false;
    std::optional<int64_t> retry_at;
    bool connected = false;
    int heals_in_a_row = 0;  // drift-healing generations since the desired config last changed
  };

  Status Load();
  Status RegisterRoutes();
  void TickLoop();

  // REQUIRES: mutex_ held.
  Status ReconcileAgentsLocked(int64_t now, const std::vector<std::string>& names);
  std::vector<std::string> AgentNamesLocked() const;
  // The role the fleet gives the name (a Tunnel's agent is a server), else the role it was
  // enrolled with, else client.
  AgentRole ExpectedRoleLocked(const std::string& name) const;
  // "wwctl token create --type server|client --name NAME", the type from ExpectedRoleLocked.
  std::string EnrollCommandLocked(const std::string& name) const;
  RenderInput RenderInputLocked(const Allocations& allocations) const;
  std::vector<AgentPreview> PreviewLocked(const Fleet& fleet, const Allocations& allocations, int64_t now);
  // The previews of the current revision from the latest reconcile.
  std::vector<AgentPreview> CurrentPreviewsLocked() const;
  // REQUIRES: input_cache_ is set.
  const Result<AgentConfig>& RenderedLocked(const std::string& agent);
  void ResetRenderCacheLocked();
  void QueueEventLocked(int64_t now, const AgentView* view, const std::string& kind, const std::string& message);
  Status FlushEventsLocked();
  Result<std::string> StatusJsonLocked(int64_t now);
  // Bumps status_version_ and wakes GET /v1/status long-polls.
  void StatusChangedLocked();
  // Adds every enrolled agent the service does not know yet; true when there was one.
  Result<bool> RefreshAgentsLocked(int64_t now);
  // The view of an enrolled, not deleted agent, loading it on its first contact (which
  // re-renders everyone: its key is new). kNotFound when unknown or deleted.
  Result<AgentView*> EnrolledAgentLocked(const std::string& name, int64_t now);

  HttpResponse HandleSubmit(const HttpRequest& request);
  HttpResponse HandleListRevisions(const HttpRequest& request);
  HttpResponse HandleGetRevision(const HttpRequest& request);
  HttpResponse HandleRollback(const HttpRequest& request);
  HttpResponse HandleStatus(const HttpRequest& request);
  HttpResponse HandleVersion(const HttpRequest& request);
  HttpResponse HandleDeleteAgent(const HttpRequest& request);
  HttpResponse HandlePlan(const HttpRequest& request);
  HttpResponse HandleReport(const HttpRequest& request);
  HttpResponse HandleRenewal(const HttpRequest& request);
  // The answer to a long-poll: 200 with the generation, 204, or an error.
  HttpResponse PlanAnswer(const std::string& agent);

  Store& store_;
  const CertificateAuthority& ca_;
  HttpsServer& server_;
  RevokedSerials& revoked_;
  FleetServiceOptions options_;

  std::mutex mutex_;
  std::optional<CurrentRevision> current_;      // GUARDED_BY(mutex_)
  std::map<std::string, AgentView> agents_;     // GUARDED_BY(mutex_); by name
  std::vector<EventRecord> pending_events_;     // GUARDED_BY(mutex_)
  // The fleet and render input every agent's reconcile shares; reset whenever the revision
  // or the set of enrolled agents changes, so a report does not copy the fleet.
  std::optional<AgentReconcileInput> input_cache_;  // GUARDED_BY(mutex_)
  // Each agent's rendered config for input_cache_, filled by one RenderAll (or per agent
  // when some agent cannot render yet); cleared with input_cache_.
  std::map<std::string, Result<AgentConfig>> rendered_;  // GUARDED_BY(mutex_)
  bool rendered_all_tried_ = false;                       // GUARDED_BY(mutex_)
  std::map<std::string, std::string> rendered_json_;      // GUARDED_BY(mutex_); compact JSON of rendered_
  bool routes_registered_ = false;
  std::uint64_t status_version_ = 1;  // GUARDED_BY(mutex_); see StatusVersion()

  std::mutex tick_mutex_;
  std::condition_variable tick_wake_;
  bool stopping_ = false;  // GUARDED_BY(tick_mutex_)
  std::thread ticker_;
};

// Every finding as `wwctl validate` prints it: "vps.yaml:4:3: error: ...".
std::vector<std::string> DiagnosticLines(const Diagnostics& diagnostics);

// Revision documents as stored in RevisionRecord.documents: [{"path", "content"}].
std::string DocumentsToJson(const std::vector<SourceFile>& documents);
Result<std::vector<SourceFile>> DocumentsFromJson(std::string_view text);

// Lowercase hex SHA-256 of `text`.
std::string Sha256Hex(std::string_view text);

}  // namespace ww
