#include "reconciler/server/rate_limiter.h"

#include <utility>

namespace ww {

RateLimiter::RateLimiter(RateLimit limit, std::function<int64_t()> now) : limit_(limit), now_(std::move(now)) {}

bool RateLimiter::Allow(std::string_view key) {
  int64_t now = now_();
  std::lock_guard lock(mutex_);
  if (windows_.size() >= limit_.max_keys) {
    std::erase_if(windows_, [&](const auto& entry) { return now - entry.second.start >= limit_.window_seconds; });
  }
  Window& window = windows_[std::string(key)];
  if (now - window.start >= limit_.window_seconds) window = Window{now, 0};
  if (window.attempts >= limit_.attempts) return false;
  ++window.attempts;
  return true;
}

}  // namespace ww
