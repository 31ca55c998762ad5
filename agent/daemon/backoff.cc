#include "agent/daemon/backoff.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace ww::agent {

Backoff::Backoff(BackoffPolicy policy, std::function<double()> uniform)
    : policy_(policy), uniform_(std::move(uniform)), base_(policy.initial) {}

std::chrono::milliseconds Backoff::Next() {
  double random = std::clamp(uniform_(), 0.0, 1.0);
  double factor = 1.0 + policy_.jitter * (2.0 * random - 1.0);
  auto delay = std::chrono::milliseconds(static_cast<int64_t>(std::llround(static_cast<double>(base_.count()) * factor)));
  base_ = std::min(base_ * 2, policy_.maximum);
  return delay;
}

void Backoff::Reset() { base_ = policy_.initial; }

}  // namespace ww::agent
