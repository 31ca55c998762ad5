#pragma once
// IPAM: tunnel addresses for peers that do not pin one. Deterministic and stable: it takes
// the previous allocations as input, so adding or removing one peer never moves another.

#include <string>
#include <vector>

#include "schema/model.h"

namespace ww {

struct Allocation {
  std::string tunnel;
  std::string peer;
  Ipv4Address address;
  friend bool operator==(const Allocation&, const Allocation&) = default;
};

// Sorted by (tunnel, peer).
using Allocations = std::vector<Allocation>;

// Returns an address for every peer of every tunnel in `fleet`:
//  1. a peer's explicit `address` wins;
//  2. else its previous allocation, if still inside the tunnel network, usable and not taken;
//  3. else the lowest free host address (skipping network, broadcast and the server's first
//     host), peers taken in name order.
// A tunnel whose network is full leaves its remaining peers out and says so.
// REQUIRES: the fleet passed ValidateFleet's address checks.
struct AllocationResult {
  Allocations allocations;
  Diagnostics diagnostics;  // "network 10.0.0.0/30 is full" per peer left out
};
AllocationResult AllocateAddresses(const Fleet& fleet, const Allocations& previous);

// The server's address in a tunnel network: the first host.
Ipv4Address ServerAddress(const Ipv4Cidr& network);

}  // namespace ww
