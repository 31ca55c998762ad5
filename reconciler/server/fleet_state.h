#pragma once
// FleetState: what the fleet service knows between requests, behind one mutex: the current
// revision, one view per agent, the events waiting to be stored and the status version.
// RevisionBook, AgentReconcileQueue and the snapshot builder read and change it; FleetService
// owns it. Every member function REQUIRES: mutex held.

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "reconciler/api/https_server.h"
#include "reconciler/core/heal_backoff.h"
#include "reconciler/server/report_figures.h"
#include "reconciler/store/store.h"
#include "schema/ipam.h"
#include "schema/model.h"
#include "schema/observed_state.h"

namespace ww {

// The LongPollHub key GET /v1/status?after=VERSION waits on; no agent name has a "/".
inline constexpr const char* kStatusPollKey = "/status";

// The git commit a forced apply or rollback replaced: the fleet is diverged from git until
// the next commit arrives.
struct GitBase {
  std::string commit_sha;
  int64_t revision_id = 0;
};

struct CurrentRevision {
  RevisionRecord record;
  Fleet fleet;
  Allocations allocations;
  std::set<std::string> fleet_agents;    // FleetAgents(fleet)
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
  int64_t report_saved_at = 0;  // received_at of the latest report in the store; 0 = none
  std::optional<ObservedState> observed;  // parsed report
  ReportFigures figures;                  // of report, read once
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
  // The latest report said its generation's pushed plan was stale (it ran nothing).
  LatestPlanOutcome latest_plan_outcome = LatestPlanOutcome::kRan;
};

struct FleetState {
  FleetState(Store& fleet_store, LongPollHub& fleet_long_polls) : store(fleet_store), long_polls(fleet_long_polls) {}

  std::vector<std::string> AgentNames() const;
  bool InFleet(const std::string& name) const;
  // The role the fleet gives the name (a Tunnel's agent is a server), else the role it was
  // enrolled with, else client.
  AgentRole ExpectedRole(const std::string& name) const;
  // "wwctl token create --type server|client --name NAME", the type from ExpectedRole.
  std::string EnrollCommand(const std::string& name) const;

  // Events reach the store at the next FlushEvents (one transaction for a reconcile's events).
  void QueueEvent(int64_t now, const AgentView* view, const std::string& kind, const std::string& message);
  bool HasPendingEvents() const { return !pending_events.empty(); }
  Status FlushEvents();
  // Bumps status_version and wakes GET /v1/status long-polls.
  void StatusChanged();

  Store& store;
  LongPollHub& long_polls;
  std::mutex mutex;
  std::optional<CurrentRevision> current;    // GUARDED_BY(mutex)
  std::map<std::string, AgentView> agents;   // GUARDED_BY(mutex); by name
  std::vector<EventRecord> pending_events;   // GUARDED_BY(mutex)
  bool events_appended = false;              // GUARDED_BY(mutex); since the tick last pruned
  // The snapshot's "version": it grows whenever what the snapshot says changes (a revision,
  // an agent's phase, connection, plan or report generation, an event), not for its clock.
  // Written under mutex; read without it by snapshot readers checking their cache.
  std::atomic<std::uint64_t> status_version{1};
};

}  // namespace ww
