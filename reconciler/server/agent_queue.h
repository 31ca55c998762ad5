#pragma once
// AgentReconcileQueue: the per-agent half of the fleet service. It keeps each agent's view
// (FleetState::agents) in step with the store, renders every agent of the current revision
// once per revision or key change (the render cache), reconciles agents against their latest
// reports (core/reconcile.h, with the heal backoff of core/heal_backoff.h), stores the plan
// generations that result and wakes their long-polls. Every member function REQUIRES: the
// state's mutex held.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "reconciler/core/reconcile.h"
#include "reconciler/server/fleet_state.h"
#include "reconciler/server/received_report.h"
#include "reconciler/server/revoked_serials.h"
#include "schema/net.h"
#include "schema/result.h"

namespace ww {

// What one agent would be sent for a revision.
struct AgentPreview {
  std::string agent;
  std::string phase;               // ReconcilePhaseName
  std::vector<std::string> steps;  // DescribeStep of each plan step
  bool destructive = false;
  std::string message;
};

// Peers a report may list beyond those of the agent's rendered config: peers someone added to
// its interfaces by hand, which the report must show for a heal to remove them.
inline constexpr std::size_t kReportPeerAllowance = 16;

class AgentReconcileQueue {
 public:
  // control_address: kept off the tunnel in gateway mode (render.h), if known.
  AgentReconcileQueue(FleetState& state, std::optional<Ipv4Address> control_address);

  // Rebuilds every agent's view from the store (enrollments, deleted ones too, latest
  // reports, plan generations, health) and tells the long-poll hub each agent's generation.
  Status LoadAgents();

  // One reconcile of the named agents against the current revision: phase and drift for the
  // status, and a new plan generation where the agent needs one. Stores queued events.
  Status Reconcile(int64_t now, const std::vector<std::string>& names);
  // The agents whose connection state changed or whose retry is due at `now` (the tick).
  std::vector<std::string> DueAgents(int64_t now) const;

  // The revision or the keys changed in a way the queue was not told of: every agent is
  // rendered again before its next reconcile. An agent whose config comes out the same keeps
  // its JSON, so nothing is written or stored again for it.
  void ResetRenderCache();
  // What each agent of `fleet` would be sent against its latest report, storing nothing.
  std::vector<AgentPreview> Preview(const Fleet& fleet, const Allocations& allocations, int64_t now,
                                    int64_t revision_id) const;
  // The previews of the current revision from the latest reconcile.
  std::vector<AgentPreview> CurrentPreviews() const;

  // A new enrollment of `name` (enrollment's hook): its record is read from the store and
  // reconciled now. Only the agents holding its key (KeyDependents: the server of a tunnel it
  // joins, the clients of a tunnel it serves) render again, and they are deferred: a burst of
  // enrollments re-renders a server of 10,000 peers a few times, not once per enrollment.
  // kNotFound when the store has no enrolled agent of that name or the queue knows it already.
  Status AddEnrollment(const std::string& name, int64_t now);
  // Reconciles the deferred agents (no-op when there are none): on the tick, and before
  // anything reads them (their plan poll, the snapshot), so nobody sees them stale.
  Status ReconcileDeferred(int64_t now);
  bool IsDeferred(const std::string& name) const { return deferred_.contains(name); }

  // Adds every enrolled agent the state does not know yet; true when there was one.
  Result<bool> RefreshAgents(int64_t now);
  // The view of an enrolled, not deleted agent, loading it on its first contact (its key is
  // new: see AddEnrollment). kNotFound when unknown or deleted.
  Result<AgentView*> EnrolledAgent(const std::string& name, int64_t now);
  // Takes the agent's report, counts a failed apply once per generation and reconciles it.
  // kInvalidArgument naming the field for a generation the server did not issue to the agent
  // (0 = none yet is always accepted) or more peers than its rendered config has plus
  // kReportPeerAllowance. The view is current at once; the store gets at most one report per
  // agent per second, a later one in the same second waits for SaveDueReports.
  Status RecordReport(AgentView& view, ReceivedReport report, int64_t now);
  // Stores the reports that waited, those whose agent's last stored report is older than
  // `now` (the tick), or all of them with `now` unset (Stop).
  Status SaveDueReports(std::optional<int64_t> now);
  // Deletes the agent in the store (its certificates revoked: refused from the next request
  // on, its open long-poll answered), keeping a view of the deleted enrollment. kNotFound for
  // an unknown or already deleted name.
  Status DeleteAgent(const std::string& name, const std::string& deleted_by, int64_t now, RevokedSerials& revoked);

 private:
  // One agent's render for the current revision and keys, and the compact JSON of its config
  // (written when first needed, kept while the config stays the same).
  struct RenderedAgent {
    Result<AgentConfig> config = Status::NotFound("not rendered yet");
    std::string json;
  };

  RenderInput MakeRenderInput(const Allocations& allocations) const;
  // Sets input_cache_ (and key_dependents_) from the current revision when it is unset.
  // REQUIRES: a current revision.
  void PrepareInputCache();
  // The agent's render, rendering what changed first. REQUIRES: input_cache_ is set.
  RenderedAgent& Rendered(const std::string& agent);
  // The peers of the agent's rendered config: 0 outside the fleet or when it cannot render.
  std::size_t RenderedPeerCount(const std::string& agent);
  Status SaveReport(AgentView& view);
  // The agent's WireGuard key appeared, changed or went (its view's record says which): the
  // render input follows, and it and its KeyDependents render again. Returns those others.
  std::vector<std::string> KeyChanged(const std::string& name);
  // Adds `record` as the enrolled agent of its name (event, long-poll reinstated).
  void AddEnrolledView(AgentRecord record, int64_t now);

  FleetState& state_;
  std::optional<Ipv4Address> control_address_;
  // The fleet and render input every agent's reconcile shares: built once per revision (a
  // report does not copy the fleet), its keys kept in step with enrollments and deletions.
  std::optional<AgentReconcileInput> input_cache_;
  std::map<std::string, std::vector<std::string>> key_dependents_;  // KeyDependents(input_cache_->fleet)
  std::map<std::string, RenderedAgent> rendered_;  // by agent
  bool render_all_ = true;          // every entry is checked by one RenderEach before use
  std::set<std::string> stale_;     // entries rendered again (alone) before use
  std::set<std::string> deferred_;  // agents to reconcile at the next tick or read
  std::set<std::string> unsaved_reports_;  // agents whose view holds a report not stored yet
};

}  // namespace ww
