#pragma once
// When each person's or CI job's certificate last made a request: kept in memory by the
// HTTPS server's hook (one map entry per credential in use, never per request) and written to
// the Store in one transaction when credentials are listed or the reconciler stops.
// Thread-safe.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace ww {

class CertificateUse {
 public:
  // Keeps the later of the recorded and the given time.
  void Record(const std::string& serial_hex, std::int64_t at);
  // Every recorded (serial, time), sorted by serial; the record is then empty.
  std::vector<std::pair<std::string, std::int64_t>> Take();

 private:
  std::mutex mutex_;
  std::map<std::string, std::int64_t> last_used_;  // GUARDED_BY(mutex_)
};

}  // namespace ww
