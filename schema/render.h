#pragma once
// Render: fleet + agents' WireGuard public keys + address allocations (+ the control
// server's address) -> one AgentConfig per agent. Pure and deterministic.
//
// Server side (the agent named by Tunnel.spec.agent): the interface with the network's
// first host, the listen port and a peer per Peer (tunnel /32 plus its LANs), routes to the
// LANs, DNAT + FORWARD rules for every forward, masquerade for tunnel egress, MSS clamp,
// ip_forward. Client side (Peer.spec.agent): the interface, the server peer (endpoint,
// 0.0.0.0/0 so forwarded packets with real client addresses pass, keepalive), connmark
// reply routing so replies to forwarded traffic go back through the tunnel, and in gateway
// mode the LAN policy routing (endpoint, LAN and control server stay on the main table).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "schema/agent_config.h"
#include "schema/ipam.h"
#include "schema/model.h"

namespace ww {

// Client-side routing resources, one slot per client interface of an agent: slot =
// fnv1a32(interface name) % kClientSlots, probing linearly past the slots of the agent's
// earlier client interfaces (in name order). Marks print as lowercase hex in rules.
inline constexpr uint32_t kClientSlots = 1000;
inline constexpr uint32_t kClientTableBase = 52000;          // routing table: base + slot
inline constexpr uint32_t kReplyMarkBase = 0x57570000;       // connmark of tunnel-borne connections
inline constexpr uint32_t kWireguardMarkBase = 0x57580000;   // fwmark of WireGuard's own packets

// ip rule priorities (inside kRulePriorityFirst..kRulePriorityLast), lowest first. The reply
// rule comes right after WireGuard's own: a reply to a connection that came in through the
// tunnel goes back through it whoever the player is, also the control server or the VPS
// endpoint, which the gateway-mode exceptions below would otherwise send out the main table.
inline constexpr uint32_t kPriorityWireguardMark = 10000;  // fwmark W lookup main
inline constexpr uint32_t kPriorityReplyMark = 10005;      // fwmark M lookup tunnel table
inline constexpr uint32_t kPriorityControl = 10010;        // to CONTROL/32 lookup main (gateway)
inline constexpr uint32_t kPriorityEndpoint = 10020;       // to ENDPOINT/32 lookup main (gateway)
inline constexpr uint32_t kPriorityLanMain = 10030;        // to LAN lookup main (gateway)
inline constexpr uint32_t kPriorityLanEgress = 10100;      // from LAN lookup tunnel table (gateway)

// What a Peer whose agent has no WireGuard key yet does to its tunnel's server.
enum class MissingPeerKey {
  kFail,      // the server does not render (offline `wwctl render`: pass it in --keys)
  kSkipPeer,  // the server renders without that WireGuard peer, naming it in warnings (the
              // reconciler: one agent not enrolled yet, or deleted, must not stall the rest)
};

struct RenderInput {
  std::map<std::string, WireguardKey> agent_public_keys;  // from enrollment (or --keys)
  MissingPeerKey missing_peer_key = MissingPeerKey::kFail;
  Allocations allocations;                                // from AllocateAddresses
  std::optional<Ipv4Address> control_address;             // kept off the tunnel in gateway mode
};

// "host:port" as WireGuard dials the tunnel's server; the listen port when the endpoint has none.
std::string EndpointWithPort(const TunnelSpec& spec);

// Agents the fleet names (tunnel servers and managed peers), sorted.
std::vector<std::string> FleetAgents(const Fleet& fleet);

// REQUIRES: ValidateFleet(fleet) has no errors.
// Fails with kNotFound naming the agent when its key (or a peer's key it needs, unless
// input.missing_peer_key is kSkipPeer) is missing,
// or when `agent` is not part of the fleet; with kFailedPrecondition naming the peer when a
// peer without an explicit address has no allocation. RenderAgent scans the fleet once and
// indexes only the tunnels the agent serves or joins; RenderAll indexes the fleet once.
Result<AgentConfig> RenderAgent(const Fleet& fleet, const RenderInput& input, const std::string& agent);
Result<std::map<std::string, AgentConfig>> RenderAll(const Fleet& fleet, const RenderInput& input);
// RenderAll that keeps going: every agent of FleetAgents with its own result, so one agent
// that cannot render (its key or its server's is missing) costs the others nothing.
std::map<std::string, Result<AgentConfig>> RenderEach(const Fleet& fleet, const RenderInput& input);

// For each agent, the other agents whose rendered config holds its WireGuard key: the server
// of every tunnel it joins as a Peer's agent, and the agents of the Peers of every tunnel it
// serves. When an agent's key appears, changes or goes, only it and these render differently.
std::map<std::string, std::vector<std::string>> KeyDependents(const Fleet& fleet);

}  // namespace ww
