#pragma once
// FirewallGeneration: which version of the kernel's nftables ruleset this network namespace
// holds, read without a process. The kernel bumps the generation id on every committed
// ruleset change by anyone (iptables-nft, nft, Docker, ufw), so an unchanged version means
// an unchanged ruleset and a stored `iptables-save` observation still holds. Changes made
// through the legacy iptables backend do NOT bump it: callers must only trust it for
// observations made on the nf_tables backend. Real implementation: one netlink request
// (NFT_MSG_GETGEN); FakeFirewallGeneration for tests. Not thread-safe.

#include <cstdint>
#include <string>
#include <utility>

#include "schema/result.h"

namespace ww::agent {

// The generation id alone is not enough: it starts again at 1 in every new network
// namespace and after every boot, so a version also names the boot and the namespace.
struct RulesetVersion {
  std::string boot_id;              // /proc/sys/kernel/random/boot_id
  uint64_t network_namespace = 0;   // SO_NETNS_COOKIE: never reused within one boot
  uint32_t generation = 0;          // NFTA_GEN_ID
  // The program `iptables-save` resolves to ("/usr/sbin/xtables-nft-multi"), so switching
  // the iptables backend (update-alternatives) is a new version.
  std::string iptables_save;
  friend bool operator==(const RulesetVersion&, const RulesetVersion&) = default;
};

class FirewallGeneration {
 public:
  FirewallGeneration() = default;
  FirewallGeneration(const FirewallGeneration&) = delete;
  FirewallGeneration& operator=(const FirewallGeneration&) = delete;
  virtual ~FirewallGeneration() = default;

  // kUnavailable when the kernel cannot say (no nf_tables, netlink refused, no netns
  // cookie): the caller then reads the ruleset as usual.
  virtual Result<RulesetVersion> Read() = 0;
};

// Asks the kernel of the caller's network namespace, over NETLINK_NETFILTER, with a one
// second timeout. `search_path` is where iptables-save is looked up (ProcessRunner's).
class NetlinkFirewallGeneration : public FirewallGeneration {
 public:
  explicit NetlinkFirewallGeneration(std::string search_path) : search_path_(std::move(search_path)) {}
  Result<RulesetVersion> Read() override;

 private:
  std::string search_path_;
};

// Answers with a version the test sets (default: kUnavailable, as on a host without
// nf_tables) and counts the reads.
class FakeFirewallGeneration : public FirewallGeneration {
 public:
  void Set(RulesetVersion version) { version_ = std::move(version); }
  void SetFailure(Status status) { version_ = std::move(status); }
  Result<RulesetVersion> Read() override {
    ++reads_;
    return version_;
  }
  int reads() const { return reads_; }

 private:
  Result<RulesetVersion> version_ = Status::Unavailable("no nf_tables ruleset version (fake)");
  int reads_ = 0;
};

}  // namespace ww::agent
