#pragma once
// The agent side of enrollment (used by `wirewarp-agent enroll`). First an unverified TLS GET
// of /v1/ca whose SPKI must match one of the pins before anything secret is sent; then a new
// connection that trusts only that CA (hostname checking on) carries the token, a CSR for a
// P-256 key made here (the private key never leaves this host) and the WireGuard public key.
// Files go through the caller's atomic 0600 writer (the agent passes its StateDir's).

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "schema/net.h"
#include "schema/result.h"

namespace ww {

inline constexpr std::string_view kAgentCaCertificateFile = "ca.pem";
inline constexpr std::string_view kAgentTlsKeyFile = "tls.key";
inline constexpr std::string_view kAgentTlsCertificateFile = "tls.pem";

struct EnrollRequest {
  std::string url;  // https://HOST[:PORT] of the reconciler
  std::string token;
  std::vector<std::string> ca_pins;  // "sha256:<hex>"; any one may match (CA rotation)
  std::string mode;                  // "server" or "client"
  std::string name;                  // empty: the reconciler derives it from the hostname
  std::string hostname;
  std::string version;
  WireguardKey wireguard_public_key;
  // The directory `write_file` writes into; ca.pem is read back from it for verification.
  std::string state_dir;
  // Replaces state_dir/NAME with `contents`, mode 0600, atomically.
  std::function<Status(std::string_view name, std::string_view contents)> write_file;
  std::chrono::seconds timeout{10};
};

struct EnrollResult {
  std::string agent_name;
  std::string certificate_pem;
  std::string ca_certificate_pem;
};

// kFailedPrecondition when the server's CA matches no pin (nothing was sent but the GET);
// kInvalidArgument when the reconciler refuses the enrollment (its message included);
// kUnavailable when it cannot be reached.
Result<EnrollResult> Enroll(const EnrollRequest& request);

// The reconciler's CA certificate (only the first one it sends, re-encoded), fetched without
// verification and accepted only when its SPKI matches one of `pins`.
Result<std::string> FetchPinnedCa(const std::string& url, const std::vector<std::string>& pins,
                                  std::chrono::seconds timeout);

}  // namespace ww
