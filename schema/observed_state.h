#pragma once
// ObservedState: what an agent sees on its host, restricted to what it owns (the markers in
// agent_config.h). Built by the agent from `wg show IF dump`, `iptables-save`,
// `ip -j route/rule` and sysctl reads; compared to an AgentConfig by ComputePlan.

#include <cstdint>
#include <string>
#include <vector>

#include "schema/agent_config.h"

namespace ww {

enum class WireguardImplementation { kUnknown, kKernel, kUserspace };
std::string_view WireguardImplementationName(WireguardImplementation implementation);  // "unknown", "kernel", "userspace"

struct ObservedPeer {
  WireguardKey public_key;
  std::string endpoint;  // "ip:port" as the kernel reports it; "" when none
  std::vector<Ipv4Cidr> allowed_ips;
  int persistent_keepalive = 0;
  int64_t latest_handshake = 0;  // unix seconds; 0 = never
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
  // The endpoint as the config gave it when the agent last set it ("vps.example.net:51820"),
  // from the agent's state directory; "" when unknown. `endpoint` is what that resolved to
  // (or where the peer roamed). ComputePlan compares a desired host name with this.
  std::string applied_endpoint;
  friend bool operator==(const ObservedPeer&, const ObservedPeer&) = default;
};

struct ObservedInterface {
  std::string name;
  bool up = false;
  int mtu = 0;
  std::vector<Ipv4Cidr> addresses;
  uint16_t listen_port = 0;
  uint32_t fwmark = 0;
  std::optional<WireguardKey> public_key;  // absent until a private key is set
  WireguardImplementation implementation = WireguardImplementation::kUnknown;
  std::vector<ObservedPeer> peers;
  friend bool operator==(const ObservedInterface&, const ObservedInterface&) = default;
};

struct ObservedState {
  std::vector<ObservedInterface> interfaces;  // WireGuard interfaces present on the host
  std::vector<Route> routes;                  // routes with proto kRouteProtocol
  std::vector<RoutingRule> rules;             // rules with protocol kRouteProtocol
  std::vector<FirewallChain> chains;          // WIREWARP-* chains
  std::vector<FirewallJump> jumps;            // built-in chain rules jumping to WIREWARP-*
  std::vector<Sysctl> sysctls;                // current values of the keys the config names
  friend bool operator==(const ObservedState&, const ObservedState&) = default;
};

}  // namespace ww
