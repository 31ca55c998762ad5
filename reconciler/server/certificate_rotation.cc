// CertificateRotation: see certificate_rotation.h.

#include "reconciler/server/certificate_rotation.h"

#include <utility>

#include "reconciler/pki/certificate_authority.h"

namespace ww {

CertificateRotation::CertificateRotation(Store& store, RevokedSerials& revoked) : store_(store), revoked_(revoked) {}

Result<std::optional<int64_t>> CertificateRotation::RenewalRefusedUntil(const std::string& agent_id, int64_t now) {
  WW_ASSIGN_OR_RETURN(std::optional<int64_t> newest, store_.NewestCertificateNotBefore(agent_id));
  if (!newest) return std::optional<int64_t>();
  // notBefore is backdated by the skew allowance: the certificate was issued that much later.
  int64_t allowed_from = *newest + kClockSkewAllowance.count() + kRenewalInterval.count();
  if (now >= allowed_from) return std::optional<int64_t>();
  return std::optional<int64_t>(allowed_from);
}

Result<std::vector<std::string>> CertificateRotation::CertificateUsed(const std::string& agent,
                                                                      const std::string& serial, int64_t now) {
  {
    std::lock_guard lock(mutex_);
    auto found = serial_in_use_.find(agent);
    if (found != serial_in_use_.end() && found->second == serial) return std::vector<std::string>();
  }
  WW_ASSIGN_OR_RETURN(std::vector<std::string> replaced, store_.RevokeEarlierAgentCertificates(serial, now));
  if (!replaced.empty()) {
    WW_ASSIGN_OR_RETURN(std::vector<std::string> serials, store_.ListRevokedSerials());
    revoked_.Replace(std::move(serials));
  }
  std::lock_guard lock(mutex_);
  serial_in_use_[agent] = serial;
  return replaced;
}

}  // namespace ww
