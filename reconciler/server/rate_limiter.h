#pragma once
// A per-key attempt counter over fixed windows (e.g. enrollment attempts per remote address:
// 20 a minute), so a token cannot be guessed by brute force and a flood stays cheap. The
// clock is injected. Thread-safe. Memory is bounded: windows that ended are dropped once
// more than `max_keys` keys are tracked.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ww {

struct RateLimit {
  int64_t attempts = 20;        // allowed per window and key
  int64_t window_seconds = 60;
  std::size_t max_keys = 100000;
};

class RateLimiter {
 public:
  // REQUIRES: now is set (unix seconds).
  RateLimiter(RateLimit limit, std::function<int64_t()> now);

  // Counts one attempt for `key`; false when the key already used up its window.
  bool Allow(std::string_view key);

 private:
  struct Window {
    int64_t start = 0;
    int64_t attempts = 0;
  };

  RateLimit limit_;
  std::function<int64_t()> now_;
  std::mutex mutex_;
  std::unordered_map<std::string, Window> windows_;  // GUARDED_BY(mutex_)
};

}  // namespace ww
