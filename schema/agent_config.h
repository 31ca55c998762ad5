#pragma once
// AgentConfig: everything one agent must make true on its host, rendered from the fleet
// (render.h). It is also the shape of what an agent owns: ObservedState (observed_state.h)
// reuses these types, so the plan engine compares like with like.
//
// Ownership markers on the host (the agent touches nothing else):
//  - WireGuard interfaces named in the config;
//  - routes with protocol kRouteProtocol ("proto 87") in any table;
//  - ip rules with protocol kRouteProtocol at priorities kRulePriorityFirst..kRulePriorityLast;
//  - iptables chains named WIREWARP-*, plus the jump rules to them from built-in chains;
//  - the sysctl keys listed in the config (values are set, never reverted).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schema/net.h"

namespace ww {

inline constexpr int kWireFormatVersion = 1;
inline constexpr uint32_t kMainTable = 254;
inline constexpr int kRouteProtocol = 87;  // 'W'; marks routes and rules WireWarp owns
inline constexpr uint32_t kRulePriorityFirst = 10000;
inline constexpr uint32_t kRulePriorityLast = 10999;
inline constexpr std::string_view kChainPrefix = "WIREWARP-";

enum class InterfaceRole { kServer, kClient };
std::string_view InterfaceRoleName(InterfaceRole role);  // "server", "client"

struct WireguardPeer {
  std::string name;         // the Peer or Tunnel resource this peer stands for (display only)
  WireguardKey public_key;
  std::string endpoint;     // "host:port" to dial; "" when the peer dials us
  std::vector<Ipv4Cidr> allowed_ips;  // canonical CIDRs, sorted
  int persistent_keepalive = 0;       // seconds; 0 = off
  friend bool operator==(const WireguardPeer&, const WireguardPeer&) = default;
};

struct WireguardInterface {
  std::string name;            // "wg0"
  std::string tunnel;          // the Tunnel resource
  InterfaceRole role = InterfaceRole::kServer;
  Ipv4Cidr address;            // this host's tunnel address with the network's prefix
  uint16_t listen_port = 0;    // 0 = random (clients)
  int mtu = 1420;
  uint32_t fwmark = 0;         // set on WireGuard's own UDP packets; 0 = none
  // This agent's public key as enrollment recorded it; the agent holds the private key.
  // A mismatch with the host means a key change (a destructive step).
  WireguardKey public_key;
  std::vector<WireguardPeer> peers;  // sorted by public key
  friend bool operator==(const WireguardInterface&, const WireguardInterface&) = default;
};

struct Route {
  Ipv4Cidr destination;  // canonical
  std::string device;
  std::optional<Ipv4Address> via;
  uint32_t table = kMainTable;
  friend bool operator==(const Route&, const Route&) = default;
};

struct RoutingRule {
  uint32_t priority = 0;
  std::optional<Ipv4Cidr> from;
  std::optional<Ipv4Cidr> to;
  uint32_t fwmark = 0;  // 0 = no fwmark match
  uint32_t table = kMainTable;
  friend bool operator==(const RoutingRule&, const RoutingRule&) = default;
};

enum class FirewallTable { kFilter, kNat, kMangle };
std::string_view FirewallTableName(FirewallTable table);  // "filter", "nat", "mangle"

// An owned chain and its rules in order. Each rule is the text iptables-save prints after
// "-A CHAIN " (e.g. "-p tcp -m tcp --dport 25565 -j DNAT --to-destination 10.77.0.2:25565"),
// so observed and desired rules compare as strings.
struct FirewallChain {
  FirewallTable table = FirewallTable::kFilter;
  std::string name;  // starts with kChainPrefix
  std::vector<std::string> rules;
  friend bool operator==(const FirewallChain&, const FirewallChain&) = default;
};

// The chains WireWarp owns, in output order (table, then name), each with the one rule in a
// built-in chain that jumps to it. Render builds from this table and the agent's policy
// (config_policy.h) accepts nothing else.
struct OwnedChain {
  FirewallTable table;
  std::string_view name;
  std::string_view builtin;
  std::string_view jump;
};
inline constexpr OwnedChain kOwnedChains[] = {
    {FirewallTable::kFilter, "WIREWARP-FORWARD", "FORWARD", "-j WIREWARP-FORWARD"},
    // Opens the listen port on hosts whose INPUT policy drops (ufw, firewalld defaults).
    {FirewallTable::kFilter, "WIREWARP-INPUT", "INPUT", "-j WIREWARP-INPUT"},
    {FirewallTable::kNat, "WIREWARP-POSTROUTING", "POSTROUTING", "-j WIREWARP-POSTROUTING"},
    // DNAT only what is addressed to the server itself, never traffic it routes.
    {FirewallTable::kNat, "WIREWARP-PREROUTING", "PREROUTING", "-m addrtype --dst-type LOCAL -j WIREWARP-PREROUTING"},
    {FirewallTable::kMangle, "WIREWARP-MSS", "FORWARD", "-j WIREWARP-MSS"},
    {FirewallTable::kMangle, "WIREWARP-OUTPUT", "OUTPUT", "-j WIREWARP-OUTPUT"},
    {FirewallTable::kMangle, "WIREWARP-PREROUTING", "PREROUTING", "-j WIREWARP-PREROUTING"},
};

// A rule in a built-in chain that jumps to an owned chain, inserted first in that chain.
struct FirewallJump {
  FirewallTable table = FirewallTable::kFilter;
  std::string chain;  // built-in: "PREROUTING", "FORWARD", ...
  std::string rule;   // iptables-save text after "-A CHAIN ", ending in "-j WIREWARP-..."
  friend bool operator==(const FirewallJump&, const FirewallJump&) = default;
};

struct Sysctl {
  std::string key;    // "net.ipv4.ip_forward"
  std::string value;  // "1"
  friend bool operator==(const Sysctl&, const Sysctl&) = default;
};

// Lists are sorted (interfaces by name, routes/rules by their fields, chains by table and
// name) so equal configs serialize identically.
struct AgentConfig {
  std::string agent;
  std::vector<WireguardInterface> interfaces;
  std::vector<Route> routes;
  std::vector<RoutingRule> rules;
  std::vector<FirewallChain> chains;
  std::vector<FirewallJump> jumps;
  std::vector<Sysctl> sysctls;
  // Human-readable facts the user should know (e.g. a forward that must masquerade and so
  // hides the client's address). Not applied; shown by wwctl and the status page.
  std::vector<std::string> notices;
  // What is missing from this config and why (e.g. a peer left out until its agent enrolls).
  // Not applied; shown by wwctl status and the status page.
  std::vector<std::string> warnings;
  friend bool operator==(const AgentConfig&, const AgentConfig&) = default;
};

}  // namespace ww
