#pragma once
// FleetService: the reconciler's control loop behind its API, and the facade the daemon and
// tests construct. Its parts, each with one job:
//  - FleetState (fleet_state.h): what it knows, behind one mutex;
//  - RevisionBook (revision_book.h): the current revision: submit, validate, guards, preview,
//    rollback;
//  - AgentReconcileQueue (agent_queue.h): agent views, render cache, reconciles, plan
//    generations, reports, deletion;
//  - the status snapshot (fleet_snapshot_builder.h): one typed FleetSnapshot that the JSON,
//    /metrics and the badge render from;
//  - FleetRoutes (fleet_routes.h): the HTTP routes of reconciler/api/API.md, thin adapters
//    onto the calls below.
// Everything it knows survives a restart: Start() reloads it from the Store. Thread-safe:
// one mutex serialises submissions and reconciles; long-polls wait outside it.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "reconciler/api/https_server.h"
#include "reconciler/pki/certificate_authority.h"
#include "reconciler/server/agent_queue.h"
#include "reconciler/server/certificate_rotation.h"
#include "reconciler/server/fleet_routes.h"
#include "reconciler/server/fleet_snapshot_builder.h"
#include "reconciler/server/fleet_state.h"
#include "reconciler/server/revision_book.h"
#include "reconciler/server/revoked_serials.h"
#include "reconciler/status/snapshot_json.h"
#include "reconciler/store/store.h"
#include "schema/model.h"
#include "schema/result.h"
#include "schema/validate.h"

namespace ww {

inline constexpr int64_t kDefaultEventHistory = 10000;
inline constexpr std::chrono::seconds kDefaultEventMaxAge{30 * 86400};
// Even without new events, old ones are pruned by age this often.
inline constexpr int64_t kEventPruneIntervalSeconds = 3600;

// How much of the event log the store keeps: pruned at start and in the tick.
struct EventRetention {
  int64_t max_events = kDefaultEventHistory;     // the newest N; at least 1
  std::chrono::seconds max_age = kDefaultEventMaxAge;
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
  EventRetention events;
};

// Where an agent's long-poll for its plan starts.
struct PlanPollStart {
  bool ready = false;      // a generation above `after` exists: answer at once
  int64_t wait_after = 0;  // else wait for a generation above this
};

// An agent deleted by DELETE /v1/agents/NAME.
struct DeletedAgent {
  int64_t deleted_at = 0;
  std::string enroll_command;  // how to enroll it again
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
  // Joins the tick thread and stores the reports that waited for their second. Idempotent.
  // The HttpsServer is stopped by its owner.
  void Stop();

  // RevisionBook::Submit, Rollback and RecordRejectedCommit.
  Result<RevisionOutcome> Submit(const RevisionRequest& request);
  Result<RevisionOutcome> Rollback(int64_t revision_id, RevisionRequest request);
  Status RecordRejectedCommit(const std::string& commit_sha, const std::vector<std::string>& errors);

  // The fleet snapshot of API.md with the newest events, for the status page's documents:
  // built at most once a second however many read it (so it may be up to a second behind the
  // status version). The fleet mutex is held only while the in-memory part is copied, so
  // reports and polls never wait for the store's history or the JSON.
  Result<std::shared_ptr<const PublishedSnapshot>> Snapshot();
  // GET /v1/status: the snapshot at the current status version (built once per version and
  // second), with `page` of the event history.
  Result<std::shared_ptr<const PublishedSnapshot>> Snapshot(const EventPage& page);
  // Snapshot(page)'s JSON.
  Result<std::string> StatusJson(const EventPage& page = {});
  // The snapshot's "version" (FleetState::status_version); takes no lock.
  std::uint64_t StatusVersion();

  // Reconciles every agent now (also done on every trigger and tick).
  Status ReconcileAll();
  // Enrollment's hook (EnrollmentOptions::on_enrolled): loads the new agent and reconciles
  // it; the agents that hold its key (its tunnel's server) follow on the tick or before they
  // are read (AgentReconcileQueue::AddEnrollment). An agent's first contact does the same.
  Status AgentEnrolled(const std::string& name);
  // RevisionBook::TokenWarnings.
  std::vector<std::string> TokenWarnings(TokenType type, const std::string& name);

  // The calls of an agent: kNotFound when it is not enrolled (or deleted), else internal.
  // GET plan: marks the agent seen; whether a generation above `after` is ready.
  Result<PlanPollStart> StartPlanPoll(const std::string& agent, int64_t after);
  // The answer of a plan poll ({"generation", "revision", "desired", "plan"}), nullopt
  // while the agent has no plan generation.
  std::optional<std::string> PlanAnswer(const std::string& agent);
  // POST report: AgentReconcileQueue::RecordReport (kInvalidArgument naming the field).
  Status RecordReport(const std::string& agent, ReceivedReport report);
  // The enrollment id its renewed certificate is stored under.
  Result<std::string> EnrolledAgentId(const std::string& agent);
  // Renewal's rate limit (CertificateRotation::RenewalRefusedUntil) for that enrollment id.
  Result<std::optional<int64_t>> RenewalRefusedUntil(const std::string& agent_id);
  // Every authenticated request (HttpsServer::OnAuthenticated, installed by Start()): an
  // agent's first request with a renewed certificate revokes its earlier ones, with a
  // `certificate-renewed` event.
  void CertificateUsed(const Identity& identity, const std::string& serial);

  // DELETE /v1/agents/NAME: kNotFound for an unknown or already deleted name.
  Result<DeletedAgent> DeleteAgent(const std::string& agent, const std::string& deleted_by);

 private:
  Status Load();
  void TickLoop();
  // Store::PruneEvents with options_.events at `now`.
  Status PruneEvents(int64_t now);
  // The cached snapshot when it was built this second and, with kCurrentVersion, at the
  // current status version; else a new one.
  enum class Freshness { kThisSecond, kCurrentVersion };
  Result<std::shared_ptr<const PublishedSnapshot>> Published(Freshness freshness);

  Store& store_;
  const CertificateAuthority& ca_;
  HttpsServer& server_;
  RevokedSerials& revoked_;
  FleetServiceOptions options_;
  CertificateRotation rotation_;

  FleetState state_;
  AgentReconcileQueue queue_;
  RevisionBook book_;
  std::unique_ptr<FleetRoutes> routes_;

  // Serialises snapshot builds (taken before the fleet mutex, never after it): concurrent
  // readers wait for one build and share it.
  std::mutex snapshot_mutex_;
  std::shared_ptr<const PublishedSnapshot> published_;  // GUARDED_BY(snapshot_mutex_)

  std::mutex tick_mutex_;
  std::condition_variable tick_wake_;
  bool stopping_ = false;  // GUARDED_BY(tick_mutex_)
  int64_t pruned_at_ = 0;  // tick thread only: when events were last pruned
  std::thread ticker_;
};

}  // namespace ww
