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

  // Forgets every rendered config: the revision or the set of enrolled agents changed.
  void ResetRenderCache();
  // What each agent of `fleet` would be sent against its latest report, storing nothing.
  std::vector<AgentPreview> Preview(const Fleet& fleet, const Allocations& allocations, int64_t now,
                                    int64_t revision_id) const;
  // The previews of the current revision from the latest reconcile.
  std::vector<AgentPreview> CurrentPreviews() const;

  // Adds every enrolled agent the state does not know yet; true when there was one.
  Result<bool> RefreshAgents(int64_t now);
  // The view of an enrolled, not deleted agent, loading it on its first contact (which
  // re-renders everyone: its key is new). kNotFound when unknown or deleted.
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
  RenderInput MakeRenderInput(const Allocations& allocations) const;
  // Sets input_cache_ from the current revision when it is unset. REQUIRES: a current revision.
  void PrepareInputCache();
  // REQUIRES: input_cache_ is set.
  const Result<AgentConfig>& Rendered(const std::string& agent);
  // The peers of the agent's rendered config: 0 outside the fleet or when it cannot render.
  std::size_t RenderedPeerCount(const std::string& agent);
  Status SaveReport(AgentView& view);

  FleetState& state_;
  std::optional<Ipv4Address> control_address_;
  // The fleet and render input every agent's reconcile shares; reset whenever the revision
  // or the set of enrolled agents changes, so a report does not copy the fleet.
  std::optional<AgentReconcileInput> input_cache_;
  // Each agent's rendered config for input_cache_, filled by one RenderAll (or per agent
  // when some agent cannot render yet); cleared with input_cache_.
  std::map<std::string, Result<AgentConfig>> rendered_;
  bool rendered_all_tried_ = false;
  std::map<std::string, std::string> rendered_json_;  // compact JSON of rendered_
  std::set<std::string> unsaved_reports_;  // agents whose view holds a report the store has not
};

}  // namespace ww
