#pragma once
// The heal backoff: whether an unchanged desired config is stored again as a new plan
// generation. An agent that applied its newest generation and still reports a difference is
// healed (sent the same config again), but heals in a row back off like failed applies
// (RetryDelaySeconds), so a host that keeps drifting back is not sent a plan per report. A
// changed desired config is always stored. Pure, like ReconcileAgent: times are passed in.

#include <cstdint>
#include <optional>

namespace ww {

enum class DesiredChange { kSame, kChanged };  // against the agent's latest plan generation
enum class AppliedLatest { kNo, kYes };        // the agent's report is at its latest generation
// kStale: the agent refused its latest generation's plan because its fresh observation
// planned otherwise (it ran nothing), and reported that observation.
enum class LatestPlanOutcome { kRan, kStale };

struct HealInput {
  DesiredChange desired = DesiredChange::kChanged;
  bool deliver = false;      // ReconcileAgent's verdict (it respects selfHeal and failure backoff)
  bool plan_empty = true;    // nothing differs between the desired config and the report
  AppliedLatest applied = AppliedLatest::kNo;
  LatestPlanOutcome outcome = LatestPlanOutcome::kRan;
  int64_t latest_plan_created_at = 0;  // unix seconds; only read when a heal is considered
  int heals_in_a_row = 0;              // drift-healing generations since the desired config changed
  int64_t now = 0;                     // unix seconds
};

struct HealDecision {
  bool store_generation = false;   // store the desired config as a new plan generation
  int heals_in_a_row = 0;          // the count to remember for the next reconcile
  std::optional<int64_t> retry_at;  // set while a heal waits for its backoff
};

// Rules: a changed desired config is stored and resets the count; an empty plan resets it;
// a stale plan is replaced at once by one planned from the fresh observation, not counted
// as a heal (nothing ran, so nothing drifted back); an unchanged config the agent applied
// and still differs from is healed once
// latest_plan_created_at + RetryDelaySeconds(heals_in_a_row) is reached (counting the heal),
// and waits until then otherwise (retry_at).
HealDecision DecideHeal(const HealInput& input);

}  // namespace ww
