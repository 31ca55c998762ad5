#pragma once
// The firewall part of an observation (what ParseIptablesSave kept: owned chains and jumps)
// stored in the state directory with the nftables ruleset version it was read at, so a pass
// that finds the same version can skip `iptables-save`. Only observations made on the
// nf_tables backend are stored: legacy iptables changes do not bump the version.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/state/state_dir.h"
#include "agent/system/firewall_generation.h"
#include "schema/agent_config.h"
#include "schema/result.h"

namespace ww::agent {

inline constexpr std::string_view kFirewallSnapshotFile = "firewall-snapshot";

struct FirewallSnapshot {
  RulesetVersion version;
  std::vector<FirewallChain> chains;
  std::vector<FirewallJump> jumps;
  friend bool operator==(const FirewallSnapshot&, const FirewallSnapshot&) = default;
};

// The file's text: five header lines ("wirewarp-firewall-snapshot 1", "boot-id ID",
// "network-namespace COOKIE", "generation N", "iptables-save PATH"), then the chains and jumps as compact
// ObservedState JSON.
std::string FirewallSnapshotToText(const FirewallSnapshot& snapshot);
// kInvalidArgument quoting what is wrong for any text FirewallSnapshotToText did not write.
Result<FirewallSnapshot> FirewallSnapshotFromText(std::string_view text);

// Atomic, like every file of the state directory.
Status SaveFirewallSnapshot(StateDir& state, const FirewallSnapshot& snapshot);
// nullopt when there is none, or when it cannot be read or is not a snapshot (a cache: the
// caller then reads the firewall itself, which is always correct).
std::optional<FirewallSnapshot> LoadFirewallSnapshot(const StateDir& state);

}  // namespace ww::agent
