// MatchKnownHosts against known_hosts lines written by OpenSSH's ssh-keygen (the hashed lines
// come from `ssh-keygen -H`), so the hashed-host format is checked against the real tool.

#include "reconciler/git/known_hosts.h"

#include <doctest/doctest.h>
#include <openssl/evp.h>

#include <string>
#include <string_view>

namespace ww {
namespace {

constexpr std::string_view kHostKey = "AAAAC3NzaC1lZDI1NTE5AAAAINAW/kh02iLSc5X335vQje8V5zrf4k7y2YJfZI8YM3m9";
constexpr std::string_view kOtherKey = "AAAAC3NzaC1lZDI1NTE5AAAAIA01n/YiqOO6u95RwlwpPvXqEVMqAoUH1OjGKvo8rWGc";

// Both keys are 51-byte ed25519 blobs: 68 base64 characters, no padding.
std::string Blob(std::string_view base64) {
  std::string blob(base64.size() / 4 * 3, '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(blob.data()),
                                     reinterpret_cast<const unsigned char*>(base64.data()), static_cast<int>(base64.size()));
  REQUIRE(length == 51);
  return blob;
}

std::string Line(std::string_view hosts, std::string_view key) {
  return std::string(hosts) + " ssh-ed25519 " + std::string(key) + "\n";
}

TEST_CASE("MatchKnownHosts matches a plain host name with its key") {
  const std::string known_hosts = "# comment\n\n" + Line("other.example.org", kOtherKey) + Line("git.example.org,192.0.2.7", kHostKey);
  CHECK(MatchKnownHosts(known_hosts, "git.example.org", 22, Blob(kHostKey)) == HostKeyMatch::kMatch);
  CHECK(MatchKnownHosts(known_hosts, "192.0.2.7", 22, Blob(kHostKey)) == HostKeyMatch::kMatch);
  CHECK(MatchKnownHosts(known_hosts, "git.example.org", 22, Blob(kOtherKey)) == HostKeyMatch::kMismatch);
  CHECK(MatchKnownHosts(known_hosts, "unknown.example.org", 22, Blob(kHostKey)) == HostKeyMatch::kUnknownHost);
  // A host listed for port 22 is unknown on another port.
  CHECK(MatchKnownHosts(known_hosts, "git.example.org", 2222, Blob(kHostKey)) == HostKeyMatch::kUnknownHost);
  CHECK(MatchKnownHosts("", "git.example.org", 22, Blob(kHostKey)) == HostKeyMatch::kUnknownHost);
}

TEST_CASE("MatchKnownHosts reads bracketed host and port entries") {
  const std::string known_hosts = Line("[git.example.org]:2222", kHostKey);
  CHECK(MatchKnownHosts(known_hosts, "git.example.org", 2222, Blob(kHostKey)) == HostKeyMatch::kMatch);
  CHECK(MatchKnownHosts(known_hosts, "git.example.org", 22, Blob(kHostKey)) == HostKeyMatch::kUnknownHost);
}

TEST_CASE("MatchKnownHosts reads hashed entries written by ssh-keygen -H") {
  // gitea.example.org and [git.example.org]:2222, hashed.
  const std::string known_hosts =
      Line("|1|Np0gsCcMcbyKtMt1yklJIgnr5CE=|/pJGpmkhIc7LzpfkrRJsamVXBiE=", kHostKey) +
      Line("|1|dZ6P4HYczTCT9wHoMsIl4vehGlo=|dUqi5SRa7Pbx4CB7HsmFtBB3E38=", kHostKey);
  CHECK(MatchKnownHosts(known_hosts, "gitea.example.org", 22, Blob(kHostKey)) == HostKeyMatch::kMatch);
  CHECK(MatchKnownHosts(known_hosts, "git.example.org", 2222, Blob(kHostKey)) == HostKeyMatch::kMatch);
  CHECK(MatchKnownHosts(known_hosts, "gitea.example.org", 22, Blob(kOtherKey)) == HostKeyMatch::kMismatch);
  CHECK(MatchKnownHosts(known_hosts, "gitea.example.com", 22, Blob(kHostKey)) == HostKeyMatch::kUnknownHost);
}

TEST_CASE("MatchKnownHosts honours patterns, negation and revoked keys") {
  const std::string patterns = Line("*.example.org,!evil.example.org", kHostKey);
  CHECK(MatchKnownHosts(patterns, "git.example.org", 22, Blob(kHostKey)) == HostKeyMatch::kMatch);
  CHECK(MatchKnownHosts(patterns, "evil.example.org", 22, Blob(kHostKey)) == HostKeyMatch::kUnknownHost);
  CHECK(MatchKnownHosts(Line("git?.example.org", kHostKey), "git1.example.org", 22, Blob(kHostKey)) == HostKeyMatch::kMatch);
  CHECK(MatchKnownHosts(Line("git?.example.org", kHostKey), "git12.example.org", 22, Blob(kHostKey)) == HostKeyMatch::kUnknownHost);

  const std::string revoked = Line("git.example.org", kHostKey) + "@revoked * ssh-ed25519 " + std::string(kHostKey) + "\n";
  CHECK(MatchKnownHosts(revoked, "git.example.org", 22, Blob(kHostKey)) == HostKeyMatch::kRevoked);
  // A CA line is not a host key: the host stays unknown.
  const std::string authority = "@cert-authority *.example.org ssh-ed25519 " + std::string(kHostKey) + "\n";
  CHECK(MatchKnownHosts(authority, "git.example.org", 22, Blob(kHostKey)) == HostKeyMatch::kUnknownHost);
}

}  // namespace
}  // namespace ww
