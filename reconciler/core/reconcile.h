#pragma once
// ReconcileAgent: the level-triggered reconcile of one agent, like controller-runtime's
// Reconcile of one key. Pure: no I/O and no clock (times are unix seconds passed in), so
// the caller (the reconciler's loop) stores the result and every rule has a table test.
// It decides what the agent should be told; persisting plan generations is the caller's.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "schema/agent_config.h"
#include "schema/model.h"
#include "schema/observed_state.h"
#include "schema/plan.h"
#include "schema/render.h"

namespace ww {

// An agent with no report for longer than this is shown as disconnected (agents report
// every 30 s, so this is three missed reports).
inline constexpr int64_t kDisconnectedAfterSeconds = 90;
// Retry delays double from the first to this cap.
inline constexpr int64_t kFirstRetryDelaySeconds = 1;
inline constexpr int64_t kMaxRetryDelaySeconds = 60;

// What the store remembers about past deliveries to one agent.
struct AgentHistory {
  int64_t last_plan_generation = 0;   // 0 = nothing delivered yet
  int consecutive_failures = 0;       // failed applies since the last success; the caller resets it
  int64_t last_failure_time = 0;      // unix seconds of the latest failure
  int64_t last_revision_id = 0;       // revision of the last delivered plan; 0 = none (ids start at 1)
};

struct AgentReconcileInput {
  std::string agent;
  Fleet fleet;  // the current revision; REQUIRES: ValidateFleet has no errors
  RenderInput render;
  std::optional<ObservedState> latest_report;  // absent until the agent's first report
  int64_t report_time = 0;  // unix seconds the latest report arrived; ignored without one
  int64_t now = 0;          // unix seconds
  AgentHistory history;
  int64_t revision_id = 0;  // the revision `fleet` is
  // The agent's config when the caller rendered it already (e.g. the whole fleet at once with
  // RenderAll, cached until the revision or a key changes); unset: rule 1 renders it.
  std::optional<Result<AgentConfig>> rendered;
};

struct AgentReconcileResult {
  enum class Phase {
    kConverged,      // the latest report matches the desired config
    kPending,        // a plan to deliver
    kDriftReported,  // selfHeal false: drift computed and shown, not delivered
    kDegraded,       // applies keep failing: backing off, or delivering a due retry
    kDisconnected,   // no report for kDisconnectedAfterSeconds (the plan is still computed)
    kRenderFailed,   // the agent's config could not be rendered (e.g. no key yet)
  };
  AgentConfig desired;
  Plan plan;
  Phase phase = Phase::kConverged;
  std::optional<int64_t> retry_at;  // unix seconds; set while backing off
  std::string message;              // one line for `wwctl status` and the event log
  // True when the plan should be stored as a new generation for the agent to fetch. The
  // caller skips storing when it equals the generation the agent already holds.
  bool deliver = false;
};

// "converged", "pending", "drift-reported", "degraded", "disconnected", "render-failed".
std::string_view ReconcilePhaseName(AgentReconcileResult::Phase phase);

// Seconds to wait after the latest failure before retrying: 0 with no failures, then 1, 2,
// 4, ... doubling per consecutive failure, capped at kMaxRetryDelaySeconds.
int64_t RetryDelaySeconds(int consecutive_failures);

// Rules, in order:
//  1. Render the agent (or take input.rendered); a failure is kRenderFailed with its message.
//  2. Plan against the latest report, or against an empty ObservedState before the first
//     report (the full plan).
//  3. An empty plan is kConverged.
//  4. A revision other than history.last_revision_id is always delivered (kPending): a newer
//     revision replaces a failing retry and is the one thing a selfHeal-false tunnel takes.
//  5. Same revision: if every interface of the agent belongs to a tunnel with selfHeal false,
//     kDriftReported without delivery; else after failures kDegraded, delivering only once
//     last_failure_time + RetryDelaySeconds(failures) is reached (retry_at until then);
//     else kPending.
//  6. A report older than kDisconnectedAfterSeconds at `now` turns the phase into
//     kDisconnected; `deliver` keeps its value so a reconnecting agent finds its plan.
AgentReconcileResult ReconcileAgent(const AgentReconcileInput& input);

}  // namespace ww
