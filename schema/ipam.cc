// IPAM: one pass per tunnel in three rounds (explicit, previous, lowest free), so an
// address only ever moves when its holder's previous address became unusable or an
// explicit address claimed it. See ipam.h for the contract.

#include "schema/ipam.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <utility>

namespace ww {
namespace {

bool IsUsableHost(const Ipv4Cidr& network, Ipv4Address address) {
  if (!network.Contains(address)) return false;
  if (address == ServerAddress(network)) return false;
  if (network.prefix <= 30 && (address == network.Network() || address == network.Broadcast())) return false;
  return true;
}

// The peers of one tunnel that still need an address, handed the lowest free hosts.
void AllocateLowestFree(const Tunnel& tunnel, const std::vector<const Peer*>& waiting, std::set<uint32_t>& taken,
                        AllocationResult& result) {
  const Ipv4Cidr network = tunnel.spec.network.Canonical();
  // Candidates only grow: every host below the cursor is taken or unusable.
  uint64_t cursor = network.Network().value;
  const uint64_t last = network.Broadcast().value;
  for (const Peer* peer : waiting) {
    while (cursor <= last) {
      Ipv4Address candidate{static_cast<uint32_t>(cursor)};
      if (IsUsableHost(network, candidate) && !taken.contains(candidate.value)) break;
      ++cursor;
    }
    if (cursor > last) {
      result.diagnostics.push_back(Diagnostic{
          .severity = Severity::kError,
          .file = peer->origin.file,
          .mark = peer->origin.Find("spec.address"),
          .object = std::string(kKindPeer) + "/" + peer->metadata.name,
          .field = "spec.address",
          .message = "network " + network.ToString() + " of Tunnel/" + tunnel.metadata.name +
                     " is full: no address left for this peer (widen the tunnel's spec.network)",
      });
      continue;
    }
    Ipv4Address address{static_cast<uint32_t>(cursor)};
    taken.insert(address.value);
    result.allocations.push_back({tunnel.metadata.name, peer->metadata.name, address});
  }
}

}  // namespace

Ipv4Address ServerAddress(const Ipv4Cidr& network) {
  // /31 (RFC 3021) and /32 have no network or broadcast address to skip.
  if (network.prefix >= 31) return network.Network();
  return {network.Network().value + 1};
}

AllocationResult AllocateAddresses(const Fleet& fleet, const Allocations& previous) {
  std::map<std::string, const Tunnel*> tunnels;
  for (const Tunnel& tunnel : fleet.tunnels) tunnels.emplace(tunnel.metadata.name, &tunnel);

  // Peers per tunnel in name order; a peer of an unknown tunnel has no network to draw from.
  std::map<std::string, std::map<std::string, const Peer*>> peers_by_tunnel;
  for (const Peer& peer : fleet.peers) {
    if (!tunnels.contains(peer.spec.tunnel)) continue;
    peers_by_tunnel[peer.spec.tunnel].emplace(peer.metadata.name, &peer);
  }

  std::map<std::pair<std::string, std::string>, Ipv4Address> previous_by_peer;
  for (const Allocation& allocation : previous) {
    previous_by_peer.emplace(std::make_pair(allocation.tunnel, allocation.peer), allocation.address);
  }

  AllocationResult result;
  for (const auto& [tunnel_name, peers] : peers_by_tunnel) {
    const Tunnel& tunnel = *tunnels.at(tunnel_name);
    const Ipv4Cidr network = tunnel.spec.network.Canonical();
    std::set<uint32_t> taken;

    // 1. Explicit addresses win.
    for (const auto& [name, peer] : peers) {
      if (!peer->spec.address) continue;
      taken.insert(peer->spec.address->value);
      result.allocations.push_back({tunnel_name, name, *peer->spec.address});
    }
    // 2. Previous allocations stay where they are while still usable and not claimed.
    std::vector<const Peer*> waiting;
    for (const auto& [name, peer] : peers) {
      if (peer->spec.address) continue;
      auto found = previous_by_peer.find({tunnel_name, name});
      if (found != previous_by_peer.end() && IsUsableHost(network, found->second) &&
          !taken.contains(found->second.value)) {
        taken.insert(found->second.value);
        result.allocations.push_back({tunnel_name, name, found->second});
        continue;
      }
      waiting.push_back(peer);
    }
    // 3. Everyone else, in name order, gets the lowest free host.
    AllocateLowestFree(tunnel, waiting, taken, result);
  }

  std::sort(result.allocations.begin(), result.allocations.end(), [](const Allocation& a, const Allocation& b) {
    return std::tie(a.tunnel, a.peer) < std::tie(b.tunnel, b.peer);
  });
  return result;
}

}  // namespace ww
