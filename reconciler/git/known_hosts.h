#pragma once
// Matching an SSH server's host key against OpenSSH known_hosts text, for the git source's
// host-key check: plain and hashed ("|1|salt|hash") host names, "[host]:port" for other ports,
// "*" / "?" patterns, "!negation" and "@revoked" lines. "@cert-authority" lines are skipped
// (host certificates are not supported). Pure: the caller reads the file.

#include <string_view>

namespace ww {

enum class HostKeyMatch {
  kMatch,        // a line for this host lists this key
  kMismatch,     // the host is listed, but with other keys only
  kUnknownHost,  // no line for this host
  kRevoked,      // an @revoked line lists this key
};

// `key_blob` is the raw public key in SSH wire format (what the base64 field decodes to).
// `port` 22 matches plain host names; any other port matches "[host]:port" entries.
HostKeyMatch MatchKnownHosts(std::string_view known_hosts, std::string_view host, int port, std::string_view key_blob);

}  // namespace ww
