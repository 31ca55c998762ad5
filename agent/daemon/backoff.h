#pragma once
// Exponential backoff with jitter for the agent's calls to the reconciler: 1 s, 2 s, 4 s ...
// capped at 60 s, each delay moved by up to +-25 % so a fleet that lost the reconciler at
// once does not come back in lockstep. The random source is injected (tests need no clock
// and no real randomness). Not thread-safe.

#include <chrono>
#include <functional>

namespace ww::agent {

struct BackoffPolicy {
  std::chrono::milliseconds initial{1000};  // Default: 1 s
  std::chrono::milliseconds maximum{60000};  // Default: 60 s (before jitter)
  double jitter = 0.25;                      // Default: +-25 %
};

class Backoff {
 public:
  // `uniform` returns values in [0, 1); out-of-range values are clamped.
  Backoff(BackoffPolicy policy, std::function<double()> uniform);

  // The delay before the next retry; each call doubles the base up to the maximum.
  std::chrono::milliseconds Next();
  // After a success: the next failure waits `initial` again.
  void Reset();

 private:
  BackoffPolicy policy_;
  std::function<double()> uniform_;
  std::chrono::milliseconds base_;
};

}  // namespace ww::agent
