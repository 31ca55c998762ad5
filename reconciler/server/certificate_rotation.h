#pragma once
// Renewal hygiene for agent certificates (POST /v1/agents/NAME/certificate): at most one new
// certificate per agent per kRenewalInterval, and an agent's earlier certificates revoked once
// a renewed one is used, not when it is issued: an agent that crashed (or lost the answer)
// before storing its new certificate keeps working with the old one. Thread-safe.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "reconciler/server/revoked_serials.h"
#include "reconciler/store/store.h"
#include "schema/result.h"

namespace ww {

// An agent renews when a third of its 30-day certificate is left; a renewal more often than
// this is a bug or an attack, and each one is a signature and a row in the store.
inline constexpr std::chrono::seconds kRenewalInterval = std::chrono::minutes(10);

class CertificateRotation {
 public:
  // REQUIRES: store and revoked outlive it.
  CertificateRotation(Store& store, RevokedSerials& revoked);

  // When the enrollment `agent_id` may get a new certificate: nullopt at `now`, else the unix
  // second from which on. Counted from its newest certificate (its enrollment's included).
  Result<std::optional<int64_t>> RenewalRefusedUntil(const std::string& agent_id, int64_t now);

  // A request of agent `agent` authenticated by certificate `serial`. The first one with a
  // serial new for the agent revokes the certificates of its enrollment issued before that
  // one (refreshing `revoked`) and returns their serials; later ones cost a map lookup.
  Result<std::vector<std::string>> CertificateUsed(const std::string& agent, const std::string& serial, int64_t now);

 private:
  Store& store_;
  RevokedSerials& revoked_;
  std::mutex mutex_;
  // The serial each agent was last seen with; GUARDED_BY(mutex_). Empty after a restart, so
  // each agent's first request asks the store once.
  std::unordered_map<std::string, std::string> serial_in_use_;
};

}  // namespace ww
