#include "reconciler/api/connection_limiter.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

namespace ww {

ConnectionLimiter::Ticket::Ticket(Ticket&& other) noexcept
    : limiter_(std::exchange(other.limiter_, nullptr)), source_(std::move(other.source_)) {}

ConnectionLimiter::Ticket& ConnectionLimiter::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    Release();
    limiter_ = std::exchange(other.limiter_, nullptr);
    source_ = std::move(other.source_);
  }
  return *this;
}

ConnectionLimiter::Ticket::~Ticket() { Release(); }

void ConnectionLimiter::Ticket::Release() {
  if (limiter_ != nullptr) std::exchange(limiter_, nullptr)->Release(source_);
}

ConnectionLimiter::ConnectionLimiter(std::size_t max_total, std::size_t max_per_source)
    : max_total_(max_total), max_per_source_(max_per_source) {}

ConnectionLimiter::Ticket ConnectionLimiter::TryAdmit(std::string_view address, Admission& admission) {
  std::string source = SourceOf(address);
  std::lock_guard<std::mutex> lock(mutex_);
  if (open_ >= max_total_) {
    admission = Admission::kOverTotal;
    return Ticket();
  }
  std::size_t& from_source = by_source_[source];
  if (max_per_source_ != 0 && from_source >= max_per_source_) {
    admission = Admission::kOverSource;
    return Ticket();  // from_source is not 0 here: no zero entry is left behind
  }
  ++from_source;
  ++open_;
  admission = Admission::kAdmitted;
  return Ticket(this, std::move(source));
}

void ConnectionLimiter::Release(const std::string& source) {
  std::lock_guard<std::mutex> lock(mutex_);
  --open_;
  auto found = by_source_.find(source);
  if (found != by_source_.end() && --found->second == 0) by_source_.erase(found);
}

std::size_t ConnectionLimiter::Open() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return open_;
}

std::string ConnectionLimiter::SourceOf(std::string_view address) {
  std::string text(address);
  std::array<unsigned char, 16> bytes{};
  if (inet_pton(AF_INET, text.c_str(), bytes.data()) == 1) return text;
  if (inet_pton(AF_INET6, text.c_str(), bytes.data()) != 1) return text;
  static constexpr unsigned char kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  char printed[INET6_ADDRSTRLEN] = {};
  if (std::memcmp(bytes.data(), kMappedPrefix, sizeof kMappedPrefix) == 0) {
    inet_ntop(AF_INET, bytes.data() + 12, printed, sizeof printed);
    return printed;
  }
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  inet_ntop(AF_INET6, bytes.data(), printed, sizeof printed);
  return std::string(printed) + "/64";
}

}  // namespace ww
