#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "schema/ipam.h"
#include "tests/support/test_values.h"

using namespace ww;

namespace {

using test_support::Address;

Tunnel MakeTunnel(const std::string& name, const char* network) {
  Tunnel tunnel;
  tunnel.metadata.name = name;
  tunnel.spec.agent = "vps-" + name;
  tunnel.spec.endpoint = name + ".example.net";
  tunnel.spec.network = *Ipv4Cidr::Parse(network);
  return tunnel;
}

Peer MakePeer(const std::string& name, const std::string& tunnel, const char* address = nullptr) {
  Peer peer;
  peer.metadata.name = name;
  peer.spec.tunnel = tunnel;
  peer.spec.agent = "agent-" + name;
  if (address != nullptr) peer.spec.address = Address(address);
  peer.origin.file = "peers/" + name + ".yaml";
  peer.origin.mark = {3, 1};
  peer.origin.fields = {{"spec", {7, 3}}, {"spec.tunnel", {8, 11}}};
  return peer;
}

Fleet MakeFleet(const char* network, const std::vector<std::string>& peer_names) {
  Fleet fleet;
  fleet.tunnels.push_back(MakeTunnel("home", network));
  for (const std::string& name : peer_names) fleet.peers.push_back(MakePeer(name, "home"));
  return fleet;
}

Allocations Expect(const std::vector<std::pair<std::string, const char*>>& peers, const std::string& tunnel = "home") {
  Allocations out;
  for (const auto& [name, address] : peers) out.push_back({tunnel, name, Address(address)});
  return out;
}

}  // namespace

TEST_CASE("ServerAddress is the first host of the network") {
  CHECK(ServerAddress(*Ipv4Cidr::Parse("10.77.0.0/24")) == Address("10.77.0.1"));
  CHECK(ServerAddress(*Ipv4Cidr::Parse("10.77.0.9/24")) == Address("10.77.0.1"));  // host bits ignored
  CHECK(ServerAddress(*Ipv4Cidr::Parse("10.77.0.8/30")) == Address("10.77.0.9"));
  CHECK(ServerAddress(*Ipv4Cidr::Parse("10.77.0.8/31")) == Address("10.77.0.8"));
  CHECK(ServerAddress(*Ipv4Cidr::Parse("10.77.0.8/32")) == Address("10.77.0.8"));
}

TEST_CASE("AllocateAddresses hands out the lowest free hosts in peer name order") {
  Fleet fleet = MakeFleet("10.77.0.0/24", {"charlie", "alpha", "bravo"});
  AllocationResult result = AllocateAddresses(fleet, {});
  CHECK(result.diagnostics.empty());
  CHECK(result.allocations == Expect({{"alpha", "10.77.0.2"}, {"bravo", "10.77.0.3"}, {"charlie", "10.77.0.4"}}));
}

TEST_CASE("AllocateAddresses keeps previous addresses when a peer is added") {
  Fleet fleet = MakeFleet("10.77.0.0/24", {"bravo", "charlie", "delta"});
  Allocations first = AllocateAddresses(fleet, {}).allocations;
  REQUIRE(first == Expect({{"bravo", "10.77.0.2"}, {"charlie", "10.77.0.3"}, {"delta", "10.77.0.4"}}));

  // "alpha" sorts first but must not push the others along.
  fleet.peers.push_back(MakePeer("alpha", "home"));
  AllocationResult second = AllocateAddresses(fleet, first);
  CHECK(second.diagnostics.empty());
  CHECK(second.allocations ==
        Expect({{"alpha", "10.77.0.5"}, {"bravo", "10.77.0.2"}, {"charlie", "10.77.0.3"}, {"delta", "10.77.0.4"}}));
}

TEST_CASE("AllocateAddresses keeps the others when a peer is removed, and reuses the hole") {
  Fleet fleet = MakeFleet("10.77.0.0/24", {"alpha", "bravo", "charlie"});
  Allocations first = AllocateAddresses(fleet, {}).allocations;

  fleet.peers.erase(fleet.peers.begin() + 1);  // bravo
  Allocations second = AllocateAddresses(fleet, first).allocations;
  CHECK(second == Expect({{"alpha", "10.77.0.2"}, {"charlie", "10.77.0.4"}}));

  fleet.peers.push_back(MakePeer("zulu", "home"));
  Allocations third = AllocateAddresses(fleet, second).allocations;
  CHECK(third == Expect({{"alpha", "10.77.0.2"}, {"charlie", "10.77.0.4"}, {"zulu", "10.77.0.3"}}));
}

TEST_CASE("AllocateAddresses does not depend on document order") {
  Fleet fleet = MakeFleet("10.77.0.0/24", {"alpha", "bravo", "charlie", "delta", "echo"});
  fleet.peers[3].spec.address = Address("10.77.0.2");
  Allocations previous = Expect({{"echo", "10.77.0.9"}});
  AllocationResult forward = AllocateAddresses(fleet, previous);

  Fleet reversed = fleet;
  std::reverse(reversed.peers.begin(), reversed.peers.end());
  Allocations previous_reversed = previous;
  AllocationResult backward = AllocateAddresses(reversed, previous_reversed);
  CHECK(backward.allocations == forward.allocations);
  CHECK(forward.allocations == Expect({{"alpha", "10.77.0.3"},
                                       {"bravo", "10.77.0.4"},
                                       {"charlie", "10.77.0.5"},
                                       {"delta", "10.77.0.2"},
                                       {"echo", "10.77.0.9"}}));
}

TEST_CASE("An explicit address wins and moves nobody it does not collide with") {
  Fleet fleet = MakeFleet("10.77.0.0/24", {"alpha", "bravo", "charlie"});
  Allocations first = AllocateAddresses(fleet, {}).allocations;

  fleet.peers.push_back(MakePeer("xray", "home", "10.77.0.50"));
  CHECK(AllocateAddresses(fleet, first).allocations ==
        Expect({{"alpha", "10.77.0.2"}, {"bravo", "10.77.0.3"}, {"charlie", "10.77.0.4"}, {"xray", "10.77.0.50"}}));

  // A peer pinning its own address frees the old one and moves nobody else.
  fleet.peers.pop_back();
  fleet.peers[0].spec.address = Address("10.77.0.20");
  CHECK(AllocateAddresses(fleet, first).allocations ==
        Expect({{"alpha", "10.77.0.20"}, {"bravo", "10.77.0.3"}, {"charlie", "10.77.0.4"}}));
}

TEST_CASE("An explicit address taking a previous allocation moves only that previous holder") {
  Fleet fleet = MakeFleet("10.77.0.0/24", {"alpha", "bravo", "charlie", "delta"});
  Allocations first = AllocateAddresses(fleet, {}).allocations;
  REQUIRE(first[1] == Allocation{"home", "bravo", Address("10.77.0.3")});

  fleet.peers.push_back(MakePeer("xray", "home", "10.77.0.3"));
  AllocationResult second = AllocateAddresses(fleet, first);
  CHECK(second.diagnostics.empty());
  CHECK(second.allocations == Expect({{"alpha", "10.77.0.2"},
                                      {"bravo", "10.77.0.6"},
                                      {"charlie", "10.77.0.4"},
                                      {"delta", "10.77.0.5"},
                                      {"xray", "10.77.0.3"}}));
}

TEST_CASE("Previous allocations that are no longer usable are replaced") {
  Fleet fleet = MakeFleet("10.77.0.0/24", {"alpha", "bravo", "charlie", "delta", "echo"});
  Allocations previous = {
      {"home", "alpha", Address("10.88.0.7")},    // outside the network (it was renumbered)
      {"home", "bravo", Address("10.77.0.1")},    // the server's address
      {"home", "charlie", Address("10.77.0.255")},  // broadcast
      {"home", "delta", Address("10.77.0.9")},    // fine
      {"other", "echo", Address("10.77.0.10")},   // another tunnel's allocation does not carry over
  };
  CHECK(AllocateAddresses(fleet, previous).allocations == Expect({{"alpha", "10.77.0.2"},
                                                                  {"bravo", "10.77.0.3"},
                                                                  {"charlie", "10.77.0.4"},
                                                                  {"delta", "10.77.0.9"},
                                                                  {"echo", "10.77.0.5"}}));
}

TEST_CASE("Two peers with the same previous address: the first by name keeps it") {
  Fleet fleet = MakeFleet("10.77.0.0/24", {"bravo", "alpha"});
  Allocations previous = {{"home", "alpha", Address("10.77.0.7")}, {"home", "bravo", Address("10.77.0.7")}};
  CHECK(AllocateAddresses(fleet, previous).allocations == Expect({{"alpha", "10.77.0.7"}, {"bravo", "10.77.0.2"}}));
}

TEST_CASE("A /30 holds one peer - the next is left out with a diagnostic") {
  Fleet fleet = MakeFleet("10.77.0.8/30", {"alpha", "bravo"});
  AllocationResult result = AllocateAddresses(fleet, {});
  CHECK(result.allocations == Expect({{"alpha", "10.77.0.10"}}));
  REQUIRE(result.diagnostics.size() == 1);
  const Diagnostic& diagnostic = result.diagnostics[0];
  CHECK(diagnostic.severity == Severity::kError);
  CHECK(diagnostic.file == "peers/bravo.yaml");
  CHECK(diagnostic.mark == Mark{7, 3});
  CHECK(diagnostic.object == "Peer/bravo");
  CHECK(diagnostic.field == "spec.address");
  CHECK(diagnostic.message ==
        "network 10.77.0.8/30 of Tunnel/home is full: no address left for this peer (widen the tunnel's spec.network)");
}

TEST_CASE("A /29 holds five peers around an explicit one") {
  Fleet fleet = MakeFleet("10.77.0.16/29", {"a", "b", "c", "d", "e", "f"});
  fleet.peers[2].spec.address = Address("10.77.0.19");  // c
  AllocationResult result = AllocateAddresses(fleet, {});
  CHECK(result.allocations == Expect({{"a", "10.77.0.18"},
                                      {"b", "10.77.0.20"},
                                      {"c", "10.77.0.19"},
                                      {"d", "10.77.0.21"},
                                      {"e", "10.77.0.22"}}));
  REQUIRE(result.diagnostics.size() == 1);
  CHECK(result.diagnostics[0].object == "Peer/f");
  CHECK(result.diagnostics[0].message.starts_with("network 10.77.0.16/29 of Tunnel/home is full"));
}

TEST_CASE("A full network with previous allocations keeps them and refuses only the newcomer") {
  Fleet fleet = MakeFleet("10.77.0.8/30", {"bravo"});
  Allocations first = AllocateAddresses(fleet, {}).allocations;
  fleet.peers.push_back(MakePeer("alpha", "home"));
  AllocationResult second = AllocateAddresses(fleet, first);
  CHECK(second.allocations == Expect({{"bravo", "10.77.0.10"}}));
  REQUIRE(second.diagnostics.size() == 1);
  CHECK(second.diagnostics[0].object == "Peer/alpha");
}

TEST_CASE("Tunnels allocate independently and the result is sorted by tunnel then peer") {
  Fleet fleet;
  fleet.tunnels.push_back(MakeTunnel("zeta", "10.9.0.0/24"));
  fleet.tunnels.push_back(MakeTunnel("alpha", "10.8.0.0/24"));
  fleet.peers.push_back(MakePeer("p2", "zeta"));
  fleet.peers.push_back(MakePeer("p1", "alpha"));
  fleet.peers.push_back(MakePeer("p3", "zeta"));
  fleet.peers.push_back(MakePeer("orphan", "missing"));  // validation reports it; IPAM skips it
  AllocationResult result = AllocateAddresses(fleet, {});
  CHECK(result.diagnostics.empty());
  CHECK(result.allocations == Allocations{{"alpha", "p1", Address("10.8.0.2")},
                                          {"zeta", "p2", Address("10.9.0.2")},
                                          {"zeta", "p3", Address("10.9.0.3")}});
}

TEST_CASE("AllocateAddresses is idempotent") {
  Fleet fleet = MakeFleet("10.77.0.0/24", {"delta", "alpha", "charlie", "bravo"});
  fleet.peers[2].spec.address = Address("10.77.0.2");
  Allocations once = AllocateAddresses(fleet, {}).allocations;
  CHECK(once == Expect({{"alpha", "10.77.0.3"}, {"bravo", "10.77.0.4"}, {"charlie", "10.77.0.2"}, {"delta", "10.77.0.5"}}));
  CHECK(AllocateAddresses(fleet, once).allocations == once);
}
