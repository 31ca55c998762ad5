// ComputePlan, DescribeStep and SimulateApply on hand-written configs: exact steps, order,
// destructive marks and the human lines. Random configs are in plan_property_test.cc.

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <variant>
#include <vector>

#include "schema/plan.h"
#include "tests/support/test_values.h"

using namespace ww;

namespace {

using test_support::Key;
using test_support::Cidr;
using test_support::Address;


const std::string kDnat25565 = "-p tcp -m tcp --dport 25565 -j DNAT --to-destination 10.77.0.2:25565";
const std::string kDnat7777 = "-p tcp -m tcp --dport 7777 -j DNAT --to-destination 10.77.0.2:7777";
const std::string kAccept25565 = "-d 10.77.0.2/32 -p tcp -m tcp --dport 25565 -j ACCEPT";

// A tunnel server: one interface with a gateway peer and a phone, a LAN route, a rule,
// a forward's DNAT and FORWARD rules, their jumps and ip_forward.
AgentConfig ServerConfig() {
  AgentConfig config;
  config.agent = "vps";
  WireguardInterface wg0;
  wg0.name = "wg0";
  wg0.tunnel = "home";
  wg0.role = InterfaceRole::kServer;
  wg0.address = Cidr("10.77.0.1/24");
  wg0.listen_port = 51820;
  wg0.mtu = 1420;
  wg0.public_key = Key(1);
  wg0.peers.push_back({"home-gw", Key(2), "", {Cidr("10.77.0.2/32"), Cidr("192.168.50.0/24")}, 0});
  wg0.peers.push_back({"phone", Key(3), "", {Cidr("10.77.0.3/32")}, 0});
  config.interfaces.push_back(wg0);
  config.routes.push_back({Cidr("192.168.50.0/24"), "wg0", std::nullopt, kMainTable});
  config.rules.push_back({10000, Cidr("10.77.0.0/24"), std::nullopt, 0, 100});
  config.chains.push_back({FirewallTable::kFilter, "WIREWARP-FORWARD", {kAccept25565}});
  config.chains.push_back({FirewallTable::kNat, "WIREWARP-PREROUTING", {kDnat25565}});
  config.jumps.push_back({FirewallTable::kFilter, "FORWARD", "-j WIREWARP-FORWARD"});
  config.jumps.push_back({FirewallTable::kNat, "PREROUTING", "-j WIREWARP-PREROUTING"});
  config.sysctls.push_back({"net.ipv4.ip_forward", "1"});
  return config;
}

std::vector<std::string> Describe(const Plan& plan) {
  std::vector<std::string> lines;
  for (const Step& step : plan.steps) lines.push_back(DescribeStep(step));
  return lines;
}

Step NonDestructive(StepAction action) { return {std::move(action), Destructive::kNo}; }
Step DestructiveStep(StepAction action) { return {std::move(action), Destructive::kYes}; }

}  // namespace

TEST_CASE("ComputePlan is empty when nothing is desired or observed") {
  CHECK(ComputePlan(AgentConfig{}, ObservedState{}).empty());
}

TEST_CASE("ComputePlan builds a fresh server in dependency order") {
  AgentConfig config = ServerConfig();
  Plan plan = ComputePlan(config, ObservedState{});
  const WireguardInterface& wg0 = config.interfaces[0];
  Plan expected{{
      NonDestructive(CreateInterface{"wg0", 1420}),
      NonDestructive(ConfigureInterface{"wg0", 51820, 0, Key(1)}),
      NonDestructive(AddInterfaceAddress{"wg0", Cidr("10.77.0.1/24")}),
      NonDestructive(SetInterfaceUp{"wg0"}),
      NonDestructive(SetSysctl{{"net.ipv4.ip_forward", "1"}}),
      NonDestructive(UpsertPeer{"wg0", wg0.peers[0]}),
      NonDestructive(UpsertPeer{"wg0", wg0.peers[1]}),
      NonDestructive(AddRoute{config.routes[0]}),
      NonDestructive(AddRule{config.rules[0]}),
      NonDestructive(WriteChain{config.chains[0]}),
      NonDestructive(WriteChain{config.chains[1]}),
      NonDestructive(AddJump{config.jumps[0]}),
      NonDestructive(AddJump{config.jumps[1]}),
  }};
  CHECK(plan == expected);
  CHECK_FALSE(plan.HasDestructive());
  CHECK(Describe(plan) == std::vector<std::string>{
                              "+ interface wg0 (mtu 1420)",
                              "~ interface wg0: key AQEBAQEB…=, listen port 51820, fwmark 0x0",
                              "+ address 10.77.0.1/24 on wg0",
                              "~ interface wg0: up",
                              "~ sysctl net.ipv4.ip_forward = 1",
                              "+ peer home-gw (AgICAgIC…=) on wg0: allowed 10.77.0.2/32, 192.168.50.0/24",
                              "+ peer phone (AwMDAwMD…=) on wg0: allowed 10.77.0.3/32",
                              "+ route 192.168.50.0/24 dev wg0",
                              "+ rule priority 10000 from 10.77.0.0/24 table 100",
                              "+ chain filter/WIREWARP-FORWARD: write 1 rule",
                              "+ chain nat/WIREWARP-PREROUTING: write 1 rule",
                              "+ jump filter/FORWARD: -j WIREWARP-FORWARD",
                              "+ jump nat/PREROUTING: -j WIREWARP-PREROUTING",
                          });
}

TEST_CASE("ComputePlan is empty on a host that matches the config") {
  AgentConfig config = ServerConfig();
  ObservedState observed = ObservedFromDesired(config);
  CHECK(ComputePlan(config, observed).empty());

  // Counters, handshakes, extra sysctls and list order are not differences.
  observed.interfaces[0].peers[0].rx_bytes = 123456;
  observed.interfaces[0].peers[0].latest_handshake = 1700000000;
  observed.interfaces[0].implementation = WireguardImplementation::kUserspace;
  std::swap(observed.interfaces[0].peers[0], observed.interfaces[0].peers[1]);
  std::swap(observed.chains[0], observed.chains[1]);
  std::swap(observed.jumps[0], observed.jumps[1]);
  observed.sysctls.push_back({"net.ipv4.conf.all.rp_filter", "2"});
  CHECK(ComputePlan(config, observed).empty());
}

TEST_CASE("ObservedFromDesired reports every desired fact") {
  AgentConfig config = ServerConfig();
  config.interfaces[0].peers[1].allowed_ips = {Cidr("10.77.0.9/24"), Cidr("10.77.0.3/32")};
  ObservedState observed = ObservedFromDesired(config);
  REQUIRE(observed.interfaces.size() == 1);
  const ObservedInterface& wg0 = observed.interfaces[0];
  CHECK(wg0.name == "wg0");
  CHECK(wg0.up);
  CHECK(wg0.mtu == 1420);
  CHECK(wg0.addresses == std::vector<Ipv4Cidr>{Cidr("10.77.0.1/24")});
  CHECK(wg0.listen_port == 51820);
  CHECK(wg0.public_key == Key(1));
  REQUIRE(wg0.peers.size() == 2);
  CHECK(wg0.peers[1].allowed_ips == std::vector<Ipv4Cidr>{Cidr("10.77.0.0/24"), Cidr("10.77.0.3/32")});
  CHECK(observed.routes == config.routes);
  CHECK(observed.rules == config.rules);
  CHECK(observed.chains == config.chains);
  CHECK(observed.jumps == config.jumps);
  CHECK(observed.sysctls == config.sysctls);
}

TEST_CASE("ComputePlan configures an interface only for a changed port, fwmark or key") {
  AgentConfig config = ServerConfig();
  ObservedState observed = ObservedFromDesired(config);

  SUBCASE("listen port") {
    observed.interfaces[0].listen_port = 51821;
    CHECK(ComputePlan(config, observed) == Plan{{NonDestructive(ConfigureInterface{"wg0", 51820, 0, Key(1)})}});
  }
  SUBCASE("fwmark") {
    config.interfaces[0].fwmark = 0x57;
    Plan plan = ComputePlan(config, observed);
    CHECK(plan == Plan{{NonDestructive(ConfigureInterface{"wg0", 51820, 0x57, Key(1)})}});
    CHECK(Describe(plan) == std::vector<std::string>{"~ interface wg0: key AQEBAQEB…=, listen port 51820, fwmark 0x57"});
  }
  SUBCASE("no private key yet is not a key change") {
    observed.interfaces[0].public_key.reset();
    CHECK(ComputePlan(config, observed) == Plan{{NonDestructive(ConfigureInterface{"wg0", 51820, 0, Key(1)})}});
  }
  SUBCASE("a different key is destructive") {
    observed.interfaces[0].public_key = Key(9);
    Plan plan = ComputePlan(config, observed);
    CHECK(plan == Plan{{DestructiveStep(ConfigureInterface{"wg0", 51820, 0, Key(1)})}});
    CHECK(plan.HasDestructive());
    CHECK(Describe(plan) ==
          std::vector<std::string>{"~ interface wg0: key AQEBAQEB…=, listen port 51820, fwmark 0x0 [destructive]"});
  }
}

TEST_CASE("ComputePlan fixes mtu, addresses and link state of a present interface") {
  AgentConfig config = ServerConfig();
  ObservedState observed = ObservedFromDesired(config);
  observed.interfaces[0].mtu = 1500;
  observed.interfaces[0].up = false;
  observed.interfaces[0].addresses = {Cidr("10.77.0.1/16"), Cidr("10.99.0.1/24")};
  Plan plan = ComputePlan(config, observed);
  CHECK(plan == Plan{{
                    NonDestructive(SetInterfaceMtu{"wg0", 1420}),
                    NonDestructive(AddInterfaceAddress{"wg0", Cidr("10.77.0.1/24")}),
                    NonDestructive(SetInterfaceUp{"wg0"}),
                    NonDestructive(RemoveInterfaceAddress{"wg0", Cidr("10.77.0.1/16")}),
                    NonDestructive(RemoveInterfaceAddress{"wg0", Cidr("10.99.0.1/24")}),
                }});
  CHECK(Describe(plan) == std::vector<std::string>{
                              "~ interface wg0: mtu 1420",
                              "+ address 10.77.0.1/24 on wg0",
                              "~ interface wg0: up",
                              "- address 10.77.0.1/16 on wg0",
                              "- address 10.99.0.1/24 on wg0",
                          });
}

TEST_CASE("ComputePlan compares allowed IPs as canonical sets") {
  AgentConfig config = ServerConfig();
  ObservedState observed = ObservedFromDesired(config);
  ObservedPeer& gateway = observed.interfaces[0].peers[0];

  SUBCASE("order, host bits and duplicates do not matter") {
    gateway.allowed_ips = {Cidr("192.168.50.7/24"), Cidr("10.77.0.2/32"), Cidr("10.77.0.2/32")};
    CHECK(ComputePlan(config, observed).empty());
  }
  SUBCASE("a missing LAN is an upsert with the full desired peer") {
    gateway.allowed_ips = {Cidr("10.77.0.2/32")};
    CHECK(ComputePlan(config, observed) == Plan{{NonDestructive(UpsertPeer{"wg0", config.interfaces[0].peers[0]})}});
  }
  SUBCASE("a changed keepalive is an upsert") {
    gateway.persistent_keepalive = 25;
    CHECK(ComputePlan(config, observed) == Plan{{NonDestructive(UpsertPeer{"wg0", config.interfaces[0].peers[0]})}});
  }
}

TEST_CASE("ComputePlan compares an IPv4 endpoint with WireGuard's and a host name with the one applied") {
  AgentConfig config = ServerConfig();
  WireguardPeer& desired = config.interfaces[0].peers[0];
  ObservedState observed = ObservedFromDesired(config);
  ObservedPeer& seen = observed.interfaces[0].peers[0];

  SUBCASE("a roaming peer (no desired endpoint) keeps whatever it dialled from") {
    seen.endpoint = "198.51.100.20:40001";
    CHECK(ComputePlan(config, observed).empty());
  }
  SUBCASE("a hostname is resolved by the agent: the observed address is not compared") {
    desired.endpoint = "vpn.example.com:51820";
    seen.endpoint = "203.0.113.5:51820";
    seen.applied_endpoint = "vpn.example.com:51820";
    CHECK(ComputePlan(config, observed).empty());
  }
  SUBCASE("a changed host name sets the peer again, even when both names resolve alike") {
    desired.endpoint = "vps2.example.net:51820";
    seen.endpoint = "203.0.113.5:51820";
    seen.applied_endpoint = "vps.example.net:51820";
    Plan plan = ComputePlan(config, observed);
    CHECK(plan == Plan{{NonDestructive(UpsertPeer{"wg0", desired})}});
    CHECK(Describe(plan) == std::vector<std::string>{
                                "+ peer home-gw (AgICAgIC…=) on wg0: allowed 10.77.0.2/32, 192.168.50.0/24; "
                                "endpoint vps2.example.net:51820"});
    // Applied, the host is converged: the agent records the name it set.
    ObservedState after = SimulateApply(observed, plan);
    CHECK(after.interfaces[0].peers[0].applied_endpoint == "vps2.example.net:51820");
    CHECK(ComputePlan(config, after).empty());
  }
  SUBCASE("a host name never applied (no record), or a peer without an endpoint, is set") {
    desired.endpoint = "vps.example.net:51820";
    seen.endpoint = "203.0.113.5:51820";
    seen.applied_endpoint = "";
    CHECK(ComputePlan(config, observed) == Plan{{NonDestructive(UpsertPeer{"wg0", desired})}});
    seen.applied_endpoint = "vps.example.net:51820";
    seen.endpoint = "";
    CHECK(ComputePlan(config, observed) == Plan{{NonDestructive(UpsertPeer{"wg0", desired})}});
  }
  SUBCASE("an address literal must match") {
    desired.endpoint = "203.0.113.5:51820";
    seen.endpoint = "203.0.113.5:51820";
    CHECK(ComputePlan(config, observed).empty());
    seen.endpoint = "203.0.113.6:51820";
    Plan plan = ComputePlan(config, observed);
    CHECK(plan == Plan{{NonDestructive(UpsertPeer{"wg0", desired})}});
    CHECK(Describe(plan) == std::vector<std::string>{
                                "+ peer home-gw (AgICAgIC…=) on wg0: allowed 10.77.0.2/32, 192.168.50.0/24; "
                                "endpoint 203.0.113.5:51820"});
    seen.endpoint = "";
    CHECK(ComputePlan(config, observed) == Plan{{NonDestructive(UpsertPeer{"wg0", desired})}});
  }
}

TEST_CASE("ComputePlan adds new peers first and removes unknown peers last") {
  AgentConfig config = ServerConfig();
  ObservedState observed = ObservedFromDesired(config);
  // The phone was re-keyed: the new key is added before the old one is removed.
  config.interfaces[0].peers[1].public_key = Key(4);
  config.interfaces[0].peers[1].persistent_keepalive = 25;
  Plan plan = ComputePlan(config, observed);
  CHECK(plan == Plan{{
                    NonDestructive(UpsertPeer{"wg0", config.interfaces[0].peers[1]}),
                    DestructiveStep(RemovePeer{"wg0", Key(3)}),
                }});
  CHECK(Describe(plan) == std::vector<std::string>{
                              "+ peer phone (BAQEBAQE…=) on wg0: allowed 10.77.0.3/32; keepalive 25s",
                              "- peer (AwMDAwMD…=) on wg0 [destructive]",
                          });
}

TEST_CASE("ComputePlan deletes an interface it no longer wants, after everything else") {
  AgentConfig config = ServerConfig();
  ObservedState observed = ObservedFromDesired(config);
  ObservedInterface old;
  old.name = "wg9";
  old.up = true;
  old.mtu = 1420;
  old.peers.push_back({Key(5), "", {Cidr("10.9.0.2/32")}, 0, 0, 0, 0});
  observed.interfaces.insert(observed.interfaces.begin(), old);
  observed.routes.push_back({Cidr("10.9.9.0/24"), "wg9", std::nullopt, kMainTable});
  Plan plan = ComputePlan(config, observed);
  // The interface's peers go with it: no RemovePeer for wg9.
  CHECK(plan == Plan{{
                    NonDestructive(DeleteRoute{observed.routes.back()}),
                    DestructiveStep(DeleteInterface{"wg9"}),
                }});
  CHECK(Describe(plan) == std::vector<std::string>{"- route 10.9.9.0/24 dev wg9", "- interface wg9 [destructive]"});
}

TEST_CASE("ComputePlan diffs routes and rules as sets and deletes duplicate copies") {
  AgentConfig config = ServerConfig();
  config.routes.push_back({Cidr("192.168.60.0/24"), "eth1", Address("192.168.1.1"), 100});
  ObservedState observed = ObservedFromDesired(config);
  observed.routes.erase(observed.routes.begin() + 1);
  Route stale{Cidr("172.16.0.0/12"), "wg0", std::nullopt, kMainTable};
  observed.routes.push_back(stale);
  RoutingRule duplicate = config.rules[0];
  observed.rules.push_back(duplicate);
  RoutingRule stale_rule{10001, std::nullopt, Cidr("10.0.0.0/8"), 0x57, 101};
  observed.rules.push_back(stale_rule);

  Plan plan = ComputePlan(config, observed);
  CHECK(plan == Plan{{
                    NonDestructive(AddRoute{config.routes[1]}),
                    NonDestructive(DeleteRule{duplicate}),
                    NonDestructive(DeleteRule{stale_rule}),
                    NonDestructive(DeleteRoute{stale}),
                }});
  CHECK(Describe(plan) == std::vector<std::string>{
                              "+ route 192.168.60.0/24 dev eth1 via 192.168.1.1 table 100",
                              "- rule priority 10000 from 10.77.0.0/24 table 100",
                              "- rule priority 10001 to 10.0.0.0/8 fwmark 0x57 table 101",
                              "- route 172.16.0.0/12 dev wg0",
                          });
  CHECK(ComputePlan(config, SimulateApply(observed, plan)).empty());
}

TEST_CASE("ComputePlan edits a chain in place when deleting and appending keeps the order") {
  AgentConfig config = ServerConfig();
  ObservedState observed = ObservedFromDesired(config);
  FirewallChain& nat = config.chains[1];

  SUBCASE("a new forward is appended: not destructive") {
    nat.rules.push_back(kDnat7777);
    Plan plan = ComputePlan(config, observed);
    CHECK(plan == Plan{{NonDestructive(EditChain{FirewallTable::kNat, "WIREWARP-PREROUTING", {}, {kDnat7777}})}});
    CHECK(Describe(plan) == std::vector<std::string>{"~ chain nat/WIREWARP-PREROUTING: -0 +1 rules"});
  }
  SUBCASE("a removed forward is destructive") {
    nat.rules.clear();
    Plan plan = ComputePlan(config, observed);
    CHECK(plan == Plan{{DestructiveStep(EditChain{FirewallTable::kNat, "WIREWARP-PREROUTING", {kDnat25565}, {}})}});
    CHECK(Describe(plan) == std::vector<std::string>{"~ chain nat/WIREWARP-PREROUTING: -1 +0 rules [destructive]"});
  }
  SUBCASE("a changed FORWARD rule is not destructive") {
    config.chains[0].rules = {"-d 10.77.0.2/32 -p udp -m udp --dport 2302 -j ACCEPT"};
    CHECK(ComputePlan(config, observed) ==
          Plan{{NonDestructive(EditChain{FirewallTable::kFilter, "WIREWARP-FORWARD", {kAccept25565},
                                         {"-d 10.77.0.2/32 -p udp -m udp --dport 2302 -j ACCEPT"}})}});
  }
  SUBCASE("rules kept in order, one deleted from the middle, two appended") {
    observed.chains[1].rules = {"-A1", "-X", "-A2"};
    nat.rules = {"-A1", "-A2", "-B1", "-B2"};
    Plan plan = ComputePlan(config, observed);
    CHECK(plan == Plan{{DestructiveStep(EditChain{FirewallTable::kNat, "WIREWARP-PREROUTING", {"-X"}, {"-B1", "-B2"}})}});
    CHECK(Describe(plan) == std::vector<std::string>{"~ chain nat/WIREWARP-PREROUTING: -1 +2 rules [destructive]"});
    CHECK(ComputePlan(config, SimulateApply(observed, plan)).empty());
  }
}

TEST_CASE("ComputePlan deletes a run of rules in place unless a copy comes earlier") {
  AgentConfig config = ServerConfig();
  ObservedState observed = ObservedFromDesired(config);
  config.chains[0].rules = {"-a", "-b"};
  observed.chains[0].rules = {"-a", "-x", "-y", "-b"};
  Plan plan = ComputePlan(config, observed);
  CHECK(plan == Plan{{NonDestructive(EditChain{FirewallTable::kFilter, "WIREWARP-FORWARD", {"-x", "-y"}, {}})}});
  CHECK(ComputePlan(config, SimulateApply(observed, plan)).empty());

  // `iptables -D` would delete the first "-x", which must stay.
  config.chains[0].rules = {"-x", "-a", "-b"};
  observed.chains[0].rules = {"-x", "-a", "-x", "-b"};
  plan = ComputePlan(config, observed);
  CHECK(plan == Plan{{NonDestructive(WriteChain{config.chains[0]})}});
  CHECK(ComputePlan(config, SimulateApply(observed, plan)).empty());
}

TEST_CASE("ComputePlan appends to a chain whose rules are all kept, duplicates included") {
  AgentConfig config = ServerConfig();
  ObservedState observed = ObservedFromDesired(config);
  config.chains[0].rules = {"-a", "-a", "-b"};
  observed.chains[0].rules = {"-a"};
  Plan plan = ComputePlan(config, observed);
  CHECK(plan == Plan{{NonDestructive(EditChain{FirewallTable::kFilter, "WIREWARP-FORWARD", {}, {"-a", "-b"}})}});
  CHECK(ComputePlan(config, SimulateApply(observed, plan)).empty());
}

TEST_CASE("ComputePlan rewrites a chain when an in-place edit cannot give the desired order") {
  AgentConfig config = ServerConfig();
  ObservedState observed = ObservedFromDesired(config);
  FirewallChain& forward = config.chains[0];
  forward.rules = {"-a", "-b", "-c"};

  SUBCASE("reordered") {
    observed.chains[0].rules = {"-b", "-a", "-c"};
  }
  SUBCASE("a rule inserted before kept ones") {
    observed.chains[0].rules = {"-a", "-c"};
  }
  SUBCASE("duplicate observed rules") {
    observed.chains[0].rules = {"-a", "-b", "-c", "-c"};
  }
  SUBCASE("duplicate desired rules") {
    forward.rules = {"-b", "-a", "-b"};
    observed.chains[0].rules = {"-a", "-b"};
  }
  Plan plan = ComputePlan(config, observed);
  CHECK(plan == Plan{{NonDestructive(WriteChain{forward})}});
  CHECK(ComputePlan(config, SimulateApply(observed, plan)).empty());
}

TEST_CASE("ComputePlan marks a rewrite that drops a DNAT rule destructive") {
  AgentConfig config = ServerConfig();
  ObservedState observed = ObservedFromDesired(config);
  observed.chains[1].rules = {kDnat7777, kDnat25565};
  Plan plan = ComputePlan(config, observed);
  // Keeping 25565 but dropping 7777 in front of it: deleting 7777 is an edit.
  CHECK(plan == Plan{{DestructiveStep(EditChain{FirewallTable::kNat, "WIREWARP-PREROUTING", {kDnat7777}, {}})}});
  config.chains[1].rules = {kDnat25565, "-p udp -m udp --dport 1 -j DNAT --to-destination 10.77.0.2:1"};
  observed.chains[1].rules = {kDnat7777, "-p udp -m udp --dport 1 -j DNAT --to-destination 10.77.0.2:1", kDnat25565};
  CHECK(ComputePlan(config, observed) == Plan{{DestructiveStep(WriteChain{config.chains[1]})}});
}

TEST_CASE("ComputePlan orders jumps after their chains and deletes them before their chains") {
  AgentConfig config = ServerConfig();
  ObservedState observed = ObservedFromDesired(config);
  FirewallChain old_chain{FirewallTable::kMangle, "WIREWARP-MSS", {"-p tcp -j TCPMSS --clamp-mss-to-pmtu"}};
  FirewallJump old_jump{FirewallTable::kMangle, "FORWARD", "-j WIREWARP-MSS"};
  observed.chains.push_back(old_chain);
  observed.jumps.push_back(old_jump);
  observed.jumps.push_back(config.jumps[0]);  // a second copy of a desired jump
  FirewallChain new_chain{FirewallTable::kMangle, "WIREWARP-CONNMARK", {"-i wg0 -j CONNMARK --set-mark 0x57"}};
  FirewallJump new_jump{FirewallTable::kMangle, "PREROUTING", "-j WIREWARP-CONNMARK"};
  config.chains.push_back(new_chain);
  config.jumps.push_back(new_jump);

  Plan plan = ComputePlan(config, observed);
  CHECK(plan == Plan{{
                    NonDestructive(WriteChain{new_chain}),
                    NonDestructive(AddJump{new_jump}),
                    NonDestructive(DeleteJump{config.jumps[0]}),
                    NonDestructive(DeleteJump{old_jump}),
                    DestructiveStep(DeleteChain{FirewallTable::kMangle, "WIREWARP-MSS"}),
                }});
  CHECK(Describe(plan) == std::vector<std::string>{
                              "+ chain mangle/WIREWARP-CONNMARK: write 1 rule",
                              "+ jump mangle/PREROUTING: -j WIREWARP-CONNMARK",
                              "- jump filter/FORWARD: -j WIREWARP-FORWARD",
                              "- jump mangle/FORWARD: -j WIREWARP-MSS",
                              "- chain mangle/WIREWARP-MSS [destructive]",
                          });
  ObservedState after = SimulateApply(observed, plan);
  CHECK(ComputePlan(config, after).empty());
  CHECK(std::count(after.jumps.begin(), after.jumps.end(), config.jumps[0]) == 1);
}

TEST_CASE("ComputePlan sets missing or different sysctls and never reverts others") {
  AgentConfig config = ServerConfig();
  config.sysctls.push_back({"net.ipv4.conf.wg0.rp_filter", "0"});
  ObservedState observed = ObservedFromDesired(config);
  observed.sysctls = {{"net.ipv4.ip_forward", "0"}, {"net.ipv4.conf.all.rp_filter", "1"}};
  Plan plan = ComputePlan(config, observed);
  CHECK(plan == Plan{{
                    NonDestructive(SetSysctl{{"net.ipv4.ip_forward", "1"}}),
                    NonDestructive(SetSysctl{{"net.ipv4.conf.wg0.rp_filter", "0"}}),
                }});
  CHECK(Describe(plan)[1] == "~ sysctl net.ipv4.conf.wg0.rp_filter = 0");
}

TEST_CASE("ComputePlan sets a per-interface sysctl after creating the interface") {
  AgentConfig config = ServerConfig();
  config.sysctls = {{"net.ipv4.conf.wg0.rp_filter", "0"}};
  Plan plan = ComputePlan(config, ObservedState{});
  size_t create = 0;
  size_t sysctl = 0;
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    if (std::holds_alternative<CreateInterface>(plan.steps[i].action)) create = i;
    if (std::holds_alternative<SetSysctl>(plan.steps[i].action)) sysctl = i;
  }
  CHECK(create == 0);
  CHECK(sysctl == 4);
}

TEST_CASE("ComputePlan runs every removal after every addition, in reverse dependency order") {
  AgentConfig config = ServerConfig();
  ObservedState observed;
  // Everything desired is missing, and one of every owned thing is extra.
  ObservedInterface old;
  old.name = "wg5";
  observed.interfaces.push_back(old);
  ObservedInterface wg0;
  wg0.name = "wg0";
  wg0.mtu = 1420;
  wg0.up = true;
  wg0.listen_port = 51820;
  wg0.public_key = Key(1);
  wg0.addresses = {Cidr("10.77.0.1/24"), Cidr("10.66.0.1/24")};
  wg0.peers.push_back({Key(9), "", {}, 0, 0, 0, 0});
  observed.interfaces.push_back(wg0);
  observed.routes.push_back({Cidr("10.1.0.0/16"), "wg0", std::nullopt, kMainTable});
  observed.rules.push_back({10500, std::nullopt, std::nullopt, 0x1, 200});
  observed.chains.push_back({FirewallTable::kFilter, "WIREWARP-OLD", {}});
  observed.jumps.push_back({FirewallTable::kFilter, "INPUT", "-j WIREWARP-OLD"});

  Plan plan = ComputePlan(config, observed);
  std::vector<size_t> kinds;
  for (const Step& step : plan.steps) kinds.push_back(step.action.index());
  auto index_of = [](StepAction action) { return action.index(); };
  std::vector<size_t> expected = {
      index_of(SetSysctl{}),       index_of(UpsertPeer{}),       index_of(UpsertPeer{}),
      index_of(AddRoute{}),        index_of(AddRule{}),          index_of(WriteChain{}),
      index_of(WriteChain{}),      index_of(AddJump{}),          index_of(AddJump{}),
      index_of(DeleteJump{}),      index_of(DeleteChain{}),      index_of(DeleteRule{}),
      index_of(DeleteRoute{}),     index_of(RemovePeer{}),       index_of(RemoveInterfaceAddress{}),
      index_of(DeleteInterface{}),
  };
  CHECK(kinds == expected);
  ObservedState after = SimulateApply(observed, plan);
  CHECK(ComputePlan(config, after).empty());
  CHECK(after == ObservedFromDesired(config));
}

TEST_CASE("DescribeStep escapes control characters from the host") {
  Step step = NonDestructive(AddJump{{FirewallTable::kFilter, "FORWARD", "-j X\x1b[2J\n"}});
  CHECK(DescribeStep(step) == "+ jump filter/FORWARD: -j X\\x1b[2J\\x0a");
  CHECK(DescribeStep(NonDestructive(CreateInterface{"wg\x07", 1420})) == "+ interface wg\\x07 (mtu 1420)");
}

TEST_CASE("DescribeStep covers the remaining step types") {
  CHECK(DescribeStep(NonDestructive(UpsertPeer{"wg0", {"", Key(2), "vpn.example.com:51820", {}, 0}})) ==
        "+ peer (AgICAgIC…=) on wg0: allowed (none); endpoint vpn.example.com:51820");
  CHECK(DescribeStep(NonDestructive(ConfigureInterface{"wg1", 0, 0, Key(3)})) ==
        "~ interface wg1: key AwMDAwMD…=, listen port random, fwmark 0x0");
  CHECK(DescribeStep(NonDestructive(AddRule{{10001, std::nullopt, std::nullopt, 0x57, kMainTable}})) ==
        "+ rule priority 10001 fwmark 0x57 table main");
  CHECK(DescribeStep(NonDestructive(WriteChain{{FirewallTable::kNat, "WIREWARP-POSTROUTING", {"-a", "-b"}}})) ==
        "+ chain nat/WIREWARP-POSTROUTING: write 2 rules");
}

TEST_CASE("SimulateApply with no steps returns the observed state unchanged") {
  ObservedState observed = ObservedFromDesired(ServerConfig());
  observed.rules.push_back(observed.rules[0]);
  observed.chains[0].rules = {"-b", "-a", "-b"};
  CHECK(SimulateApply(observed, Plan{}) == observed);
}

TEST_CASE("SimulateApply models WireGuard giving an allowed IP to one peer only") {
  ObservedState observed = ObservedFromDesired(ServerConfig());
  // The LAN moves from home-gw to a new peer.
  WireguardPeer office{"office", Key(4), "", {Cidr("10.77.0.4/32"), Cidr("192.168.50.0/24")}, 0};
  ObservedState after = SimulateApply(observed, Plan{{NonDestructive(UpsertPeer{"wg0", office})}});
  REQUIRE(after.interfaces[0].peers.size() == 3);
  CHECK(after.interfaces[0].peers[0].allowed_ips == std::vector<Ipv4Cidr>{Cidr("10.77.0.2/32")});
  CHECK(after.interfaces[0].peers[2].public_key == Key(4));
  CHECK(after.interfaces[0].peers[2].allowed_ips == office.allowed_ips);
}

TEST_CASE("SimulateApply deletes the first copy per deleted rule, as iptables -D does") {
  ObservedState observed;
  observed.chains.push_back({FirewallTable::kFilter, "WIREWARP-X", {"-a", "-b", "-a", "-c", "-a"}});
  ObservedState after = SimulateApply(
      observed, Plan{{NonDestructive(EditChain{FirewallTable::kFilter, "WIREWARP-X", {"-a", "-a", "-c"}, {"-d"}})}});
  CHECK(after.chains[0].rules == std::vector<std::string>{"-b", "-a", "-d"});
}

TEST_CASE("ComputePlan handles a chain of 50,000 forwards with one change as a small edit") {
  AgentConfig config;
  config.agent = "big";
  FirewallChain chain{FirewallTable::kNat, "WIREWARP-PREROUTING", {}};
  for (int i = 0; i < 50000; ++i) {
    chain.rules.push_back("-p tcp -m tcp --dport " + std::to_string(10000 + i) +
                          " -j DNAT --to-destination 10.77.0.2:" + std::to_string(10000 + i));
  }
  config.chains.push_back(chain);
  ObservedState observed = ObservedFromDesired(config);
  std::string removed = config.chains[0].rules[25000];
  config.chains[0].rules.erase(config.chains[0].rules.begin() + 25000);
  config.chains[0].rules.push_back("-p udp -m udp --dport 9 -j DNAT --to-destination 10.77.0.2:9");
  Plan plan = ComputePlan(config, observed);
  CHECK(plan == Plan{{DestructiveStep(EditChain{FirewallTable::kNat, "WIREWARP-PREROUTING", {removed},
                                                {"-p udp -m udp --dport 9 -j DNAT --to-destination 10.77.0.2:9"}})}});
  CHECK(ComputePlan(config, SimulateApply(observed, plan)).empty());
}
