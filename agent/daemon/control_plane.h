#pragma once
// The agent daemon's view of the reconciler: the two HTTP calls it makes, behind an
// interface so the run loop is tested with a scripted fake and run with the mutual-TLS
// ApiClient (reconciler/client/api_client.h). One client per thread, like ApiClient itself.
// Also the loading of the TLS files enrollment stored, finishing a renewal a crash cut short.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "agent/state/state_dir.h"
#include "reconciler/client/api_client.h"
#include "schema/result.h"

namespace ww::agent {

class ControlPlaneClient {
 public:
  ControlPlaneClient() = default;
  ControlPlaneClient(const ControlPlaneClient&) = delete;
  ControlPlaneClient& operator=(const ControlPlaneClient&) = delete;
  virtual ~ControlPlaneClient() = default;

  // As ApiClient: any HTTP status is a response; kUnavailable when no answer arrived.
  virtual Result<ApiResponse> Get(const std::string& path_and_query, std::chrono::seconds read_timeout) = 0;
  virtual Result<ApiResponse> Post(const std::string& path, std::string_view json_body,
                                   std::chrono::seconds read_timeout) = 0;
};

// Makes a new client from the credentials as they are now (after a renewal, the new ones).
using ControlPlaneClientFactory = std::function<Result<std::unique_ptr<ControlPlaneClient>>()>;

// Renewal writes the new pair under these names first, so a crash leaves either the old
// pair or a complete new one (see LoadTlsCredentials).
inline constexpr std::string_view kNextTlsKeyFile = "tls.key.next";
inline constexpr std::string_view kNextTlsCertificateFile = "tls.pem.next";

struct TlsCredentials {
  std::string ca_certificate_pem;
  std::string certificate_pem;
  std::string key_pem;
};

// Reads ca.pem, tls.pem and tls.key. A complete, matching tls.*.next pair left by a renewal
// that crashed after receiving its certificate is installed first; an incomplete one is
// removed. kFailedPrecondition (naming the file and `wirewarp-agent enroll`) when a file is
// missing.
Result<TlsCredentials> LoadTlsCredentials(StateDir& state);

// A factory of mutual-TLS ApiClients for `url` reading the credentials from `state` each
// time. REQUIRES: `state` outlives the factory and is not used concurrently by another
// thread while the factory runs.
ControlPlaneClientFactory ApiClientFactory(std::string url, StateDir& state);

struct CertificateValidity {
  int64_t not_before = 0;  // unix seconds
  int64_t not_after = 0;
  friend bool operator==(const CertificateValidity&, const CertificateValidity&) = default;
};

Result<CertificateValidity> ReadCertificateValidity(std::string_view certificate_pem);

// True when less than a third of the certificate's lifetime is left at `now`.
bool RenewalDue(const CertificateValidity& validity, int64_t now);

// After a renewal that failed (reconciler unreachable, refused), the next try waits this long;
// a certificate is renewed with ten days left, so there is time.
inline constexpr std::chrono::seconds kRenewalRetryDelay = std::chrono::minutes(5);

enum class RenewalVerdict { kRenewed, kRateLimited };

struct RenewalOutcome {
  RenewalVerdict verdict = RenewalVerdict::kRenewed;
  // kRateLimited: when to ask again (the reconciler's Retry-After, else kRenewalRetryDelay).
  std::chrono::seconds retry_after{0};
  friend bool operator==(const RenewalOutcome&, const RenewalOutcome&) = default;
};

// Renews with the current certificate (no token): a new P-256 key and CSR, POST
// /v1/agents/NAME/certificate, then the new key and certificate replace tls.key and tls.pem.
// The private key never leaves this host. A 429 (renewed too recently) is kRateLimited and
// changes nothing: the current certificate stays in use. kUnavailable when the reconciler
// cannot be reached (retry later), kFailedPrecondition when it refuses or answers nonsense.
Result<RenewalOutcome> RenewCertificate(ControlPlaneClient& client, StateDir& state, const std::string& agent_name);

}  // namespace ww::agent
