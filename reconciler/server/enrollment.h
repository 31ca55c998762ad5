#pragma once
// The enrollment API on the reconciler's HttpsServer (the whole API: reconciler/api/API.md):
//   GET  /v1/ca       no client certificate; the CA certificate (PEM), checked by the agent
//                     against its pin before it sends anything secret.
//   POST /v1/tokens   admin certificate; {"type","name"?,"ttlSeconds"?} -> a single-use token,
//                     shown once and stored hashed, with the agent's install command and
//                     warnings when the fleet does not name that agent or uses it in the other mode.
//   GET  /v1/tokens   admin certificate; every token without its secret, newest first.
//   DELETE /v1/tokens/{id}  admin certificate; revokes an unused token (204).
//   POST /v1/enroll   no client certificate; {token, csr, wireguardPublicKey, hostname, mode,
//                     name?, version?} -> {"certificate","agent"}. Every token refusal is the same
//                     401; a valid token used outside its scope (mode other than its type, or a
//                     name other than its name) is 403 and stays unused. The CSR's subject is
//                     ignored: the identity is the agent name.
// JSON is parsed inside enrollment.cc only. Time comes from the injected clock.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "reconciler/api/https_server.h"
#include "reconciler/pki/certificate_authority.h"
#include "reconciler/store/store.h"
#include "schema/result.h"

namespace ww {

inline constexpr std::int64_t kDefaultTokenTtlSeconds = 24 * 60 * 60;
inline constexpr std::int64_t kMinTokenTtlSeconds = 60;
inline constexpr std::int64_t kMaxTokenTtlSeconds = 30 * 24 * 60 * 60;
inline constexpr std::size_t kEnrollmentMaxBody = 16 * 1024;
inline constexpr const char* kDefaultAgentStateDir = "/var/lib/wirewarp";

struct EnrollmentOptions {
  std::string advertise_url;  // goes into install commands
  std::string ca_pin;         // "sha256:<hex>", goes into install commands
  std::string fleet;          // the fleet segment of issued identities
  std::function<std::int64_t()> now;  // unix seconds; required
  // Rate limit (e.g. RateLimiter::Allow): called with "enroll:" + the remote address before a
  // POST /v1/enroll and "tokens:" + the caller's identity before a POST /v1/tokens; false
  // answers 429. Unset: no limit.
  std::function<bool(std::string_view key)> allow_attempt;
  // Called after an agent enrolled (its record is stored), e.g. to render the agents that
  // peer with it: its WireGuard key is new. Unset: nothing.
  std::function<void(const std::string& agent_name)> on_enrolled;
  // Warnings for a new token of `type` meant for agent `name` ("" = no name), e.g.
  // FleetService::TokenWarnings: they go into the answer's "warnings". Unset: none.
  std::function<std::vector<std::string>(TokenType type, const std::string& name)> token_warnings;
};

// REQUIRES: before server.Start(); `ca` and `store` outlive the server.
Status RegisterEnrollmentRoutes(HttpsServer& server, const CertificateAuthority& ca, Store& store,
                                EnrollmentOptions options);

// An agent name from a host name: lowercase, every character outside [a-z0-9-] becomes '-',
// leading and trailing '-' dropped, at most 63 characters. Empty when nothing is left.
std::string AgentNameFromHostname(std::string_view hostname);

// True for ^[a-z0-9][a-z0-9-]{0,62}$.
bool IsValidAgentName(std::string_view name);

}  // namespace ww
