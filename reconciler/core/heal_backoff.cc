#include "reconciler/core/heal_backoff.h"

#include "reconciler/core/reconcile.h"

namespace ww {

HealDecision DecideHeal(const HealInput& input) {
  HealDecision decision;
  const bool changed = input.desired == DesiredChange::kChanged;
  decision.store_generation = changed;
  decision.heals_in_a_row = changed || input.plan_empty ? 0 : input.heals_in_a_row;
  if (!changed && input.deliver && input.applied == AppliedLatest::kYes && !input.plan_empty &&
      input.outcome == LatestPlanOutcome::kStale) {
    decision.store_generation = true;
    return decision;
  }
  if (!changed && input.deliver && input.applied == AppliedLatest::kYes && !input.plan_empty) {
    const int64_t due = input.latest_plan_created_at + RetryDelaySeconds(decision.heals_in_a_row);
    if (input.now >= due) {
      decision.store_generation = true;
      ++decision.heals_in_a_row;
    } else {
      decision.retry_at = due;
    }
  }
  return decision;
}

}  // namespace ww
