// Properties of the plan engine and the wire format on seeded random inputs:
//  - ComputePlan(D, ObservedFromDesired(D)) is empty;
//  - ComputePlan(D, SimulateApply(O, ComputePlan(D, O))) is empty for any observed O;
//  - plans are ordered (additions before removals, groups in the documented order);
//  - AgentConfig, ObservedState and Plan survive a JSON round trip.
// Inputs: a small AgentConfig generator below (with hand-made drift on the host side), and
// whole fleets from tests/support/random_fleet.h through IPAM and render.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "schema/ipam.h"
#include "schema/plan.h"
#include "schema/render.h"
#include "schema/wire_json.h"
#include "tests/support/random_fleet.h"

using namespace ww;

namespace {

// Seeded random AgentConfigs and host states. Desired configs are valid in the ways the
// plan engine relies on: unique interface names, unique peer keys and allowed IPs per
// interface, unique rules per chain, unique chain ids and sysctl keys.
class Generator {
 public:
  explicit Generator(uint64_t seed) : random_(seed) {}

  int Uniform(int low, int high) { return std::uniform_int_distribution<int>(low, high)(random_); }
  bool Chance(double probability) { return std::bernoulli_distribution(probability)(random_); }
  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    return items[static_cast<size_t>(Uniform(0, static_cast<int>(items.size()) - 1))];
  }

  WireguardKey Key() {
    WireguardKey key;
    for (uint8_t& byte : key.bytes) byte = static_cast<uint8_t>(Uniform(0, 255));
    return key;
  }

  Ipv4Cidr Cidr(uint32_t value, int prefix) { return Ipv4Cidr{{value}, prefix}.Canonical(); }

  std::string Rule(FirewallTable table) {
    int port = Uniform(1, 65535);
    switch (table) {
      case FirewallTable::kNat:
        return "-p tcp -m tcp --dport " + std::to_string(port) + " -j DNAT --to-destination 10.77.0." +
               std::to_string(Uniform(2, 254)) + ":" + std::to_string(port);
      case FirewallTable::kFilter:
        return "-d 10.77.0." + std::to_string(Uniform(2, 254)) + "/32 -p udp -m udp --dport " + std::to_string(port) +
               " -j ACCEPT";
      case FirewallTable::kMangle:
        return "-i wg" + std::to_string(Uniform(0, 3)) + " -j CONNMARK --set-xmark 0x" + std::to_string(port) +
               "/0xffffffff";
    }
    return "";
  }

  std::vector<std::string> UniqueRules(FirewallTable table, int count) {
    std::vector<std::string> rules;
    while (static_cast<int>(rules.size()) < count) {
      std::string rule = Rule(table);
      if (std::find(rules.begin(), rules.end(), rule) == rules.end()) rules.push_back(rule);
    }
    return rules;
  }

  AgentConfig Config() {
    AgentConfig config;
    config.agent = "agent-" + std::to_string(Uniform(0, 999));
    int interfaces = Uniform(0, 3);
    std::vector<int> numbers = {0, 1, 2, 3, 4, 5, 6};
    std::shuffle(numbers.begin(), numbers.end(), random_);
    std::vector<int> lan_numbers(200);
    for (int i = 0; i < 200; ++i) lan_numbers[static_cast<size_t>(i)] = i;
    std::shuffle(lan_numbers.begin(), lan_numbers.end(), random_);
    size_t next_lan = 0;
    for (int i = 0; i < interfaces; ++i) {
      WireguardInterface interface;
      int number = numbers[static_cast<size_t>(i)];
      interface.name = "wg" + std::to_string(number);
      interface.tunnel = "tunnel-" + std::to_string(number);
      interface.role = Chance(0.5) ? InterfaceRole::kServer : InterfaceRole::kClient;
      uint32_t network = (10u << 24) | (static_cast<uint32_t>(number) << 16);
      interface.address = Ipv4Cidr{{network | 1}, 24};
      interface.listen_port = Chance(0.7) ? static_cast<uint16_t>(51820 + number) : 0;
      interface.mtu = Pick(std::vector<int>{1280, 1380, 1420});
      interface.fwmark = Chance(0.3) ? static_cast<uint32_t>(Uniform(1, 0xffff)) : 0;
      interface.public_key = Key();
      int peers = Uniform(0, 8);
      for (int p = 0; p < peers; ++p) {
        WireguardPeer peer;
        peer.name = "peer-" + std::to_string(p);
        peer.public_key = Key();
        int endpoint = Uniform(0, 2);
        if (endpoint == 1) peer.endpoint = "203.0.113." + std::to_string(Uniform(1, 254)) + ":51820";
        if (endpoint == 2) peer.endpoint = "vpn-" + std::to_string(p) + ".example.com:51820";
        peer.allowed_ips.push_back(Cidr(network | static_cast<uint32_t>(p + 2), 32));
        if (Chance(0.4) && next_lan < lan_numbers.size()) {
          Ipv4Cidr lan = Cidr((192u << 24) | (168u << 16) | (static_cast<uint32_t>(lan_numbers[next_lan++]) << 8), 24);
          peer.allowed_ips.push_back(lan);
          if (Chance(0.7)) {
            config.routes.push_back({lan, interface.name, std::nullopt, Chance(0.5) ? kMainTable : 100 + static_cast<uint32_t>(number)});
          }
        }
        std::sort(peer.allowed_ips.begin(), peer.allowed_ips.end());
        peer.persistent_keepalive = Chance(0.5) ? 25 : 0;
        interface.peers.push_back(peer);
      }
      std::sort(interface.peers.begin(), interface.peers.end(),
                [](const WireguardPeer& a, const WireguardPeer& b) { return a.public_key < b.public_key; });
      config.interfaces.push_back(interface);
      if (Chance(0.5)) config.sysctls.push_back({"net.ipv4.conf." + interface.name + ".rp_filter", "0"});
    }
    std::sort(config.interfaces.begin(), config.interfaces.end(),
              [](const WireguardInterface& a, const WireguardInterface& b) { return a.name < b.name; });
    if (Chance(0.6)) config.sysctls.insert(config.sysctls.begin(), {"net.ipv4.ip_forward", "1"});

    int rules = Uniform(0, 3);
    for (int i = 0; i < rules; ++i) {
      RoutingRule rule;
      rule.priority = kRulePriorityFirst + static_cast<uint32_t>(i);
      if (Chance(0.5)) rule.from = Cidr((192u << 24) | (168u << 16) | (static_cast<uint32_t>(Uniform(0, 255)) << 8), 24);
      if (Chance(0.3)) rule.to = Cidr(static_cast<uint32_t>(Uniform(1, 200)) << 24, 8);
      rule.fwmark = Chance(0.5) ? 0x57 : 0;
      rule.table = Chance(0.5) ? kMainTable : 100 + static_cast<uint32_t>(i);
      config.rules.push_back(rule);
    }

    struct ChainSpec {
      FirewallTable table;
      const char* name;
      const char* builtin;
    };
    const std::vector<ChainSpec> chains = {
        {FirewallTable::kNat, "WIREWARP-PREROUTING", "PREROUTING"},
        {FirewallTable::kNat, "WIREWARP-POSTROUTING", "POSTROUTING"},
        {FirewallTable::kFilter, "WIREWARP-FORWARD", "FORWARD"},
        {FirewallTable::kMangle, "WIREWARP-MANGLE", "PREROUTING"},
    };
    for (const ChainSpec& spec : chains) {
      if (!Chance(0.6)) continue;
      config.chains.push_back({spec.table, spec.name, UniqueRules(spec.table, Uniform(0, 12))});
      if (Chance(0.9)) config.jumps.push_back({spec.table, spec.builtin, std::string("-j ") + spec.name});
    }
    if (Chance(0.2)) config.notices.push_back("forward \"web\" masquerades: the service sees 10.77.0.1");
    return config;
  }

  // Hand-made drift on a host: the kinds of change a person, a reboot or a crash leaves.
  void Drift(ObservedState& observed, int changes) {
    for (int i = 0; i < changes; ++i) DriftOnce(observed);
  }

  void DriftOnce(ObservedState& observed) {
    switch (Uniform(0, 21)) {
      case 0:  // a deleted peer
        if (ObservedInterface* interface = AnyInterface(observed); interface && !interface->peers.empty()) {
          interface->peers.erase(interface->peers.begin() + Index(interface->peers));
        }
        break;
      case 1:  // an extra peer, possibly claiming a desired peer's address
        if (ObservedInterface* interface = AnyInterface(observed)) {
          uint32_t address = (10u << 24) | (static_cast<uint32_t>(Uniform(0, 6)) << 16) | static_cast<uint32_t>(Uniform(2, 12));
          interface->peers.push_back({Key(), Chance(0.5) ? "198.51.100.9:1234" : "", {Cidr(address, 32)}, 25, 1700000000, 10, 20});
        }
        break;
      case 2:  // allowed IPs changed
        if (ObservedPeer* peer = AnyPeer(observed)) {
          if (!peer->allowed_ips.empty() && Chance(0.5)) {
            peer->allowed_ips.pop_back();
          } else {
            peer->allowed_ips.push_back(Cidr((172u << 24) | (16u << 16) | static_cast<uint32_t>(Uniform(0, 255)), 32));
          }
        }
        break;
      case 3:  // keepalive or endpoint changed
        if (ObservedPeer* peer = AnyPeer(observed)) {
          if (Chance(0.5)) {
            peer->persistent_keepalive = peer->persistent_keepalive == 0 ? 15 : 0;
          } else {
            peer->endpoint = "198.51.100." + std::to_string(Uniform(1, 254)) + ":" + std::to_string(Uniform(1024, 65535));
          }
        }
        break;
      case 4:  // a changed or missing key
        if (ObservedInterface* interface = AnyInterface(observed)) {
          if (Chance(0.5)) {
            interface->public_key = Key();
          } else {
            interface->public_key.reset();
          }
        }
        break;
      case 5:  // mtu, link state, port, fwmark
        if (ObservedInterface* interface = AnyInterface(observed)) {
          interface->mtu = Pick(std::vector<int>{1280, 1420, 1500});
          interface->up = Chance(0.5);
          if (Chance(0.3)) interface->listen_port = static_cast<uint16_t>(Uniform(0, 65535));
          if (Chance(0.3)) interface->fwmark = static_cast<uint32_t>(Uniform(0, 3));
        }
        break;
      case 6: {  // an extra interface
        ObservedInterface extra;
        extra.name = "wg" + std::to_string(Uniform(0, 9));
        extra.up = Chance(0.5);
        extra.mtu = 1420;
        if (Chance(0.5)) extra.public_key = Key();
        extra.addresses.push_back(Cidr((10u << 24) | (99u << 16) | 1u, 24));
        if (Chance(0.5)) extra.peers.push_back({Key(), "", {Cidr((10u << 24) | (99u << 16) | 2u, 32)}, 0, 0, 0, 0});
        bool taken = std::any_of(observed.interfaces.begin(), observed.interfaces.end(),
                                 [&](const ObservedInterface& interface) { return interface.name == extra.name; });
        if (!taken) observed.interfaces.push_back(extra);
        break;
      }
      case 7:  // a deleted interface
        if (!observed.interfaces.empty()) observed.interfaces.erase(observed.interfaces.begin() + Index(observed.interfaces));
        break;
      case 8:  // an extra address
        if (ObservedInterface* interface = AnyInterface(observed)) {
          interface->addresses.push_back(Cidr((10u << 24) | (98u << 16) | 1u, 24));
        }
        break;
      case 9:  // a missing address
        if (ObservedInterface* interface = AnyInterface(observed)) interface->addresses.clear();
        break;
      case 10:  // an extra rule inserted into a chain
        if (FirewallChain* chain = AnyChain(observed)) {
          chain->rules.insert(chain->rules.begin() + Uniform(0, static_cast<int>(chain->rules.size())), Rule(chain->table));
        }
        break;
      case 11:  // a deleted chain rule
        if (FirewallChain* chain = AnyChain(observed); chain && !chain->rules.empty()) {
          chain->rules.erase(chain->rules.begin() + Index(chain->rules));
        }
        break;
      case 12:  // a reordered chain
        if (FirewallChain* chain = AnyChain(observed)) std::shuffle(chain->rules.begin(), chain->rules.end(), random_);
        break;
      case 13:  // a duplicated chain rule
        if (FirewallChain* chain = AnyChain(observed); chain && !chain->rules.empty()) {
          chain->rules.push_back(Pick(chain->rules));
        }
        break;
      case 14:  // a deleted or extra chain
        if (!observed.chains.empty() && Chance(0.5)) {
          observed.chains.erase(observed.chains.begin() + Index(observed.chains));
        } else {
          std::string name = "WIREWARP-OLD-" + std::to_string(Uniform(0, 3));
          bool taken = std::any_of(observed.chains.begin(), observed.chains.end(),
                                   [&](const FirewallChain& chain) { return chain.name == name; });
          if (!taken) {
            observed.chains.push_back({FirewallTable::kFilter, name, UniqueRules(FirewallTable::kFilter, Uniform(0, 3))});
            observed.jumps.push_back({FirewallTable::kFilter, "INPUT", "-j " + name});
          }
        }
        break;
      case 15:  // a deleted or duplicated jump
        if (!observed.jumps.empty()) {
          size_t index = Index(observed.jumps);
          if (Chance(0.5)) {
            observed.jumps.erase(observed.jumps.begin() + static_cast<std::ptrdiff_t>(index));
          } else {
            observed.jumps.push_back(observed.jumps[index]);
          }
        }
        break;
      case 16:  // a deleted route
        if (!observed.routes.empty()) observed.routes.erase(observed.routes.begin() + Index(observed.routes));
        break;
      case 17:  // an extra route
        observed.routes.push_back({Cidr((172u << 24) | (static_cast<uint32_t>(Uniform(16, 31)) << 16), 16), "wg0",
                                   std::nullopt, kMainTable});
        break;
      case 18:  // a deleted, duplicated or extra ip rule
        if (!observed.rules.empty() && Chance(0.5)) {
          size_t index = Index(observed.rules);
          if (Chance(0.5)) {
            observed.rules.push_back(observed.rules[index]);
          } else {
            observed.rules.erase(observed.rules.begin() + static_cast<std::ptrdiff_t>(index));
          }
        } else {
          observed.rules.push_back({kRulePriorityLast, std::nullopt, std::nullopt, 0x1, 250});
        }
        break;
      case 19:  // a sysctl changed or unknown
        if (!observed.sysctls.empty() && Chance(0.7)) {
          observed.sysctls[Index(observed.sysctls)].value = "2";
        } else if (!observed.sysctls.empty()) {
          observed.sysctls.erase(observed.sysctls.begin() + Index(observed.sysctls));
        }
        break;
      case 20:  // list order on the host is not a difference
        std::shuffle(observed.interfaces.begin(), observed.interfaces.end(), random_);
        std::shuffle(observed.routes.begin(), observed.routes.end(), random_);
        std::shuffle(observed.jumps.begin(), observed.jumps.end(), random_);
        if (ObservedInterface* interface = AnyInterface(observed)) {
          std::shuffle(interface->peers.begin(), interface->peers.end(), random_);
        }
        break;
      default:  // counters and handshakes move
        if (ObservedPeer* peer = AnyPeer(observed)) {
          peer->rx_bytes += 1000;
          peer->latest_handshake = 1700000000 + Uniform(0, 1000);
        }
        break;
    }
  }

  // An observed state for planning against `desired`: nothing, the desired host with drift,
  // another config's host, or another config's host with drift.
  ObservedState Observed(const AgentConfig& desired) {
    switch (Uniform(0, 3)) {
      case 0:
        return {};
      case 1: {
        ObservedState observed = ObservedFromDesired(desired);
        Drift(observed, Uniform(1, 6));
        return observed;
      }
      case 2:
        return ObservedFromDesired(Config());
      default: {
        ObservedState observed = ObservedFromDesired(Config());
        Drift(observed, Uniform(1, 10));
        return observed;
      }
    }
  }

 private:
  template <typename T>
  std::ptrdiff_t Index(const std::vector<T>& items) {
    return Uniform(0, static_cast<int>(items.size()) - 1);
  }
  ObservedInterface* AnyInterface(ObservedState& observed) {
    return observed.interfaces.empty() ? nullptr : &observed.interfaces[static_cast<size_t>(Index(observed.interfaces))];
  }
  ObservedPeer* AnyPeer(ObservedState& observed) {
    ObservedInterface* interface = AnyInterface(observed);
    if (interface == nullptr || interface->peers.empty()) return nullptr;
    return &interface->peers[static_cast<size_t>(Index(interface->peers))];
  }
  FirewallChain* AnyChain(ObservedState& observed) {
    return observed.chains.empty() ? nullptr : &observed.chains[static_cast<size_t>(Index(observed.chains))];
  }

  std::mt19937_64 random_;
};

std::vector<uint64_t> Seeds(uint64_t count) {
  std::vector<uint64_t> seeds;
  for (uint64_t seed = 1; seed <= count; ++seed) seeds.push_back(seed * 0x9e3779b97f4a7c15ull);
  return seeds;
}

// Groups of the documented order; a plan's ranks never decrease.
int Rank(const Step& step) {
  return std::visit(
      [](const auto& action) {
        using T = std::decay_t<decltype(action)>;
        if constexpr (std::is_same_v<T, CreateInterface> || std::is_same_v<T, ConfigureInterface> ||
                      std::is_same_v<T, SetInterfaceMtu> || std::is_same_v<T, AddInterfaceAddress> ||
                      std::is_same_v<T, SetInterfaceUp>) {
          return 1;
        } else if constexpr (std::is_same_v<T, SetSysctl>) {
          return 2;
        } else if constexpr (std::is_same_v<T, UpsertPeer>) {
          return 3;
        } else if constexpr (std::is_same_v<T, AddRoute>) {
          return 4;
        } else if constexpr (std::is_same_v<T, AddRule>) {
          return 5;
        } else if constexpr (std::is_same_v<T, WriteChain> || std::is_same_v<T, EditChain>) {
          return 6;
        } else if constexpr (std::is_same_v<T, AddJump>) {
          return 7;
        } else if constexpr (std::is_same_v<T, DeleteJump>) {
          return 8;
        } else if constexpr (std::is_same_v<T, DeleteChain>) {
          return 9;
        } else if constexpr (std::is_same_v<T, DeleteRule>) {
          return 10;
        } else if constexpr (std::is_same_v<T, DeleteRoute>) {
          return 11;
        } else if constexpr (std::is_same_v<T, RemovePeer>) {
          return 12;
        } else if constexpr (std::is_same_v<T, RemoveInterfaceAddress>) {
          return 13;
        } else {
          static_assert(std::is_same_v<T, DeleteInterface>);
          return 14;
        }
      },
      step.action);
}

bool IsOrdered(const Plan& plan) {
  return std::is_sorted(plan.steps.begin(), plan.steps.end(),
                        [](const Step& a, const Step& b) { return Rank(a) < Rank(b); });
}

// Removals of peers, interfaces and chains, and key changes, are always marked.
bool MarksRemovals(const Plan& plan) {
  for (const Step& step : plan.steps) {
    bool removes = std::holds_alternative<RemovePeer>(step.action) || std::holds_alternative<DeleteInterface>(step.action) ||
                   std::holds_alternative<DeleteChain>(step.action);
    if (removes && step.destructive != Destructive::kYes) return false;
  }
  return true;
}

// Both plan properties for one desired config and one host.
void CheckConverges(const AgentConfig& desired, const ObservedState& observed) {
  CHECK(ComputePlan(desired, ObservedFromDesired(desired)).empty());
  Plan plan = ComputePlan(desired, observed);
  CHECK(plan == ComputePlan(desired, observed));
  CHECK(IsOrdered(plan));
  CHECK(MarksRemovals(plan));
  ObservedState after = SimulateApply(observed, plan);
  Plan again = ComputePlan(desired, after);
  if (!again.empty()) {
    std::string lines;
    for (const Step& step : again.steps) lines += DescribeStep(step) + "\n";
    CAPTURE(lines);
    CHECK(again.empty());
  }
}

}  // namespace

TEST_CASE("ComputePlan converges on random configs and drifted hosts") {
  for (uint64_t seed : Seeds(400)) {
    CAPTURE(seed);
    Generator generator(seed);
    AgentConfig desired = generator.Config();
    CheckConverges(desired, generator.Observed(desired));
  }
}

TEST_CASE("ComputePlan turns any random host into any random config") {
  for (uint64_t seed : Seeds(100)) {
    CAPTURE(seed);
    Generator generator(seed);
    AgentConfig desired = generator.Config();
    ObservedState observed = ObservedFromDesired(generator.Config());
    generator.Drift(observed, 20);
    CheckConverges(desired, observed);
  }
}

TEST_CASE("A single drift on a converged host gives a small plan that only repairs it") {
  // Whatever one change does, re-planning the repaired host is empty and the plan touches
  // at most a handful of things (never the whole config).
  for (uint64_t seed : Seeds(300)) {
    CAPTURE(seed);
    Generator generator(seed);
    AgentConfig desired = generator.Config();
    ObservedState observed = ObservedFromDesired(desired);
    generator.DriftOnce(observed);
    Plan plan = ComputePlan(desired, observed);
    size_t peers = 0;
    for (const WireguardInterface& interface : desired.interfaces) peers += interface.peers.size();
    // Recreating a deleted interface re-adds its peers; anything else is a few steps.
    CHECK(plan.steps.size() <= 8 + peers);
    CHECK(ComputePlan(desired, SimulateApply(observed, plan)).empty());
  }
}

TEST_CASE("Wire JSON round-trips random configs, hosts and plans") {
  for (uint64_t seed : Seeds(100)) {
    CAPTURE(seed);
    Generator generator(seed);
    AgentConfig desired = generator.Config();
    ObservedState observed = generator.Observed(desired);
    Plan plan = ComputePlan(desired, observed);

    for (JsonStyle style : {JsonStyle::kPretty, JsonStyle::kCompact}) {
      auto config_back = AgentConfigFromJson(AgentConfigToJson(desired, style));
      REQUIRE_MESSAGE(config_back.ok(), config_back.status().ToString());
      CHECK(*config_back == desired);
      auto observed_back = ObservedStateFromJson(ObservedStateToJson(observed, style));
      REQUIRE_MESSAGE(observed_back.ok(), observed_back.status().ToString());
      CHECK(*observed_back == observed);
      auto plan_back = PlanFromJson(PlanToJson(plan, style));
      REQUIRE_MESSAGE(plan_back.ok(), plan_back.status().ToString());
      CHECK(*plan_back == plan);
    }
    // Serialization is deterministic: the same value always gives the same text.
    CHECK(AgentConfigToJson(desired) == AgentConfigToJson(*AgentConfigFromJson(AgentConfigToJson(desired))));
  }
}

TEST_CASE("ComputePlan converges for every agent of random fleets") {
  struct Shape {
    int agents;
    int tunnels;
    int peers;
    int forwards;
  };
  const std::vector<Shape> shapes = {{2, 1, 3, 4}, {8, 3, 20, 40}, {12, 4, 40, 120}, {30, 6, 60, 200}};
  int agents_checked = 0;
  for (uint64_t seed : Seeds(12)) {
    for (const Shape& shape : shapes) {
      CAPTURE(seed);
      CAPTURE(shape.agents);
      test_support::RandomFleetOptions options;
      options.agents = shape.agents;
      options.tunnels = shape.tunnels;
      options.peers = shape.peers;
      options.forwards = shape.forwards;
      Fleet fleet = test_support::RandomFleet(options, seed);
      AllocationResult allocation = AllocateAddresses(fleet, {});
      RenderInput input;
      input.agent_public_keys = test_support::RandomAgentKeys(fleet, seed);
      input.allocations = allocation.allocations;
      auto rendered = RenderAll(fleet, input);
      REQUIRE_MESSAGE(rendered.ok(), rendered.status().ToString());

      Generator generator(seed ^ static_cast<uint64_t>(shape.peers));
      for (const auto& [agent, desired] : *rendered) {
        CAPTURE(agent);
        ++agents_checked;
        CheckConverges(desired, generator.Observed(desired));
        ObservedState drifted = ObservedFromDesired(desired);
        generator.Drift(drifted, 8);
        CheckConverges(desired, drifted);
        auto back = AgentConfigFromJson(AgentConfigToJson(desired));
        REQUIRE_MESSAGE(back.ok(), back.status().ToString());
        CHECK(*back == desired);
      }
    }
  }
  CHECK(agents_checked > 100);
}
