#pragma once
// Pure parsers for the machine-readable output of the host's tools (`wg show IF dump`,
// `iptables-save`, `ip -j route/rule/address`). Each keeps only what WireWarp owns (the
// markers in schema/agent_config.h) and refuses text it does not understand with an error
// quoting the offending value. No I/O; tested on real captures in tests/testdata/agent/.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schema/agent_config.h"
#include "schema/observed_state.h"
#include "schema/result.h"

namespace ww::agent {

// What `wg show IF dump` says about a device. The private key on the first line is
// skipped, never copied; preshared keys likewise.
struct WireguardDump {
  std::optional<WireguardKey> public_key;  // absent until a private key is set
  uint16_t listen_port = 0;
  uint32_t fwmark = 0;                      // 0 = "off"
  std::vector<ObservedPeer> peers;          // sorted by public key; allowed IPs sorted
  friend bool operator==(const WireguardDump&, const WireguardDump&) = default;
};

// Parses `wg show IF dump`: "private public port fwmark", then per peer "public preshared
// endpoint allowed-ips latest-handshake rx tx keepalive", tab-separated. IPv6 allowed IPs
// are skipped: WireWarp routes IPv4 only.
Result<WireguardDump> ParseWireguardDump(std::string_view text);

// The owned part of one table of `iptables-save` (or `iptables-save -t TABLE`).
struct OwnedFirewall {
  std::vector<FirewallChain> chains;  // WIREWARP-* chains (also empty ones), sorted by name
  std::vector<FirewallJump> jumps;    // in the order iptables-save prints them
  friend bool operator==(const OwnedFirewall&, const OwnedFirewall&) = default;
};

// Keeps the WIREWARP-* chains of `table` with their rules as the text after "-A CHAIN ",
// and the rules of built-in chains whose target (-j or -g) is a WIREWARP-* chain. Other
// tables, chains and rules (Docker, ufw, the user's) are ignored. A missing table section
// gives an empty result.
Result<OwnedFirewall> ParseIptablesSave(std::string_view text, FirewallTable table);

// Parses `ip -4 -N -j route show table all proto 87` into Route values: every entry is
// owned (iproute2 filtered them and so omits "protocol"; an entry that does name another
// protocol is skipped). "default" is 0.0.0.0/0, a bare address is /32, "gateway" is the
// via, a missing "table" is main, table names main/local/default are understood. Routes of
// another type than unicast (unreachable, blackhole, ...) are skipped: Route cannot hold
// them and render never asks for them.
Result<std::vector<Route>> ParseIpRoutes(std::string_view json);

// Parses `ip -4 -N -j rule show` and keeps rules with protocol kRouteProtocol and a priority
// in kRulePriorityFirst..kRulePriorityLast, in priority order. "src":"all" is no source;
// srclen/dstlen default to 32; fwmark is hex text; a rule without a table (a goto or
// blackhole action) gets table 0, which no desired rule has, so the plan replaces it.
Result<std::vector<RoutingRule>> ParseIpRules(std::string_view json);

// One device from `ip -d -j address show dev IF`.
struct LinkState {
  std::string name;
  bool up = false;                  // administratively up: "UP" in flags
  int mtu = 0;
  std::vector<Ipv4Cidr> addresses;  // IPv4 only, with host bits ("10.77.0.1/24"), sorted
  std::string kind;                 // linkinfo.info_kind: "wireguard", "tun", ...; "" if none
  friend bool operator==(const LinkState&, const LinkState&) = default;
};

// REQUIRES: `json` describes exactly one device (the output for `dev IF`).
Result<LinkState> ParseIpLinkAddress(std::string_view json);

enum class UserspaceSocket { kAbsent, kPresent };

// Which WireGuard implementation serves a device. The socket /var/run/wireguard/IF.sock
// wins, as it does for `wg` itself (it talks to the socket before the kernel); otherwise
// link kind "wireguard" is the kernel module and "tun" is a userspace implementation.
WireguardImplementation DetectWireguardImplementation(UserspaceSocket socket, std::string_view link_kind);

}  // namespace ww::agent
