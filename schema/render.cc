// Render: the data plane WireWarp builds, as AgentConfig values. Everything here is
// deterministic: tunnels, peers and forwards are taken in name order whatever the
// document order, every list is sorted or generated in a fixed order, and rule text is
// exactly what iptables-save prints after "-A CHAIN " (so desired and observed rules
// compare as strings): [!] -s, [!] -d, [!] -i, [!] -o, -p, -m matches, -j and its options;
// single hosts as ADDR/32, marks as lowercase hex.
//
// Server (Tunnel.spec.agent), per tunnel T on interface I:
//  - WireGuard: the network's first host, listenPort, mtu, one peer per Peer with its
//    tunnel /32 plus its LANs; a route per peer LAN via dev I in the main table.
//  - nat WIREWARP-PREROUTING (jumped to for --dst-type LOCAL only): a DNAT per forward,
//    protocol and range, matching "-i PUB" when publicInterface is set, else "! -i I".
//    No SNAT toward the tunnel: the service sees the player's real address.
//  - nat WIREWARP-POSTROUTING: masquerade of the tunnel network and of gateway peers' LANs
//    leaving through anything but I (or through PUB).
//  - filter WIREWARP-FORWARD: established first, peer-to-peer, each forward's DNATed
//    destination (--ctstate DNAT, so only what a DNAT rule let in), then tunnel egress.
//  - filter WIREWARP-INPUT: accepts udp to each listenPort, so a host whose INPUT policy
//    is DROP (ufw) still lets clients handshake.
//  - mangle WIREWARP-MSS (from FORWARD): clamp to PMTU both ways; ip_forward=1.
// Client (Peer.spec.agent), per peer P on interface I, with slot = fnv1a32(I) % 1000
// (probing past the agent's earlier client interfaces), table T_id = 52000 + slot, reply
// connmark M = 0x57570000 + slot and WireGuard fwmark W = 0x57580000 + slot (render.h):
//  - WireGuard: P's address, fwmark W, one peer (the tunnel's server) with 0.0.0.0/0,
//    because forwarded packets carry the player's real source address.
//  - Table T_id holds "0.0.0.0/0 dev I". Rules, in priority order (render.h): fwmark W ->
//    main (WireGuard's own packets never enter the tunnel table), then fwmark M -> T_id
//    (replies of connections that came in through the tunnel), then in gateway mode control
//    address, endpoint and LANs -> main, then from LAN -> T_id. The reply rule sits before
//    the exceptions: a player whose address is the control server's or the endpoint's
//    (an operator testing from that host, a monitor) still gets the replies through the
//    tunnel, with the address they connected to as the source.
//  - mangle: a NEW connection arriving on I gets connmark M; packets of marked connections
//    get the mark back as fwmark when they arrive off the tunnel (PREROUTING "! -i I") or
//    are sent locally (OUTPUT), so routing sends the replies back into I. Restoring on the
//    tunnel side too would loop inbound packets back out (lessons note, item 12).
//  - filter WIREWARP-FORWARD (peers with a LAN): established, tunnel -> LAN, and in gateway
//    mode LAN -> tunnel.
//  - A forward to a LAN host behind a non-gateway peer cannot rely on the host routing its
//    replies through the client, so the client masquerades it toward the LAN (the host sees
//    the client's LAN address) and the config carries a notice saying so.
//  - rp_filter=2 (loose) on I; ip_forward=1 when the peer has a LAN.
// An agent with both roles gets both, merged per chain with server rules first; chains
// without rules are left out together with their jumps.

#include "schema/render.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <initializer_list>
#include <iterator>
#include <set>
#include <string_view>
#include <tuple>
#include <unordered_set>
#include <utility>

#include "schema/templates.h"

namespace ww {
namespace {

constexpr int kDefaultKeepalive = 25;

// ---- Lookups over one fleet, built once per RenderAll. ----------------------------------

template <typename T>
void SortByName(std::vector<const T*>& items) {
  std::sort(items.begin(), items.end(),
            [](const T* a, const T* b) { return a->metadata.name < b->metadata.name; });
}

struct FleetIndex {
  // Indexes the whole fleet, or with `only_agent` just the tunnels that agent serves or
  // joins, so rendering one agent of a large fleet costs one scan and no big index.
  FleetIndex(const Fleet& fleet_in, const Allocations& allocation_list, const std::string* only_agent)
      : fleet(fleet_in), templates(fleet_in) {
    std::unordered_set<std::string_view> relevant;
    if (only_agent != nullptr) {
      for (const Tunnel& tunnel : fleet.tunnels) {
        if (tunnel.spec.agent == *only_agent) relevant.insert(tunnel.metadata.name);
      }
      for (const Peer& peer : fleet.peers) {
        if (peer.spec.agent == *only_agent) relevant.insert(peer.spec.tunnel);
      }
    }
    auto wanted = [&](std::string_view tunnel) { return only_agent == nullptr || relevant.contains(tunnel); };

    for (const Tunnel& tunnel : fleet.tunnels) {
      if (!wanted(tunnel.metadata.name)) continue;
      tunnels.emplace(tunnel.metadata.name, &tunnel);
      tunnels_by_server[tunnel.spec.agent].push_back(&tunnel);
    }
    for (const Peer& peer : fleet.peers) {
      if (!wanted(peer.spec.tunnel)) continue;
      peers_by_tunnel[peer.spec.tunnel].push_back(&peer);
      if (peer.spec.agent) peers_by_agent[*peer.spec.agent].push_back(&peer);
    }
    for (const PortForward& forward : fleet.forwards) {
      if (wanted(forward.spec.tunnel)) forwards_by_tunnel[forward.spec.tunnel].push_back(&forward);
    }
    for (auto& [name, list] : tunnels_by_server) SortByName(list);
    for (auto& [name, list] : peers_by_tunnel) SortByName(list);
    for (auto& [name, list] : peers_by_agent) SortByName(list);
    for (auto& [name, list] : forwards_by_tunnel) SortByName(list);
    for (const Allocation& allocation : allocation_list) {
      if (!wanted(allocation.tunnel)) continue;
      allocations.emplace(std::make_pair(std::string_view(allocation.tunnel), std::string_view(allocation.peer)),
                          allocation.address);
    }
  }

  const Tunnel* FindTunnel(std::string_view name) const {
    auto found = tunnels.find(name);
    return found == tunnels.end() ? nullptr : found->second;
  }
  template <typename T>
  static const std::vector<const T*>& Get(const std::map<std::string_view, std::vector<const T*>>& map,
                                          std::string_view key) {
    static const std::vector<const T*> kEmpty;
    auto found = map.find(key);
    return found == map.end() ? kEmpty : found->second;
  }

  const Fleet& fleet;
  TemplateIndex templates;
  std::map<std::string_view, const Tunnel*> tunnels;
  std::map<std::string_view, std::vector<const Tunnel*>> tunnels_by_server;   // name order
  std::map<std::string_view, std::vector<const Peer*>> peers_by_tunnel;       // name order
  std::map<std::string_view, std::vector<const Peer*>> peers_by_agent;        // managed, name order
  std::map<std::string_view, std::vector<const PortForward*>> forwards_by_tunnel;  // name order
  std::map<std::pair<std::string_view, std::string_view>, Ipv4Address> allocations;
};

Result<WireguardKey> AgentKey(const RenderInput& input, const std::string& agent) {
  auto found = input.agent_public_keys.find(agent);
  if (found == input.agent_public_keys.end()) {
    // --keys is wwctl's flag: the reconciler only has what enrollment recorded.
    const char* how = input.missing_peer_key == MissingPeerKey::kFail ? " (enroll it, or pass it in --keys)"
                                                                       : " (it is not enrolled, or was deleted: enroll it)";
    return Status::NotFound("no WireGuard public key for agent \"" + agent + "\"" + how);
  }
  return found->second;
}

// A managed peer whose agent has no key yet, left out of the server's config (kSkipPeer).
bool SkipsKeylessPeer(const RenderInput& input, const Peer& peer) {
  return input.missing_peer_key == MissingPeerKey::kSkipPeer && peer.spec.agent &&
         !input.agent_public_keys.contains(*peer.spec.agent);
}

Result<WireguardKey> PeerKey(const RenderInput& input, const Peer& peer) {
  if (peer.spec.agent) return AgentKey(input, *peer.spec.agent);
  if (peer.spec.public_key) return *peer.spec.public_key;
  return Status::NotFound("Peer/" + peer.metadata.name + " has neither spec.agent nor spec.publicKey");
}

// An explicit address always wins (IPAM returns it too); otherwise the allocation.
Result<Ipv4Address> PeerAddress(const FleetIndex& index, const Peer& peer) {
  if (peer.spec.address) return *peer.spec.address;
  auto found = index.allocations.find({peer.spec.tunnel, peer.metadata.name});
  if (found == index.allocations.end()) {
    return Status::FailedPrecondition("no tunnel address allocated for Peer/" + peer.metadata.name + " of Tunnel/" +
                                      peer.spec.tunnel + " (allocate addresses before rendering)");
  }
  return found->second;
}

std::vector<Ipv4Cidr> SortedLans(const Peer& peer) {
  std::vector<Ipv4Cidr> lans;
  for (const Ipv4Cidr& lan : peer.spec.lan) lans.push_back(lan.Canonical());
  std::sort(lans.begin(), lans.end());
  lans.erase(std::unique(lans.begin(), lans.end()), lans.end());
  return lans;
}

// ---- Rule text. -------------------------------------------------------------------------

// One allocation per rule: render builds a few hundred thousand of them for a large fleet.
std::string Concat(std::initializer_list<std::string_view> parts) {
  size_t size = 0;
  for (std::string_view part : parts) size += part.size();
  std::string out;
  out.reserve(size);
  for (std::string_view part : parts) out += part;
  return out;
}

std::string Hex(uint32_t value) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "0x%x", value);
  return buffer;
}

// "-p tcp -m tcp --dport 2302:2305"
std::string PortMatch(Protocol protocol, const PortRange& range) {
  std::string_view name = ProtocolName(protocol);
  std::string first = std::to_string(range.first);
  std::string last = range.IsSingle() ? "" : ":" + std::to_string(range.last);
  return Concat({"-p ", name, " -m ", name, " --dport ", first, last});
}

std::vector<Protocol> Protocols(Protocol protocol) {
  if (protocol == Protocol::kBoth) return {Protocol::kTcp, Protocol::kUdp};
  return {protocol};
}

std::string MssClamp(std::string_view direction, std::string_view interface) {
  return Concat({direction, " ", interface, " -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu"});
}

constexpr std::string_view kEstablished = "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT";
constexpr std::string_view kRestoreMark = "-j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff";

// ---- Accumulating one agent's config. ---------------------------------------------------

// Indexes into kOwnedChains (agent_config.h), in its order.
enum class Chain {
  kFilterForward,
  kFilterInput,
  kNatPostrouting,
  kNatPrerouting,
  kMangleMss,
  kMangleOutput,
  kManglePrerouting
};
constexpr size_t kChainCount = std::size(kOwnedChains);

// Chains keep insertion order and drop exact duplicates (two forwards to one destination
// share one ACCEPT); a chain without rules is left out with its jump.
class ConfigBuilder {
 public:
  void AddRule(Chain chain, std::string rule) { chains_[static_cast<size_t>(chain)].push_back(std::move(rule)); }
  void AddRoute(Route route) { routes_.push_back(std::move(route)); }
  void AddRoutingRule(RoutingRule rule) { rules_.push_back(std::move(rule)); }
  void AddSysctl(std::string key, std::string value) { sysctls_.emplace(std::move(key), std::move(value)); }
  void AddNotice(std::string notice) { notices_.push_back(std::move(notice)); }
  void AddWarning(std::string warning) { warnings_.push_back(std::move(warning)); }
  void AddInterface(WireguardInterface interface) { interfaces_.push_back(std::move(interface)); }

  AgentConfig Finish(const std::string& agent) && {
    AgentConfig config;
    config.agent = agent;
    config.interfaces = std::move(interfaces_);
    std::sort(config.interfaces.begin(), config.interfaces.end(),
              [](const WireguardInterface& a, const WireguardInterface& b) { return a.name < b.name; });

    auto route_key = [](const Route& route) {
      return std::tie(route.destination, route.device, route.via, route.table);
    };
    std::sort(routes_.begin(), routes_.end(),
              [&](const Route& a, const Route& b) { return route_key(a) < route_key(b); });
    routes_.erase(std::unique(routes_.begin(), routes_.end()), routes_.end());
    config.routes = std::move(routes_);

    auto rule_key = [](const RoutingRule& rule) {
      return std::tie(rule.priority, rule.from, rule.to, rule.fwmark, rule.table);
    };
    std::sort(rules_.begin(), rules_.end(),
              [&](const RoutingRule& a, const RoutingRule& b) { return rule_key(a) < rule_key(b); });
    rules_.erase(std::unique(rules_.begin(), rules_.end()), rules_.end());
    config.rules = std::move(rules_);

    for (size_t i = 0; i < kChainCount; ++i) {
      std::vector<std::string> rules = Deduplicated(std::move(chains_[i]));
      if (rules.empty()) continue;
      config.chains.push_back({kOwnedChains[i].table, std::string(kOwnedChains[i].name), std::move(rules)});
      config.jumps.push_back({kOwnedChains[i].table, std::string(kOwnedChains[i].builtin), std::string(kOwnedChains[i].jump)});
    }
    auto jump_key = [](const FirewallJump& jump) { return std::tie(jump.table, jump.chain, jump.rule); };
    std::sort(config.jumps.begin(), config.jumps.end(),
              [&](const FirewallJump& a, const FirewallJump& b) { return jump_key(a) < jump_key(b); });

    for (auto& [key, value] : sysctls_) config.sysctls.push_back({key, value});
    config.notices = std::move(notices_);
    config.warnings = std::move(warnings_);
    return config;
  }

 private:
  // Keeps the first of equal rules, in order.
  static std::vector<std::string> Deduplicated(std::vector<std::string> rules) {
    std::vector<bool> keep(rules.size());
    {
      // Views into `rules`, which stays untouched until they are gone.
      std::unordered_set<std::string_view> seen;
      seen.reserve(rules.size());
      for (size_t i = 0; i < rules.size(); ++i) keep[i] = seen.insert(rules[i]).second;
    }
    std::vector<std::string> out;
    out.reserve(rules.size());
    for (size_t i = 0; i < rules.size(); ++i) {
      if (keep[i]) out.push_back(std::move(rules[i]));
    }
    return out;
  }

  std::array<std::vector<std::string>, kChainCount> chains_;
  std::vector<WireguardInterface> interfaces_;
  std::vector<Route> routes_;
  std::vector<RoutingRule> rules_;
  std::map<std::string, std::string> sysctls_;
  std::vector<std::string> notices_;
  std::vector<std::string> warnings_;
};

// ---- Server side. -----------------------------------------------------------------------

Status RenderServer(const FleetIndex& index, const RenderInput& input, const std::string& agent,
                    const std::vector<const Tunnel*>& tunnels, ConfigBuilder& builder) {
  if (tunnels.empty()) return Status::Ok();
  WW_ASSIGN_OR_RETURN(WireguardKey own_key, AgentKey(input, agent));

  // Per tunnel: interface, routes, and the rules that do not depend on forwards.
  std::vector<std::string> peer_to_peer;
  std::vector<std::string> egress_accept;
  std::vector<const PortForward*> forwards;
  builder.AddRule(Chain::kFilterForward, std::string(kEstablished));
  for (const Tunnel* tunnel : tunnels) {
    const TunnelSpec& spec = tunnel->spec;
    const std::string& device = spec.interface;
    const Ipv4Cidr network = spec.network.Canonical();
    WireguardInterface interface{
        .name = device,
        .tunnel = tunnel->metadata.name,
        .role = InterfaceRole::kServer,
        .address = {ServerAddress(network), network.prefix},
        .listen_port = spec.listen_port,
        .mtu = spec.mtu,
        .fwmark = 0,
        .public_key = own_key,
        .peers = {},
    };
    const std::string out_of_tunnel = spec.public_interface ? "-o " + *spec.public_interface : "! -o " + device;
    const std::string network_text = network.ToString();
    builder.AddRule(Chain::kNatPostrouting, Concat({"-s ", network_text, " ", out_of_tunnel, " -j MASQUERADE"}));
    egress_accept.push_back(Concat({"-s ", network_text, " -i ", device, " -j ACCEPT"}));
    builder.AddRule(Chain::kFilterInput, Concat({"-p udp -m udp --dport ", std::to_string(spec.listen_port), " -j ACCEPT"}));

    for (const Peer* peer : FleetIndex::Get(index.peers_by_tunnel, tunnel->metadata.name)) {
      std::optional<WireguardKey> key;  // none: the peer is left out (its WireGuard entry only)
      if (SkipsKeylessPeer(input, *peer)) {
        // Its routes and forwards stay: their packets end at this interface, as when the
        // client is offline, and never leave the server another way.
        builder.AddWarning("Peer/" + peer->metadata.name + " of Tunnel/" + tunnel->metadata.name +
                           " is left out: agent \"" + *peer->spec.agent +
                           "\" has no WireGuard public key (it is not enrolled, or was deleted)");
      } else {
        WW_ASSIGN_OR_RETURN(key, PeerKey(input, *peer));
      }
      WW_ASSIGN_OR_RETURN(Ipv4Address address, PeerAddress(index, *peer));
      std::vector<Ipv4Cidr> lans = SortedLans(*peer);
      WireguardPeer wireguard_peer{.name = peer->metadata.name,
                                   .public_key = key.value_or(WireguardKey{}),
                                   .endpoint = "",
                                   .allowed_ips = {Ipv4Cidr{address, 32}},
                                   .persistent_keepalive = 0};
      for (const Ipv4Cidr& lan : lans) {
        wireguard_peer.allowed_ips.push_back(lan);
        builder.AddRoute({.destination = lan, .device = device, .via = std::nullopt, .table = kMainTable});
        if (peer->spec.gateway) {
          const std::string lan_text = lan.ToString();
          builder.AddRule(Chain::kNatPostrouting, Concat({"-s ", lan_text, " ", out_of_tunnel, " -j MASQUERADE"}));
          egress_accept.push_back(Concat({"-s ", lan_text, " -i ", device, " -j ACCEPT"}));
        }
      }
      std::sort(wireguard_peer.allowed_ips.begin(), wireguard_peer.allowed_ips.end());
      if (key) interface.peers.push_back(std::move(wireguard_peer));
    }
    std::sort(interface.peers.begin(), interface.peers.end(),
              [](const WireguardPeer& a, const WireguardPeer& b) { return a.public_key < b.public_key; });
    builder.AddInterface(std::move(interface));

    peer_to_peer.push_back(Concat({"-i ", device, " -o ", device, " -j ACCEPT"}));
    builder.AddRule(Chain::kMangleMss, MssClamp("-o", device));
    builder.AddRule(Chain::kMangleMss, MssClamp("-i", device));
    const auto& tunnel_forwards = FleetIndex::Get(index.forwards_by_tunnel, tunnel->metadata.name);
    forwards.insert(forwards.end(), tunnel_forwards.begin(), tunnel_forwards.end());
  }
  for (std::string& rule : peer_to_peer) builder.AddRule(Chain::kFilterForward, std::move(rule));

  // Forwards across all this agent's tunnels, in forward-name order (each list already is).
  if (tunnels.size() > 1) SortByName(forwards);
  for (const PortForward* forward : forwards) {
    const Tunnel* tunnel = index.FindTunnel(forward->spec.tunnel);
    if (tunnel == nullptr) continue;  // cannot happen: the forward came from one of `tunnels`
    const std::string& device = tunnel->spec.interface;
    const std::string in_from_outside =
        tunnel->spec.public_interface ? "-i " + *tunnel->spec.public_interface : "! -i " + device;
    const std::string address = forward->spec.to.address.ToString();
    for (const PortSet& set : ForwardPortSets(index.templates, *forward)) {
      for (Protocol protocol : Protocols(set.protocol)) {
        for (const PortRange& range : set.ranges) {
          // A remap applies to single ports only (validation refuses it elsewhere).
          PortRange destination = range;
          if (forward->spec.to.port && range.IsSingle()) destination = {*forward->spec.to.port, *forward->spec.to.port};
          std::string to_ports = std::to_string(destination.first);
          if (!destination.IsSingle()) to_ports += "-" + std::to_string(destination.last);
          builder.AddRule(Chain::kNatPrerouting, Concat({in_from_outside, " ", PortMatch(protocol, range),
                                                         " -j DNAT --to-destination ", address, ":", to_ports}));
          builder.AddRule(Chain::kFilterForward,
                          Concat({"-d ", address, "/32 -o ", device, " ", PortMatch(protocol, destination),
                                  " -m conntrack --ctstate DNAT -j ACCEPT"}));
        }
      }
    }
  }
  for (std::string& rule : egress_accept) builder.AddRule(Chain::kFilterForward, std::move(rule));
  builder.AddSysctl("net.ipv4.ip_forward", "1");
  return Status::Ok();
}

// ---- Client side. -----------------------------------------------------------------------

uint32_t Fnv1a32(std::string_view text) {
  uint32_t hash = 2166136261u;
  for (char c : text) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 16777619u;
  }
  return hash;
}

// The endpoint host when it is an IPv4 literal (a hostname cannot go into an ip rule).
std::optional<Ipv4Address> EndpointAddress(const TunnelSpec& spec) {
  std::string_view host = spec.endpoint;
  host = host.substr(0, host.find(':'));
  auto address = Ipv4Address::Parse(host);
  if (!address.ok()) return std::nullopt;
  return *address;
}

Status RenderClient(const FleetIndex& index, const RenderInput& input, const std::string& agent,
                    std::vector<const Peer*> peers, ConfigBuilder& builder) {
  if (peers.empty()) return Status::Ok();
  WW_ASSIGN_OR_RETURN(WireguardKey own_key, AgentKey(input, agent));
  std::sort(peers.begin(), peers.end(),
            [](const Peer* a, const Peer* b) { return a->spec.interface < b->spec.interface; });

  std::set<uint32_t> used_slots;
  for (const Peer* peer : peers) {
    const Tunnel* tunnel = index.FindTunnel(peer->spec.tunnel);
    if (tunnel == nullptr) {
      return Status::NotFound("Peer/" + peer->metadata.name + " names Tunnel \"" + peer->spec.tunnel +
                              "\", which is not in the fleet");
    }
    if (used_slots.size() >= kClientSlots) {
      return Status::FailedPrecondition("agent \"" + agent + "\" has more than " + std::to_string(kClientSlots) +
                                        " client interfaces");
    }
    uint32_t slot = Fnv1a32(peer->spec.interface) % kClientSlots;
    while (used_slots.contains(slot)) slot = (slot + 1) % kClientSlots;
    used_slots.insert(slot);
    const uint32_t table = kClientTableBase + slot;
    const uint32_t reply_mark = kReplyMarkBase + slot;
    const uint32_t wireguard_mark = kWireguardMarkBase + slot;

    const std::string& device = peer->spec.interface;
    const Ipv4Cidr network = tunnel->spec.network.Canonical();
    WW_ASSIGN_OR_RETURN(WireguardKey server_key, AgentKey(input, tunnel->spec.agent));
    WW_ASSIGN_OR_RETURN(Ipv4Address address, PeerAddress(index, *peer));
    builder.AddInterface(WireguardInterface{
        .name = device,
        .tunnel = tunnel->metadata.name,
        .role = InterfaceRole::kClient,
        .address = {address, network.prefix},
        .listen_port = 0,
        .mtu = tunnel->spec.mtu,
        .fwmark = wireguard_mark,
        .public_key = own_key,
        .peers = {WireguardPeer{.name = tunnel->metadata.name,
                                .public_key = server_key,
                                .endpoint = EndpointWithPort(tunnel->spec),
                                .allowed_ips = {Ipv4Cidr{{0}, 0}},
                                .persistent_keepalive = peer->spec.keepalive.value_or(kDefaultKeepalive)}},
    });

    builder.AddRoute({.destination = Ipv4Cidr{{0}, 0}, .device = device, .via = std::nullopt, .table = table});
    builder.AddRoutingRule({.priority = kPriorityWireguardMark, .fwmark = wireguard_mark, .table = kMainTable});
    builder.AddRoutingRule({.priority = kPriorityReplyMark, .fwmark = reply_mark, .table = table});

    const std::string mark = Hex(reply_mark);
    builder.AddRule(Chain::kManglePrerouting,
                    Concat({"-i ", device, " -m conntrack --ctstate NEW -j CONNMARK --set-xmark ", mark, "/0xffffffff"}));
    builder.AddRule(Chain::kManglePrerouting, Concat({"! -i ", device, " -m connmark --mark ", mark, " ", kRestoreMark}));
    builder.AddRule(Chain::kMangleOutput, Concat({"-m connmark --mark ", mark, " ", kRestoreMark}));
    builder.AddRule(Chain::kMangleMss, MssClamp("-o", device));
    builder.AddRule(Chain::kMangleMss, MssClamp("-i", device));

    std::vector<Ipv4Cidr> lans = SortedLans(*peer);
    // A client without a LAN forwards nothing, so it opens nothing in FORWARD.
    if (!lans.empty()) builder.AddRule(Chain::kFilterForward, std::string(kEstablished));
    for (const Ipv4Cidr& lan : lans) {
      builder.AddRule(Chain::kFilterForward, Concat({"-d ", lan.ToString(), " -i ", device, " -j ACCEPT"}));
    }
    if (peer->spec.gateway) {
      for (const Ipv4Cidr& lan : lans) {
        builder.AddRule(Chain::kFilterForward, Concat({"-s ", lan.ToString(), " -o ", device, " -j ACCEPT"}));
      }
      if (input.control_address) {
        builder.AddRoutingRule({.priority = kPriorityControl, .to = Ipv4Cidr{*input.control_address, 32}});
      }
      if (auto endpoint = EndpointAddress(tunnel->spec)) {
        builder.AddRoutingRule({.priority = kPriorityEndpoint, .to = Ipv4Cidr{*endpoint, 32}});
      }
      for (const Ipv4Cidr& lan : lans) {
        builder.AddRoutingRule({.priority = kPriorityLanMain, .to = lan});
        builder.AddRoutingRule({.priority = kPriorityLanEgress, .from = lan, .table = table});
      }
    } else if (!lans.empty()) {
      // The LAN host's replies do not pass through this client unless it masquerades.
      for (const PortForward* forward : FleetIndex::Get(index.forwards_by_tunnel, tunnel->metadata.name)) {
        const Ipv4Address target = forward->spec.to.address;
        bool on_lan = std::any_of(lans.begin(), lans.end(), [&](const Ipv4Cidr& lan) { return lan.Contains(target); });
        if (!on_lan) continue;
        const std::string target_text = target.ToString();
        builder.AddRule(Chain::kNatPostrouting, Concat({"-d ", target_text, "/32 ! -o ", device, " -m connmark --mark ",
                                                        mark, " -j MASQUERADE"}));
        builder.AddNotice("PortForward/" + forward->metadata.name + ": " + target_text + " is on the LAN of Peer/" +
                          peer->metadata.name +
                          ", which is not a gateway, so its connections are masqueraded: the LAN host will see the "
                          "client's LAN address instead of the player's (set gateway: true on the peer and make the "
                          "client the host's default gateway to keep real addresses)");
      }
    }

    if (!lans.empty()) builder.AddSysctl("net.ipv4.ip_forward", "1");
    builder.AddSysctl("net.ipv4.conf." + device + ".rp_filter", "2");
  }
  return Status::Ok();
}

Result<AgentConfig> RenderIndexed(const FleetIndex& index, const RenderInput& input, const std::string& agent) {
  const auto& served = FleetIndex::Get(index.tunnels_by_server, agent);
  const auto& joined = FleetIndex::Get(index.peers_by_agent, agent);
  if (served.empty() && joined.empty()) {
    return Status::NotFound("agent \"" + agent + "\" is not part of the fleet (no Tunnel or Peer names it)");
  }
  ConfigBuilder builder;
  WW_RETURN_IF_ERROR(RenderServer(index, input, agent, served, builder));
  WW_RETURN_IF_ERROR(RenderClient(index, input, agent, joined, builder));
  return std::move(builder).Finish(agent);
}

}  // namespace

std::vector<std::string> FleetAgents(const Fleet& fleet) {
  std::set<std::string> agents;
  for (const Tunnel& tunnel : fleet.tunnels) agents.insert(tunnel.spec.agent);
  for (const Peer& peer : fleet.peers) {
    if (peer.spec.agent) agents.insert(*peer.spec.agent);
  }
  return {agents.begin(), agents.end()};
}

std::string EndpointWithPort(const TunnelSpec& spec) {
  if (spec.endpoint.find(':') != std::string::npos) return spec.endpoint;
  return spec.endpoint + ":" + std::to_string(spec.listen_port);
}

Result<AgentConfig> RenderAgent(const Fleet& fleet, const RenderInput& input, const std::string& agent) {
  FleetIndex index(fleet, input.allocations, &agent);
  return RenderIndexed(index, input, agent);
}

Result<std::map<std::string, AgentConfig>> RenderAll(const Fleet& fleet, const RenderInput& input) {
  FleetIndex index(fleet, input.allocations, nullptr);
  std::map<std::string, AgentConfig> configs;
  for (const std::string& agent : FleetAgents(fleet)) {
    WW_ASSIGN_OR_RETURN(AgentConfig config, RenderIndexed(index, input, agent));
    configs.emplace(agent, std::move(config));
  }
  return configs;
}

std::map<std::string, Result<AgentConfig>> RenderEach(const Fleet& fleet, const RenderInput& input) {
  FleetIndex index(fleet, input.allocations, nullptr);
  std::map<std::string, Result<AgentConfig>> configs;
  for (const std::string& agent : FleetAgents(fleet)) configs.emplace(agent, RenderIndexed(index, input, agent));
  return configs;
}

std::map<std::string, std::vector<std::string>> KeyDependents(const Fleet& fleet) {
  std::map<std::string_view, std::string_view> server_of;  // tunnel -> its agent
  for (const Tunnel& tunnel : fleet.tunnels) server_of.emplace(tunnel.metadata.name, tunnel.spec.agent);
  std::map<std::string, std::set<std::string>> dependents;
  for (const Peer& peer : fleet.peers) {
    auto server = server_of.find(peer.spec.tunnel);
    if (!peer.spec.agent || server == server_of.end() || *peer.spec.agent == server->second) continue;
    dependents[*peer.spec.agent].emplace(server->second);  // the server's peer list holds its key
    dependents[std::string(server->second)].insert(*peer.spec.agent);  // its server peer holds the server's key
  }
  std::map<std::string, std::vector<std::string>> lists;
  for (auto& [agent, names] : dependents) lists.emplace(agent, std::vector<std::string>(names.begin(), names.end()));
  return lists;
}

}  // namespace ww
