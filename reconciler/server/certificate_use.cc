#include "reconciler/server/certificate_use.h"

#include <algorithm>

namespace ww {

void CertificateUse::Record(const std::string& serial_hex, std::int64_t at) {
  std::lock_guard lock(mutex_);
  auto [entry, inserted] = last_used_.try_emplace(serial_hex, at);
  if (!inserted) entry->second = std::max(entry->second, at);
}

std::vector<std::pair<std::string, std::int64_t>> CertificateUse::Take() {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, std::int64_t>> taken(last_used_.begin(), last_used_.end());
  last_used_.clear();
  return taken;
}

}  // namespace ww
