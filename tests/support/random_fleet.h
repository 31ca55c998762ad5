#pragma once
// Seeded random fleets for property tests and the benchmark. Every fleet RandomFleet
// returns passes ValidateFleet with no errors and mixes what real fleets contain: managed
// and unmanaged peers, gateway peers with LANs, pinned and allocated addresses, template,
// range, list and remapped forwards, labels and descriptions with characters YAML must
// quote. The same options and seed always give the same fleet.

#include <cstdint>
#include <map>
#include <string>

#include "schema/model.h"
#include "schema/net.h"

namespace ww::test_support {

struct RandomFleetOptions {
  // Distinct agents the fleet may name: server agents plus client agents. A client agent
  // that gets no peer (fewer peers than clients) is not named. Default: 8.
  int agents = 8;
  // Tunnels, spread round-robin over the server agents (wg0, wg1, ... per server).
  int tunnels = 3;
  // Peers: every client agent joins at least one tunnel, some join several (each with its
  // own interface name); the rest are unmanaged devices with random keys.
  int peers = 20;
  // PortForwards over the tunnels that have a peer to forward to. A tunnel whose ports run
  // out takes no more forwards, so the count can fall short only at absurd densities.
  int forwards = 40;
  // User ServiceTemplates (named "custom-N-...") next to the built-in ones. Default: 2.
  int templates = 2;
  // Agents that run tunnels. 0 = agents / 10, at least 1, at most `tunnels`.
  int server_agents = 0;
  // Managed peers. 0 = one per client agent plus 15% of `peers`, at most `peers`.
  int managed_peers = 0;
};

// REQUIRES: agents >= 1, tunnels >= 1 when peers or forwards > 0, and all tunnel networks
// fit in 10.0.0.0/8 (about 16,000 tunnels of 1,000 peers).
Fleet RandomFleet(const RandomFleetOptions& options, uint64_t seed);

// A distinct random public key for every agent the fleet names (FleetAgents), as
// enrollment would record them.
std::map<std::string, WireguardKey> RandomAgentKeys(const Fleet& fleet, uint64_t seed);

}  // namespace ww::test_support
