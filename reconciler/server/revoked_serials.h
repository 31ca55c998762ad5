#pragma once
// The certificate serials refused on every request: loaded from the Store, extended when an
// agent is deleted. Built before the HttpsServer (its is_revoked option calls Contains).
// Thread-safe.

#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace ww {

class RevokedSerials {
 public:
  bool Contains(const std::string& serial_hex) const;
  void Replace(std::vector<std::string> serials);

 private:
  mutable std::mutex mutex_;
  std::set<std::string> serials_;  // GUARDED_BY(mutex_)
};

}  // namespace ww
