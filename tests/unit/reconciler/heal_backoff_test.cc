// The heal backoff (reconciler/core/heal_backoff.h) with values: when an unchanged desired
// config is stored again, and how heals in a row back off.

#include "reconciler/core/heal_backoff.h"

#include <doctest/doctest.h>

namespace ww {
namespace {

// An agent that applied its latest generation (created at 1000) and still differs.
HealInput Drifting(int heals_in_a_row, int64_t now) {
  HealInput input;
  input.desired = DesiredChange::kSame;
  input.deliver = true;
  input.plan_empty = false;
  input.applied = AppliedLatest::kYes;
  input.latest_plan_created_at = 1000;
  input.heals_in_a_row = heals_in_a_row;
  input.now = now;
  return input;
}

TEST_CASE("heal backoff: a changed desired config is stored and resets the count") {
  HealInput input = Drifting(5, 1000);
  input.desired = DesiredChange::kChanged;
  HealDecision decision = DecideHeal(input);
  CHECK(decision.store_generation);
  CHECK(decision.heals_in_a_row == 0);
  CHECK_FALSE(decision.retry_at);
}

TEST_CASE("heal backoff: the first heal is due at once, later ones after 1, 2, 4, ... 60 s") {
  HealDecision first = DecideHeal(Drifting(0, 1000));
  CHECK(first.store_generation);
  CHECK(first.heals_in_a_row == 1);
  CHECK_FALSE(first.retry_at);

  HealDecision waiting = DecideHeal(Drifting(1, 1000));
  CHECK_FALSE(waiting.store_generation);
  CHECK(waiting.heals_in_a_row == 1);
  CHECK(waiting.retry_at == 1001);

  HealDecision second = DecideHeal(Drifting(1, 1001));
  CHECK(second.store_generation);
  CHECK(second.heals_in_a_row == 2);

  CHECK(DecideHeal(Drifting(3, 1003)).retry_at == 1004);
  CHECK(DecideHeal(Drifting(3, 1004)).store_generation);
  // Capped: 100 heals in a row wait 60 s, not longer.
  CHECK(DecideHeal(Drifting(100, 1059)).retry_at == 1060);
  CHECK(DecideHeal(Drifting(100, 1060)).store_generation);
}

TEST_CASE("heal backoff: nothing is healed that ReconcileAgent would not deliver or the agent has not applied") {
  HealInput not_delivered = Drifting(0, 5000);
  not_delivered.deliver = false;  // selfHeal false, or a failure backoff
  CHECK_FALSE(DecideHeal(not_delivered).store_generation);
  CHECK_FALSE(DecideHeal(not_delivered).retry_at);

  HealInput not_applied = Drifting(2, 5000);
  not_applied.applied = AppliedLatest::kNo;  // the agent has not caught up with its latest generation
  HealDecision decision = DecideHeal(not_applied);
  CHECK_FALSE(decision.store_generation);
  CHECK(decision.heals_in_a_row == 2);  // kept: it is still the same drift
  CHECK_FALSE(decision.retry_at);
}

TEST_CASE("heal backoff: a stale plan is replaced at once and not counted as a heal") {
  HealInput input = Drifting(4, 1000);  // the fifth heal would wait 8 s
  input.outcome = LatestPlanOutcome::kStale;
  HealDecision decision = DecideHeal(input);
  CHECK(decision.store_generation);
  CHECK(decision.heals_in_a_row == 4);
  CHECK_FALSE(decision.retry_at);

  input.deliver = false;  // e.g. selfHeal false: a stale plan does not override it
  CHECK_FALSE(DecideHeal(input).store_generation);
}

TEST_CASE("heal backoff: an empty plan (healed) resets the count and stores nothing") {
  HealInput healed = Drifting(4, 5000);
  healed.plan_empty = true;
  HealDecision decision = DecideHeal(healed);
  CHECK_FALSE(decision.store_generation);
  CHECK(decision.heals_in_a_row == 0);
  CHECK_FALSE(decision.retry_at);
}

}  // namespace
}  // namespace ww
