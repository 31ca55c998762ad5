#include "schema/validate.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "schema/config_policy.h"
#include "schema/ipam.h"
#include "schema/resource_fields.h"
#include "schema/templates.h"

namespace ww {

namespace {

constexpr size_t kNone = SIZE_MAX;

std::string_view KindOf(const Tunnel&) { return kKindTunnel; }
std::string_view KindOf(const Peer&) { return kKindPeer; }
std::string_view KindOf(const PortForward&) { return kKindPortForward; }
std::string_view KindOf(const ServiceTemplate&) { return kKindServiceTemplate; }

// "Peer/home".
template <typename Resource>
std::string NameOf(const Resource& resource) {
  return std::string(KindOf(resource)) + "/" + resource.metadata.name;
}

std::string Quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

// "fleet.yaml:12": where `field` of a resource is written, or where the resource is named
// when the field is not written (a default).
std::string Location(const Origin& origin, std::string_view field) {
  if (origin.file.empty()) return "built in";
  auto written =
      std::find_if(origin.fields.begin(), origin.fields.end(), [&](const auto& entry) { return entry.first == field; });
  Mark mark = written != origin.fields.end() ? written->second : origin.Find("metadata.name");
  return mark.line > 0 ? origin.file + ":" + std::to_string(mark.line) : origin.file;
}

// "Peer/home (fleet.yaml:12)": another resource named in a message, with where to find it.
template <typename Resource>
std::string Cite(const Resource& resource, std::string_view field) {
  return NameOf(resource) + " (" + Location(resource.origin, field) + ")";
}

template <typename Resource>
void Report(Diagnostics& out, Severity severity, const Resource& resource, std::string_view field,
            std::string message) {
  out.push_back({severity, resource.origin.file, resource.origin.Find(field), NameOf(resource), std::string(field),
                 std::move(message)});
}

template <typename Resource>
void Error(Diagnostics& out, const Resource& resource, std::string_view field, std::string message) {
  Report(out, Severity::kError, resource, field, std::move(message));
}

template <typename Resource>
void Warn(Diagnostics& out, const Resource& resource, std::string_view field, std::string message) {
  Report(out, Severity::kWarning, resource, field, std::move(message));
}

std::string PortsField(const PortForward& forward) {
  return forward.spec.template_name ? "spec.template" : "spec.ports";
}

uint64_t AddressKey(size_t tunnel, Ipv4Address address) { return (uint64_t{tunnel} << 32) | address.value; }
uint64_t LanKey(size_t tunnel, const Ipv4Cidr& lan) {
  return (uint64_t{tunnel} << 38) | (uint64_t(lan.prefix) << 32) | lan.Network().value;
}
// Agent names cannot hold a newline (control characters are refused), so this is unambiguous.
std::string PairKey(std::string_view first, std::string_view second) {
  return std::string(first) + "\n" + std::string(second);
}

// An inclusive interval in a group (a tunnel, a tunnel and protocol, an agent), owned by the
// entry at `owner` in the caller's table.
struct Span {
  uint64_t group = 0;
  uint32_t first = 0;
  uint32_t last = 0;
  size_t owner = 0;
};

// Sorts `spans` and calls on_overlap(cover, span) for every span that overlaps a span sorted
// before it in its group; `cover` is the earlier span reaching furthest. O(n log n): this is
// what keeps 50,000 forwards from being compared pairwise.
template <typename OnOverlap>
void SweepOverlaps(std::vector<Span>& spans, OnOverlap on_overlap) {
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    if (a.group != b.group) return a.group < b.group;
    if (a.first != b.first) return a.first < b.first;
    if (a.last != b.last) return a.last > b.last;  // containers before what they contain
    return a.owner < b.owner;
  });
  const Span* cover = nullptr;
  for (const Span& span : spans) {
    if (cover != nullptr && cover->group == span.group && span.first <= cover->last) {
      on_overlap(*cover, span);
      if (span.last > cover->last) cover = &span;
    } else {
      cover = &span;
    }
  }
}

// The documents of a partly loaded fleet that failed to load, so that rules claiming
// something is absent stay quiet about what may only have failed to load.
class LoadGaps {
 public:
  LoadGaps() = default;
  explicit LoadGaps(const Diagnostics& load_diagnostics) {
    for (const Diagnostic& diagnostic : load_diagnostics) {
      if (diagnostic.severity != Severity::kError) continue;
      // The loader names a document "Kind/name", "Kind" when its name is bad, "" before its kind is known.
      size_t slash = diagnostic.object.find('/');
      std::string kind = diagnostic.object.substr(0, slash);
      missing_kinds_.insert(kind);
      if (slash == std::string::npos) {
        unknown_kinds_.insert(kind);
      } else {
        failed_.insert(diagnostic.object);
      }
    }
  }

  // True when a `kind` named `name` may exist though the fleet lacks it.
  bool MayExist(std::string_view kind, std::string_view name) const {
    return IsUnknown(kind) || failed_.count(std::string(kind) + "/" + std::string(name)) > 0;
  }
  // True when some document of `kind` may have failed to load.
  bool AnyMissing(std::string_view kind) const {
    return IsUnknown(kind) || missing_kinds_.count(std::string(kind)) > 0;
  }

 private:
  bool IsUnknown(std::string_view kind) const {
    return unknown_kinds_.count("") > 0 || unknown_kinds_.count(std::string(kind)) > 0;
  }

  std::unordered_set<std::string> failed_;         // "Tunnel/vps"
  std::unordered_set<std::string> missing_kinds_;  // kinds with a failed document
  std::unordered_set<std::string> unknown_kinds_;  // kinds with a failed document of unknown name; "" for any kind
};

// Name lookups and derived facts every rule needs, built once in O(n).
class FleetIndex {
 public:
  FleetIndex(const Fleet& fleet, const LoadGaps& gaps) : fleet_(fleet), gaps_(gaps), templates_(fleet) {
    peer_names_by_tunnel_.resize(fleet.tunnels.size());
    lan_prefixes_.resize(fleet.tunnels.size());
    for (size_t t = 0; t < fleet.tunnels.size(); ++t) {
      const Tunnel& tunnel = fleet.tunnels[t];
      if (tunnel_by_name_.emplace(tunnel.metadata.name, t).second) tunnel_names_.push_back(tunnel.metadata.name);
      server_addresses_.push_back(ServerAddress(tunnel.spec.network));
    }
    for (const ServiceTemplate& builtin : BuiltinTemplates()) template_names_.push_back(builtin.metadata.name);
    for (const ServiceTemplate& user : fleet.templates) {
      if (templates_.Find(user.metadata.name) == &user) template_names_.push_back(user.metadata.name);
    }
    for (size_t p = 0; p < fleet.peers.size(); ++p) IndexPeer(p);
    for (const PortForward& forward : fleet.forwards) forward_tunnels_.push_back(FindTunnel(forward.spec.tunnel));
  }

  const Fleet& fleet() const { return fleet_; }
  const LoadGaps& gaps() const { return gaps_; }
  const TemplateIndex& templates() const { return templates_; }
  const std::vector<std::string_view>& tunnel_names() const { return tunnel_names_; }
  const std::vector<std::string_view>& template_names() const { return template_names_; }
  const std::vector<std::string_view>& peer_names() const { return peer_names_; }
  const std::vector<std::string_view>& PeerNamesOf(size_t tunnel) const { return peer_names_by_tunnel_[tunnel]; }

  // Index of the first tunnel/peer of that name, or kNone.
  size_t FindTunnel(std::string_view name) const { return Lookup(tunnel_by_name_, name); }
  size_t FindPeer(std::string_view name) const { return Lookup(peer_by_name_, name); }
  size_t PeerTunnel(size_t peer) const { return peer_tunnels_[peer]; }
  size_t ForwardTunnel(size_t forward) const { return forward_tunnels_[forward]; }
  Ipv4Address ServerAddressOf(size_t tunnel) const { return server_addresses_[tunnel]; }

  // The first peer of the tunnel whose spec.address is `address`, or kNone.
  size_t PeerWithAddress(size_t tunnel, Ipv4Address address) const {
    auto found = peer_by_address_.find(AddressKey(tunnel, address));
    return found == peer_by_address_.end() ? kNone : found->second;
  }

  // Distinct peers of the tunnel with a lan containing `address`, in file order. A probe per
  // prefix length the tunnel's lans use keeps this O(1) whatever the number of peers.
  std::vector<size_t> PeersRouting(size_t tunnel, Ipv4Address address) const {
    std::vector<size_t> peers;
    for (int prefix = 0; prefix <= 32; ++prefix) {
      if ((lan_prefixes_[tunnel] & (uint64_t{1} << prefix)) == 0) continue;
      Ipv4Cidr candidate{address, prefix};
      auto [begin, end] = peers_by_lan_.equal_range(LanKey(tunnel, candidate));
      for (auto it = begin; it != end; ++it) peers.push_back(it->second);
    }
    std::sort(peers.begin(), peers.end());
    peers.erase(std::unique(peers.begin(), peers.end()), peers.end());
    return peers;
  }

  // A managed peer that is its tunnel's server agent or a second peer of the same agent on
  // one tunnel: reported once, and left out of the per-agent rules that would repeat it.
  bool IsRedundantMembership(size_t peer) const {
    const Peer& member = fleet_.peers[peer];
    size_t tunnel = peer_tunnels_[peer];
    if (!member.spec.agent || tunnel == kNone) return false;
    if (*member.spec.agent == fleet_.tunnels[tunnel].spec.agent) return true;
    return membership_.at(PairKey(*member.spec.agent, std::to_string(tunnel))) != peer;
  }
  size_t FirstMembership(std::string_view agent, size_t tunnel) const {
    auto found = membership_.find(PairKey(agent, std::to_string(tunnel)));
    return found == membership_.end() ? kNone : found->second;
  }

  // "; did you mean "vps"?" or "". Memoized: a hostile file repeating one typo thousands of
  // times costs one search.
  std::string Hint(std::string_view scope, std::string_view unknown,
                   const std::vector<std::string_view>& candidates) const {
    std::string key = PairKey(scope, unknown);
    auto cached = hints_.find(key);
    if (cached != hints_.end()) return cached->second;
    std::string_view closest = ClosestName(unknown, candidates);
    std::string hint = closest.empty() ? "" : "; did you mean " + Quote(closest) + "?";
    hints_.emplace(std::move(key), hint);
    return hint;
  }

 private:
  static size_t Lookup(const std::unordered_map<std::string_view, size_t>& map, std::string_view name) {
    auto found = map.find(name);
    return found == map.end() ? kNone : found->second;
  }

  void IndexPeer(size_t p) {
    const Peer& peer = fleet_.peers[p];
    if (peer_by_name_.emplace(peer.metadata.name, p).second) peer_names_.push_back(peer.metadata.name);
    size_t tunnel = FindTunnel(peer.spec.tunnel);
    peer_tunnels_.push_back(tunnel);
    if (tunnel == kNone) return;
    peer_names_by_tunnel_[tunnel].push_back(peer.metadata.name);
    if (peer.spec.address) peer_by_address_.emplace(AddressKey(tunnel, *peer.spec.address), p);
    for (const Ipv4Cidr& lan : peer.spec.lan) {
      peers_by_lan_.emplace(LanKey(tunnel, lan), p);
      lan_prefixes_[tunnel] |= uint64_t{1} << lan.prefix;
    }
    if (peer.spec.agent && *peer.spec.agent != fleet_.tunnels[tunnel].spec.agent) {
      membership_.emplace(PairKey(*peer.spec.agent, std::to_string(tunnel)), p);
    }
  }

  const Fleet& fleet_;
  const LoadGaps& gaps_;
  TemplateIndex templates_;
  std::unordered_map<std::string_view, size_t> tunnel_by_name_;
  std::unordered_map<std::string_view, size_t> peer_by_name_;
  std::vector<std::string_view> tunnel_names_;
  std::vector<std::string_view> template_names_;
  std::vector<std::string_view> peer_names_;
  std::vector<std::vector<std::string_view>> peer_names_by_tunnel_;
  std::vector<size_t> peer_tunnels_;
  std::vector<size_t> forward_tunnels_;
  std::vector<Ipv4Address> server_addresses_;
  std::unordered_map<uint64_t, size_t> peer_by_address_;
  std::unordered_multimap<uint64_t, size_t> peers_by_lan_;
  std::vector<uint64_t> lan_prefixes_;                  // per tunnel: bit N set when a lan is a /N
  std::unordered_map<std::string, size_t> membership_;  // agent + tunnel index -> first managed peer
  mutable std::unordered_map<std::string, std::string> hints_;
};

// --- Names -------------------------------------------------------------------------------

template <typename Resource>
void CheckUniqueNames(const std::vector<Resource>& resources, Diagnostics& out) {
  std::unordered_map<std::string_view, const Resource*> first_by_name;
  for (const Resource& resource : resources) {
    if (resource.metadata.name.empty()) continue;  // the loader reported the missing name
    auto [first, inserted] = first_by_name.emplace(resource.metadata.name, &resource);
    if (inserted) continue;
    Error(out, resource, "metadata.name",
          "duplicate name: " + NameOf(resource) + " is already defined at " +
              Location(first->second->origin, "metadata.name"));
  }
}

void CheckBuiltinTemplateNames(const Fleet& fleet, Diagnostics& out) {
  for (const ServiceTemplate& user : fleet.templates) {
    for (const ServiceTemplate& builtin : BuiltinTemplates()) {
      if (builtin.metadata.name != user.metadata.name) continue;
      Error(out, user, "metadata.name",
            "name " + Quote(user.metadata.name) + " is taken by a built-in ServiceTemplate (" +
                DescribePortSets(builtin.spec.ports) + "); choose another name");
    }
  }
}

// --- References --------------------------------------------------------------------------

template <typename Resource>
void CheckTunnelReference(const FleetIndex& index, const Resource& resource, size_t tunnel, Diagnostics& out) {
  const std::string& name = resource.spec.tunnel;
  if (tunnel != kNone || name.empty() || index.gaps().MayExist(kKindTunnel, name)) return;
  Error(out, resource, "spec.tunnel",
        "Tunnel " + Quote(name) + " does not exist" + index.Hint("tunnel", name, index.tunnel_names()));
}

void CheckPeerReferences(const FleetIndex& index, Diagnostics& out) {
  const Fleet& fleet = index.fleet();
  for (size_t p = 0; p < fleet.peers.size(); ++p) CheckTunnelReference(index, fleet.peers[p], index.PeerTunnel(p), out);
}

void CheckForwardReferences(const FleetIndex& index, Diagnostics& out) {
  const Fleet& fleet = index.fleet();
  for (size_t f = 0; f < fleet.forwards.size(); ++f) {
    const PortForward& forward = fleet.forwards[f];
    size_t tunnel = index.ForwardTunnel(f);
    CheckTunnelReference(index, forward, tunnel, out);
    if (const auto& name = forward.spec.template_name;
        name && index.templates().Find(*name) == nullptr && !index.gaps().MayExist(kKindServiceTemplate, *name)) {
      Error(out, forward, "spec.template",
            "ServiceTemplate " + Quote(*name) + " does not exist" +
                index.Hint("template", *name, index.template_names()));
    }
    if (!forward.spec.to.peer) continue;
    const std::string& peer_name = *forward.spec.to.peer;
    size_t peer = index.FindPeer(peer_name);
    if (peer == kNone && index.gaps().MayExist(kKindPeer, peer_name)) continue;
    if (peer == kNone) {
      std::string hint = tunnel == kNone
                             ? index.Hint("peer", peer_name, index.peer_names())
                             : index.Hint("peer\n" + std::to_string(tunnel), peer_name, index.PeerNamesOf(tunnel));
      Error(out, forward, "spec.to.peer", "Peer " + Quote(peer_name) + " does not exist" + hint);
    } else if (tunnel != kNone && index.PeerTunnel(peer) != tunnel) {
      const Peer& target = fleet.peers[peer];
      Error(out, forward, "spec.to.peer",
            Cite(target, "spec.tunnel") + " is on Tunnel/" + target.spec.tunnel + ", not on Tunnel/" +
                forward.spec.tunnel);
    }
  }
}

// --- Tunnel addresses --------------------------------------------------------------------

void CheckPeerAddresses(const FleetIndex& index, Diagnostics& out) {
  const Fleet& fleet = index.fleet();
  for (size_t p = 0; p < fleet.peers.size(); ++p) {
    const Peer& peer = fleet.peers[p];
    size_t t = index.PeerTunnel(p);
    if (!peer.spec.address || t == kNone) continue;
    const Tunnel& tunnel = fleet.tunnels[t];
    const Ipv4Cidr& network = tunnel.spec.network;
    Ipv4Address address = *peer.spec.address;
    auto quoted = [&] { return "address " + address.ToString(); };  // built only for a finding
    auto of_tunnel = [&] { return " of " + NameOf(tunnel) + " (" + network.ToString() + ")"; };
    if (!network.Contains(address)) {
      Error(out, peer, "spec.address", quoted() + " is outside the network" + of_tunnel());
    } else if (address == index.ServerAddressOf(t)) {
      Error(out, peer, "spec.address", quoted() + " is the server's address" + of_tunnel());
    } else if (network.prefix <= 30 && address == network.Network()) {
      Error(out, peer, "spec.address", quoted() + " is the network address" + of_tunnel());
    } else if (network.prefix <= 30 && address == network.Broadcast()) {
      Error(out, peer, "spec.address", quoted() + " is the broadcast address" + of_tunnel());
    } else if (size_t first = index.PeerWithAddress(t, address); first != p) {
      Error(out, peer, "spec.address",
            quoted() + " is already used by " + Cite(fleet.peers[first], "spec.address") + " on " + NameOf(tunnel));
    }
  }
}

// --- LANs --------------------------------------------------------------------------------

void CheckLans(const FleetIndex& index, Diagnostics& out) {
  const Fleet& fleet = index.fleet();
  // Owners: every tunnel network first, then every lan in file order.
  struct Owner {
    size_t tunnel = kNone;
    size_t peer = kNone;  // kNone: the tunnel's network
    size_t lan = 0;
  };
  std::vector<Owner> owners;
  std::vector<Span> spans;
  auto add = [&](Owner owner, const Ipv4Cidr& cidr) {
    spans.push_back({owner.tunnel, cidr.Network().value, cidr.Broadcast().value, owners.size()});
    owners.push_back(owner);
  };
  for (size_t t = 0; t < fleet.tunnels.size(); ++t) {
    if (index.FindTunnel(fleet.tunnels[t].metadata.name) == t) add({t, kNone, 0}, fleet.tunnels[t].spec.network);
  }
  for (size_t p = 0; p < fleet.peers.size(); ++p) {
    if (index.PeerTunnel(p) == kNone) continue;
    for (size_t l = 0; l < fleet.peers[p].spec.lan.size(); ++l) {
      const Ipv4Cidr& lan = fleet.peers[p].spec.lan[l];
      // The server routes each lan in its main table; a wider one would take the VPS's own
      // traffic (a /0 is a default route), and the agent's policy refuses it.
      if (lan.prefix < kMinLanPrefix) {
        Error(out, fleet.peers[p], "spec.lan[" + std::to_string(l) + "]",
              "lan " + lan.ToString() + " is wider than /" + std::to_string(kMinLanPrefix) +
                  "; the server would route it in its main table, taking its own traffic");
      }
      add({index.PeerTunnel(p), p, l}, lan);
    }
  }
  SweepOverlaps(spans, [&](const Span& cover, const Span& span) {
    // Report on the later lan in file order; a tunnel network is never the one at fault.
    const Owner& earlier = owners[std::min(cover.owner, span.owner)];
    const Owner& later = owners[std::max(cover.owner, span.owner)];
    const Peer& peer = fleet.peers[later.peer];
    std::string field = "spec.lan[" + std::to_string(later.lan) + "]";
    std::string message = "lan " + peer.spec.lan[later.lan].ToString() + " overlaps ";
    if (earlier.peer == kNone) {
      const Tunnel& tunnel = fleet.tunnels[earlier.tunnel];
      message += "the network " + tunnel.spec.network.ToString() + " of " + NameOf(tunnel);
    } else if (earlier.peer == later.peer) {
      message += "spec.lan[" + std::to_string(earlier.lan) + "] " + peer.spec.lan[earlier.lan].ToString() +
                 " of the same peer";
    } else {
      const Peer& other = fleet.peers[earlier.peer];
      std::string other_field = "spec.lan[" + std::to_string(earlier.lan) + "]";
      message += "lan " + other.spec.lan[earlier.lan].ToString() + " of " + Cite(other, other_field) + " on Tunnel/" +
                 peer.spec.tunnel;
    }
    Error(out, peer, field, message);
  });
}

// --- Port forwards -----------------------------------------------------------------------

// The concrete protocols a port set claims: "both" is tcp and udp.
std::span<const Protocol> ClaimedProtocols(Protocol protocol) {
  static constexpr Protocol kTcp[] = {Protocol::kTcp};
  static constexpr Protocol kUdp[] = {Protocol::kUdp};
  static constexpr Protocol kTcpAndUdp[] = {Protocol::kTcp, Protocol::kUdp};
  if (protocol == Protocol::kBoth) return kTcpAndUdp;
  return protocol == Protocol::kUdp ? std::span<const Protocol>(kUdp) : std::span<const Protocol>(kTcp);
}

void CheckForwardPorts(const FleetIndex& index, Diagnostics& out) {
  const Fleet& fleet = index.fleet();
  struct Owner {
    size_t forward = 0;
    Protocol protocol = Protocol::kTcp;
    PortRange range;
  };
  std::vector<Owner> owners;
  std::vector<Span> spans;
  for (size_t f = 0; f < fleet.forwards.size(); ++f) {
    size_t tunnel = index.ForwardTunnel(f);
    if (tunnel == kNone) continue;
    for (const PortSet& set : ForwardPortSets(index.templates(), fleet.forwards[f])) {
      for (Protocol protocol : ClaimedProtocols(set.protocol)) {
        uint64_t group = uint64_t{tunnel} * 2 + (protocol == Protocol::kUdp ? 1 : 0);
        for (const PortRange& range : set.ranges) {
          spans.push_back({group, range.first, range.last, owners.size()});
          owners.push_back({f, protocol, range});
        }
      }
    }
  }
  SweepOverlaps(spans, [&](const Span& cover, const Span& span) {
    const Owner& earlier = owners[std::min(cover.owner, span.owner)];
    const Owner& later = owners[std::max(cover.owner, span.owner)];
    if (earlier.forward == later.forward) return;  // a template's own overlaps are reported on it
    const PortForward& forward = fleet.forwards[later.forward];
    const PortForward& other = fleet.forwards[earlier.forward];
    std::string protocol(ProtocolName(later.protocol));
    Error(out, forward, PortsField(forward),
          protocol + " " + later.range.ToString() + " overlaps " + protocol + " " + earlier.range.ToString() + " of " +
              Cite(other, PortsField(other)) + " on Tunnel/" + forward.spec.tunnel);
  });
}

// A user template whose own sets claim one port twice ("tcp 80" and "both 80-81").
void CheckTemplateSets(const Fleet& fleet, Diagnostics& out) {
  struct Owner {
    size_t service = 0;
    size_t set = 0;
    Protocol protocol = Protocol::kTcp;
    PortRange range;
  };
  std::vector<Owner> owners;
  std::vector<Span> spans;
  for (size_t s = 0; s < fleet.templates.size(); ++s) {
    const std::vector<PortSet>& sets = fleet.templates[s].spec.ports;
    for (size_t i = 0; i < sets.size(); ++i) {
      for (Protocol protocol : ClaimedProtocols(sets[i].protocol)) {
        for (const PortRange& range : sets[i].ranges) {
          spans.push_back(
              {uint64_t{s} * 2 + (protocol == Protocol::kUdp ? 1 : 0), range.first, range.last, owners.size()});
          owners.push_back({s, i, protocol, range});
        }
      }
    }
  }
  SweepOverlaps(spans, [&](const Span& cover, const Span& span) {
    const Owner& earlier = owners[std::min(cover.owner, span.owner)];
    const Owner& later = owners[std::max(cover.owner, span.owner)];
    std::string protocol(ProtocolName(later.protocol));
    Error(out, fleet.templates[later.service], "spec.ports[" + std::to_string(later.set) + "]",
          protocol + " " + later.range.ToString() + " overlaps " + protocol + " " + earlier.range.ToString() +
              " of spec.ports[" + std::to_string(earlier.set) + "]");
  });
}

// A remap needs exactly one port. The loader refuses to.port next to a port range, and also
// next to any template; this keeps the rule for fleets built in code (or a loader that
// allows single-port templates), since only here are templates resolved.
void CheckRemaps(const FleetIndex& index, Diagnostics& out) {
  for (const PortForward& forward : index.fleet().forwards) {
    if (!forward.spec.to.port || !forward.spec.template_name) continue;
    const ServiceTemplate* service = index.templates().Find(*forward.spec.template_name);
    if (service == nullptr) continue;
    const std::vector<PortSet>& sets = service->spec.ports;
    if (sets.size() == 1 && sets[0].ranges.size() == 1 && sets[0].ranges[0].IsSingle()) continue;
    Error(out, forward, "spec.to.port",
          "to.port " + std::to_string(*forward.spec.to.port) + " needs a single port, but ServiceTemplate/" +
              service->metadata.name + " gives " + DescribePortSets(sets));
  }
}

// DESIGN.md "Reply paths of a forward": a LAN host that does not route through the client
// gets the forward masqueraded, and an unmanaged device is not ours to configure.
void WarnAboutReplyPath(const PortForward& forward, const Peer& target, Diagnostics& out) {
  if (target.IsManaged() && target.spec.gateway) return;  // replies route through the client
  std::string where = "to.address " + forward.spec.to.address.ToString() + " is in the lan of " + NameOf(target);
  if (!target.IsManaged()) {
    Warn(out, forward, "spec.to.address",
         where +
             ", an unmanaged device: WireWarp configures nothing there, so whether replies come back through the "
             "tunnel depends on that device");
  } else {
    Warn(out, forward, "spec.to.address",
         where +
             ", which has gateway: false, so its client masquerades this forward and the LAN host sees the client's "
             "LAN address, not the player's; to keep real client IPs set gateway: true on " +
             NameOf(target) + " and route the LAN host through it");
  }
}

void CheckForwardTarget(const FleetIndex& index, size_t f, Diagnostics& out) {
  const Fleet& fleet = index.fleet();
  const PortForward& forward = fleet.forwards[f];
  size_t t = index.ForwardTunnel(f);
  if (t == kNone) return;
  const Tunnel& tunnel = fleet.tunnels[t];
  Ipv4Address address = forward.spec.to.address;
  auto quoted = [&] { return "to.address " + address.ToString(); };  // built only for a finding
  size_t named_peer = forward.spec.to.peer ? index.FindPeer(*forward.spec.to.peer) : kNone;
  if (named_peer != kNone && index.PeerTunnel(named_peer) != t) named_peer = kNone;  // reported as a reference

  if (address == index.ServerAddressOf(t)) {
    Error(out, forward, "spec.to.address",
          quoted() + " is the server's address of " + NameOf(tunnel) + " (" + tunnel.spec.network.ToString() +
              "); forward to a peer's address or to an address in a peer's lan");
    return;
  }
  size_t target = index.PeerWithAddress(t, address);
  bool via_lan = false;
  // The peer that would route it may be one that failed to load.
  bool may_be_missing = index.gaps().AnyMissing(kKindPeer);
  if (target == kNone && tunnel.spec.network.Contains(address)) {
    if (named_peer != kNone && !fleet.peers[named_peer].spec.address) {
      Error(out, forward, "spec.to.address",
            NameOf(fleet.peers[named_peer]) +
                " has no fixed address; set spec.address on it to forward to its tunnel address");
      return;
    }
    if (may_be_missing) return;
    std::string message = quoted() + " is inside the network " + tunnel.spec.network.ToString() + " of " +
                          NameOf(tunnel) +
                          " but is no peer's spec.address; forward to a peer whose spec.address is set";
    if (named_peer != kNone) {
      message +=
          " (" + NameOf(fleet.peers[named_peer]) + " has " + fleet.peers[named_peer].spec.address->ToString() + ")";
    }
    Error(out, forward, "spec.to.address", message);
    return;
  }
  if (target == kNone) {
    std::vector<size_t> routing = index.PeersRouting(t, address);
    if (routing.empty() && may_be_missing) return;
    if (routing.empty()) {
      Error(out, forward, "spec.to.address",
            quoted() + " is not routable through " + NameOf(tunnel) +
                ": it is neither a peer's address nor inside a peer's lan");
      return;
    }
    if (routing.size() > 1) {
      std::string peers;
      for (size_t peer : routing) peers += (peers.empty() ? "" : ", ") + NameOf(fleet.peers[peer]);
      Error(out, forward, "spec.to.address",
            quoted() + " is inside the lan of several peers (" + peers +
                "); it must be routable through exactly one peer");
      return;
    }
    target = routing[0];
    via_lan = true;
  }
  if (forward.spec.to.peer && named_peer != kNone && named_peer != target) {
    Error(out, forward, "spec.to.peer",
          "to.peer " + Quote(*forward.spec.to.peer) + " disagrees with to.address " + address.ToString() +
              ", which is routed through " + NameOf(fleet.peers[target]));
  }
  if (via_lan) WarnAboutReplyPath(forward, fleet.peers[target], out);
}

void CheckForwardTargets(const FleetIndex& index, Diagnostics& out) {
  for (size_t f = 0; f < index.fleet().forwards.size(); ++f) CheckForwardTarget(index, f, out);
}

// --- Agents ------------------------------------------------------------------------------

void CheckPeerAgents(const FleetIndex& index, Diagnostics& out) {
  const Fleet& fleet = index.fleet();
  for (size_t p = 0; p < fleet.peers.size(); ++p) {
    const Peer& peer = fleet.peers[p];
    size_t t = index.PeerTunnel(p);
    if (!peer.spec.agent || t == kNone) continue;
    const Tunnel& tunnel = fleet.tunnels[t];
    const std::string& agent = *peer.spec.agent;
    if (agent == tunnel.spec.agent) {
      Error(out, peer, "spec.agent",
            "agent " + Quote(agent) + " is the server of " + Cite(tunnel, "spec.agent") +
                "; a peer of a tunnel must run on a different agent");
    } else if (size_t first = index.FirstMembership(agent, t); first != p) {
      Error(out, peer, "spec.agent",
            "agent " + Quote(agent) + " already joins " + NameOf(tunnel) + " as " +
                Cite(fleet.peers[first], "spec.agent"));
    }
  }
}

void CheckInterfaces(const FleetIndex& index, Diagnostics& out) {
  const Fleet& fleet = index.fleet();
  using Owner = std::variant<const Tunnel*, const Peer*>;
  std::unordered_map<std::string, Owner> first_by_interface;  // agent + interface -> first owner
  auto claim = [&](const auto& resource, const std::string& agent, const std::string& interface) {
    auto [first, inserted] = first_by_interface.emplace(PairKey(agent, interface), Owner(&resource));
    if (inserted) return;
    std::string owner = std::visit([](const auto* other) { return Cite(*other, "spec.interface"); }, first->second);
    Error(out, resource, "spec.interface",
          "interface " + Quote(interface) + " on agent " + Quote(agent) + " is already used by " + owner +
              "; set spec.interface to another name");
  };
  for (const Tunnel& tunnel : fleet.tunnels) claim(tunnel, tunnel.spec.agent, tunnel.spec.interface);
  for (size_t p = 0; p < fleet.peers.size(); ++p) {
    const Peer& peer = fleet.peers[p];
    if (peer.spec.agent && !index.IsRedundantMembership(p)) claim(peer, *peer.spec.agent, peer.spec.interface);
  }
}

void CheckListenPorts(const Fleet& fleet, Diagnostics& out) {
  std::unordered_map<std::string, const Tunnel*> first_by_port;  // agent + port -> tunnel
  for (const Tunnel& tunnel : fleet.tunnels) {
    auto [first, inserted] =
        first_by_port.emplace(PairKey(tunnel.spec.agent, std::to_string(tunnel.spec.listen_port)), &tunnel);
    if (inserted) continue;
    Error(out, tunnel, "spec.listenPort",
          "listenPort " + std::to_string(tunnel.spec.listen_port) + " on agent " + Quote(tunnel.spec.agent) +
              " is already used by " + Cite(*first->second, "spec.listenPort"));
  }
}

// An agent on two tunnels (as server or peer) could not route two overlapping networks.
void CheckAgentNetworks(const FleetIndex& index, Diagnostics& out) {
  const Fleet& fleet = index.fleet();
  struct Membership {
    std::string_view agent;
    size_t tunnel = kNone;
    size_t peer = kNone;  // kNone: the tunnel's server
  };
  std::vector<Membership> memberships;
  std::unordered_map<std::string_view, uint64_t> agent_ids;
  std::vector<Span> spans;
  auto add = [&](Membership membership) {
    uint64_t id = agent_ids.emplace(membership.agent, agent_ids.size()).first->second;
    const Ipv4Cidr& network = fleet.tunnels[membership.tunnel].spec.network;
    spans.push_back({id, network.Network().value, network.Broadcast().value, memberships.size()});
    memberships.push_back(membership);
  };
  for (size_t t = 0; t < fleet.tunnels.size(); ++t) {
    if (index.FindTunnel(fleet.tunnels[t].metadata.name) == t) add({fleet.tunnels[t].spec.agent, t, kNone});
  }
  for (size_t p = 0; p < fleet.peers.size(); ++p) {
    const Peer& peer = fleet.peers[p];
    if (peer.spec.agent && index.PeerTunnel(p) != kNone && !index.IsRedundantMembership(p)) {
      add({*peer.spec.agent, index.PeerTunnel(p), p});
    }
  }
  SweepOverlaps(spans, [&](const Span& cover, const Span& span) {
    const Membership& earlier = memberships[std::min(cover.owner, span.owner)];
    const Membership& later = memberships[std::max(cover.owner, span.owner)];
    const Tunnel& tunnel = fleet.tunnels[later.tunnel];
    const Tunnel& other = fleet.tunnels[earlier.tunnel];
    std::string role = earlier.peer == kNone ? "also serves (" + Location(other.origin, "spec.agent") + ")"
                                             : "is also on as " + Cite(fleet.peers[earlier.peer], "spec.tunnel");
    std::string message = "network " + tunnel.spec.network.ToString() + " of " + NameOf(tunnel) + " overlaps network " +
                          other.spec.network.ToString() + " of " + NameOf(other) + ", which agent " +
                          Quote(later.agent) + " " + role;
    if (later.peer == kNone) {
      Error(out, tunnel, "spec.network", message);
    } else {
      Error(out, fleet.peers[later.peer], "spec.tunnel", message);
    }
  });
}

// Gateway mode routes a LAN's internet traffic into one tunnel ("from LAN lookup TABLE"):
// two gateway peers of one agent with overlapping LANs would fight over the same traffic.
void CheckGatewayLans(const FleetIndex& index, Diagnostics& out) {
  const Fleet& fleet = index.fleet();
  struct Entry {
    size_t peer = 0;
    size_t lan = 0;
  };
  std::vector<Entry> entries;
  std::unordered_map<std::string_view, uint64_t> agent_ids;
  std::vector<Span> spans;
  for (size_t p = 0; p < fleet.peers.size(); ++p) {
    const Peer& peer = fleet.peers[p];
    if (!peer.spec.agent || !peer.spec.gateway || index.PeerTunnel(p) == kNone || index.IsRedundantMembership(p)) continue;
    uint64_t id = agent_ids.emplace(*peer.spec.agent, agent_ids.size()).first->second;
    for (size_t l = 0; l < peer.spec.lan.size(); ++l) {
      const Ipv4Cidr& lan = peer.spec.lan[l];
      spans.push_back({id, lan.Network().value, lan.Broadcast().value, entries.size()});
      entries.push_back({p, l});
    }
  }
  SweepOverlaps(spans, [&](const Span& cover, const Span& span) {
    const Entry& earlier = entries[std::min(cover.owner, span.owner)];
    const Entry& later = entries[std::max(cover.owner, span.owner)];
    if (earlier.peer == later.peer) return;  // within one peer: CheckLans reports it
    const Peer& peer = fleet.peers[later.peer];
    const Peer& other = fleet.peers[earlier.peer];
    std::string field = "spec.lan[" + std::to_string(later.lan) + "]";
    Error(out, peer, field,
          "lan " + peer.spec.lan[later.lan].ToString() + " overlaps lan " + other.spec.lan[earlier.lan].ToString() +
              " of " + Cite(other, "spec.lan[" + std::to_string(earlier.lan) + "]") + ": agent " +
              Quote(*peer.spec.agent) +
              " cannot send one LAN's internet traffic into two tunnels; set gateway: true on one of them only");
  });
}

// --- Ports the VPS itself needs ----------------------------------------------------------

// The host part of a tunnel endpoint ("vps.example.net:51820" -> "vps.example.net").
std::string_view EndpointHost(const TunnelSpec& spec) {
  std::string_view endpoint = spec.endpoint;
  return endpoint.substr(0, endpoint.find(':'));
}

bool SameHost(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// A forward's DNAT answers before any local service on the VPS (PREROUTING, for local
// destinations): a forward on the WireGuard listen port cuts the tunnel, on the control
// server's port the control channel, on tcp/22 the VPS's own SSH.
void CheckHostPorts(const FleetIndex& index, const ValidationContext& context, Diagnostics& out) {
  const Fleet& fleet = index.fleet();
  std::unordered_map<std::string_view, std::vector<const Tunnel*>> tunnels_by_agent;
  for (const Tunnel& tunnel : fleet.tunnels) tunnels_by_agent[tunnel.spec.agent].push_back(&tunnel);
  for (size_t f = 0; f < fleet.forwards.size(); ++f) {
    size_t t = index.ForwardTunnel(f);
    if (t == kNone) continue;
    const PortForward& forward = fleet.forwards[f];
    const Tunnel& tunnel = fleet.tunnels[t];
    const std::string field = PortsField(forward);
    const std::string via_template =
        forward.spec.template_name ? " (template " + Quote(*forward.spec.template_name) + ")" : std::string();
    for (const PortSet& set : ForwardPortSets(index.templates(), forward)) {
      for (Protocol protocol : ClaimedProtocols(set.protocol)) {
        const std::string protocol_name(ProtocolName(protocol));
        for (const PortRange& range : set.ranges) {
          auto covers = [&](uint16_t port) { return range.first <= port && port <= range.last; };
          // "tcp 22 (template "ssh") is WHAT" or "tcp 20-23 includes tcp 22, WHAT".
          auto clash = [&](uint16_t port, const std::string& what) {
            std::string claim = protocol_name + " " + range.ToString() + via_template;
            if (range.IsSingle()) return claim + " is " + what;
            return claim + " includes " + protocol_name + " " + std::to_string(port) + ", " + what;
          };
          if (protocol == Protocol::kUdp) {
            for (const Tunnel* served : tunnels_by_agent[tunnel.spec.agent]) {
              if (!covers(served->spec.listen_port)) continue;
              Error(out, forward, field,
                    clash(served->spec.listen_port, "the WireGuard listenPort of " + Cite(*served, "spec.listenPort") +
                                                        " on agent " + Quote(tunnel.spec.agent)) +
                        ": forwarding it would cut the tunnel; use another port");
            }
            continue;
          }
          if (context.control && covers(context.control->port)) {
            const ControlServer& control = *context.control;
            const std::string server =
                "the port of the control server " + Quote(control.host + ":" + std::to_string(control.port));
            if (SameHost(EndpointHost(tunnel.spec), control.host)) {
              Error(out, forward, field,
                    clash(control.port, server + ", which runs on the VPS of Tunnel/" + tunnel.metadata.name) +
                        ": forwarding it would cut every agent's control channel; use another port");
            } else {
              Warn(out, forward, field,
                   clash(control.port, server) + ": if that server runs on the VPS of Tunnel/" + tunnel.metadata.name +
                       " (" + Quote(EndpointHost(tunnel.spec)) + "), this forward cuts the control channel");
            }
          }
          if (covers(kHostSshPort) && forward.spec.host_port != HostPort::kAllow) {
            Error(out, forward, field,
                  clash(kHostSshPort, "the SSH port of the VPS of Tunnel/" + tunnel.metadata.name) +
                      ": forwarding it takes SSH to the VPS away; forward another public port to it (ports: "
                      "\"2222\", to.port: 22), or move the VPS's sshd elsewhere and set hostPort: allow");
          }
        }
      }
    }
  }
}

// --- Unmanaged peers ---------------------------------------------------------------------

void CheckPublicKeys(const FleetIndex& index, Diagnostics& out) {
  const Fleet& fleet = index.fleet();
  std::unordered_map<std::string, size_t> first_by_key;  // tunnel index + key -> peer
  for (size_t p = 0; p < fleet.peers.size(); ++p) {
    const Peer& peer = fleet.peers[p];
    if (!peer.spec.public_key || index.PeerTunnel(p) == kNone) continue;
    std::string key = peer.spec.public_key->ToBase64();
    auto [first, inserted] = first_by_key.emplace(PairKey(std::to_string(index.PeerTunnel(p)), key), p);
    if (inserted) continue;
    Error(out, peer, "spec.publicKey",
          "publicKey " + Quote(key) + " is already used by " + Cite(fleet.peers[first->second], "spec.publicKey") +
              " on Tunnel/" + peer.spec.tunnel);
  }
}

// An agent's certificate fixes its mode: a client-enrolled agent cannot serve a tunnel.
void CheckEnrolledModes(const Fleet& fleet, const ValidationContext& context, Diagnostics& out) {
  if (context.enrolled.empty()) return;
  auto mode_of = [&](const std::string& agent) -> std::optional<EnrolledMode> {
    auto found = context.enrolled.find(agent);
    if (found == context.enrolled.end()) return std::nullopt;
    return found->second;
  };
  for (const Tunnel& tunnel : fleet.tunnels) {
    if (mode_of(tunnel.spec.agent) != EnrolledMode::kClient) continue;
    Error(out, tunnel, "spec.agent",
          "agent " + Quote(tunnel.spec.agent) + " is enrolled as a client, but " + NameOf(tunnel) +
              " needs it as its server; enroll it as a server (`wwctl agent delete " + tunnel.spec.agent +
              "`, then `wwctl token create --type server --name " + tunnel.spec.agent + "`) or name another agent");
  }
  std::set<std::string> servers;
  for (const Tunnel& tunnel : fleet.tunnels) servers.insert(tunnel.spec.agent);
  // A server agent may also join another tunnel as a client (a hub); one that serves nothing
  // was enrolled for the wrong job.
  for (const Peer& peer : fleet.peers) {
    if (!peer.spec.agent || servers.contains(*peer.spec.agent) || mode_of(*peer.spec.agent) != EnrolledMode::kServer) {
      continue;
    }
    Error(out, peer, "spec.agent",
          "agent " + Quote(*peer.spec.agent) + " is enrolled as a server, but " + NameOf(peer) +
              " needs it as a client of Tunnel/" + peer.spec.tunnel + "; enroll it as a client (`wwctl agent delete " +
              *peer.spec.agent + "`, then `wwctl token create --type client --name " + *peer.spec.agent +
              "`) or name another agent");
  }
}

}  // namespace

Diagnostics ValidateFleet(const Fleet& fleet, const ValidationContext& context) {
  return ValidateFleet(fleet, {}, context);
}

Diagnostics ValidateFleet(const Fleet& fleet, const Diagnostics& load_diagnostics, const ValidationContext& context) {
  Diagnostics out;
  LoadGaps gaps(load_diagnostics);
  FleetIndex index(fleet, gaps);
  CheckUniqueNames(fleet.tunnels, out);
  CheckUniqueNames(fleet.peers, out);
  CheckUniqueNames(fleet.forwards, out);
  CheckUniqueNames(fleet.templates, out);
  CheckBuiltinTemplateNames(fleet, out);
  CheckTemplateSets(fleet, out);
  CheckPeerReferences(index, out);
  CheckForwardReferences(index, out);
  CheckPeerAddresses(index, out);
  CheckLans(index, out);
  CheckPeerAgents(index, out);
  CheckEnrolledModes(fleet, context, out);
  CheckInterfaces(index, out);
  CheckListenPorts(fleet, out);
  CheckAgentNetworks(index, out);
  CheckGatewayLans(index, out);
  CheckPublicKeys(index, out);
  CheckForwardPorts(index, out);
  CheckRemaps(index, out);
  CheckForwardTargets(index, out);
  CheckHostPorts(index, context, out);
  SortDiagnostics(out);
  return out;
}

LoadResult LoadAndValidateFleet(const std::vector<SourceFile>& files, const LoadOptions& options,
                                const ValidationContext& context) {
  LoadResult result = LoadFleet(files, options);
  Diagnostics semantic = ValidateFleet(result.fleet, result.diagnostics, context);
  result.diagnostics.insert(result.diagnostics.end(), semantic.begin(), semantic.end());
  SortDiagnostics(result.diagnostics);
  return result;
}

}  // namespace ww
