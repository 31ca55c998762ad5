#include "reconciler/core/reconcile.h"

#include <set>
#include <string>
#include <utility>

namespace ww {
namespace {

using Phase = AgentReconcileResult::Phase;

std::string StepCount(const Plan& plan) {
  return std::to_string(plan.steps.size()) + (plan.steps.size() == 1 ? " step" : " steps");
}

// The tunnels of the agent's interfaces when every one of them has selfHeal false, joined
// for the message; "" when any interface heals (or there is none).
std::string DetectOnlyTunnels(const Fleet& fleet, const AgentConfig& desired) {
  if (desired.interfaces.empty()) return "";
  std::set<std::string> names;
  for (const WireguardInterface& interface : desired.interfaces) {
    bool self_heal = true;
    for (const Tunnel& tunnel : fleet.tunnels) {
      if (tunnel.metadata.name == interface.tunnel) self_heal = tunnel.spec.self_heal;
    }
    if (self_heal) return "";
    names.insert(interface.tunnel);
  }
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : ", ") + name;
  return joined;
}

}  // namespace

std::string_view ReconcilePhaseName(Phase phase) {
  switch (phase) {
    case Phase::kConverged: return "converged";
    case Phase::kPending: return "pending";
    case Phase::kDriftReported: return "drift-reported";
    case Phase::kDegraded: return "degraded";
    case Phase::kDisconnected: return "disconnected";
    case Phase::kRenderFailed: return "render-failed";
  }
  return "unknown";
}

int64_t RetryDelaySeconds(int consecutive_failures) {
  if (consecutive_failures <= 0) return 0;
  int64_t delay = kFirstRetryDelaySeconds;
  // Stops doubling at the cap, so no failure count can overflow the shift.
  for (int failure = 1; failure < consecutive_failures && delay < kMaxRetryDelaySeconds; ++failure) delay *= 2;
  return delay < kMaxRetryDelaySeconds ? delay : kMaxRetryDelaySeconds;
}

AgentReconcileResult ReconcileAgent(const AgentReconcileInput& input) {
  AgentReconcileResult result;
  Result<AgentConfig> rendered =
      input.rendered ? *input.rendered : RenderAgent(input.fleet, input.render, input.agent);
  if (!rendered.ok()) {
    result.phase = Phase::kRenderFailed;
    result.message = rendered.status().message();
    return result;
  }
  result.desired = std::move(rendered).value();
  const std::string revision = "revision " + std::to_string(input.revision_id);

  if (input.latest_report) {
    result.plan = ComputePlan(result.desired, *input.latest_report);
  } else {
    result.plan = ComputePlan(result.desired, ObservedState{});
  }

  const AgentHistory& history = input.history;
  const bool revision_changed = history.last_revision_id != input.revision_id;
  if (result.plan.empty()) {
    result.phase = Phase::kConverged;
    result.message = "converged at " + revision;
  } else if (revision_changed) {
    result.phase = Phase::kPending;
    result.deliver = true;
    result.message = StepCount(result.plan) + " to apply for " + revision;
    if (!input.latest_report) result.message += " (no report yet: the full plan)";
    if (history.consecutive_failures > 0) {
      result.message += "; replaces the failing retry of revision " + std::to_string(history.last_revision_id);
    }
  } else if (std::string tunnels = DetectOnlyTunnels(input.fleet, result.desired); !tunnels.empty()) {
    result.phase = Phase::kDriftReported;
    result.message = "drift of " + StepCount(result.plan) + " not healed: selfHeal is false on tunnel " + tunnels;
  } else if (history.consecutive_failures > 0) {
    result.phase = Phase::kDegraded;
    const int64_t delay = RetryDelaySeconds(history.consecutive_failures);
    const int64_t due = history.last_failure_time + delay;
    const std::string failures = std::to_string(history.consecutive_failures) + " consecutive failures of " + revision;
    if (input.now < due) {
      result.retry_at = due;
      result.message = failures + "; backing off " + std::to_string(delay) + " s until " + std::to_string(due);
    } else {
      result.deliver = true;
      result.message = failures + "; retrying " + StepCount(result.plan);
    }
  } else {
    result.phase = Phase::kPending;
    result.deliver = true;
    result.message = StepCount(result.plan) + " to apply for " + revision;
  }

  if (input.latest_report && input.now - input.report_time > kDisconnectedAfterSeconds) {
    result.phase = Phase::kDisconnected;
    result.message = "no report for " + std::to_string(input.now - input.report_time) + " s; " + result.message;
  }
  return result;
}

}  // namespace ww
