// The agent's policy (schema/config_policy.h) and the firewall grammar it builds on
// (schema/firewall_rule.h): everything render produces passes, and each hostile change to a
// rendered config is refused with the field that carries it.

#include <doctest/doctest.h>

#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "schema/config_policy.h"
#include "schema/firewall_rule.h"
#include "schema/ipam.h"
#include "schema/render.h"
#include "schema/validate.h"
#include "schema/wire_json.h"
#include "tests/support/random_fleet.h"
#include "tests/support/test_values.h"

using namespace ww;
using test_support::Address;
using test_support::Cidr;

namespace {

AgentConfig Example(const std::string& agent) {
  std::ifstream file(std::string(WW_SOURCE_DIR) + "/examples/homelab/rendered/" + agent + ".json", std::ios::binary);
  REQUIRE(file.good());
  std::ostringstream text;
  text << file.rdbuf();
  Result<AgentConfig> config = AgentConfigFromJson(text.str());
  REQUIRE_MESSAGE(config.ok(), config.status().ToString());
  return *config;
}

FirewallChain& ChainOf(AgentConfig& config, FirewallTable table, const std::string& name) {
  for (FirewallChain& chain : config.chains) {
    if (chain.table == table && chain.name == name) return chain;
  }
  config.chains.push_back({table, name, {}});
  return config.chains.back();
}

struct Hostile {
  const char* what;
  const char* agent;  // "vps" (server) or "home-gw" (client)
  std::function<void(AgentConfig&)> change;
  const char* field;  // the message starts with this
};

const std::vector<Hostile>& HostileChanges() {
  static const std::vector<Hostile> changes = {
      {"kernel.core_pattern runs a program as root", "vps",
       [](AgentConfig& c) { c.sysctls.push_back({"kernel.core_pattern", "|/tmp/x %p"}); }, "sysctls[1].key"},
      {"kernel.modprobe", "vps", [](AgentConfig& c) { c.sysctls.insert(c.sysctls.begin(), {"kernel.modprobe", "/tmp/x"}); },
       "sysctls[0].key"},
      {"ip_forward set to something else", "vps", [](AgentConfig& c) { c.sysctls[0].value = "1 2"; }, "sysctls[0].value"},
      {"rp_filter of an interface it does not own", "home-gw",
       [](AgentConfig& c) { c.sysctls[0].key = "net.ipv4.conf.eth0.rp_filter"; }, "sysctls[0].key"},
      {"a default route in main", "vps",
       [](AgentConfig& c) { c.routes.push_back({Cidr("0.0.0.0/0"), "wg0", std::nullopt, kMainTable}); },
       "routes[1].destination"},
      {"half the internet in main (wg-quick's 0/1 trick)", "vps",
       [](AgentConfig& c) { c.routes.push_back({Cidr("0.0.0.0/1"), "wg0", std::nullopt, kMainTable}); },
       "routes[1].destination"},
      {"a route in the kernel's local table", "vps",
       [](AgentConfig& c) { c.routes.push_back({Cidr("192.0.2.0/24"), "wg0", std::nullopt, 255}); }, "routes[1].table"},
      {"a route through a foreign interface", "vps",
       [](AgentConfig& c) { c.routes.push_back({Cidr("192.0.2.0/24"), "eth0", std::nullopt, kMainTable}); },
       "routes[1].device"},
      {"a route through a gateway", "vps",
       [](AgentConfig& c) { c.routes[0].via = Address("192.168.50.1"); }, "routes[0].via"},
      {"a client table route other than its default", "home-gw",
       [](AgentConfig& c) { c.routes[0].destination = Cidr("192.0.2.0/24"); }, "routes[0]"},
      {"a main-table route through a client interface", "home-gw",
       [](AgentConfig& c) { c.routes.push_back({Cidr("198.51.100.0/24"), "wg0", std::nullopt, kMainTable}); },
       "routes[1]"},
      {"a rule at a foreign priority", "home-gw", [](AgentConfig& c) { c.rules[0].priority = 100; }, "rules[0].priority"},
      {"every source into the tunnel table", "home-gw", [](AgentConfig& c) { c.rules[3].from = Cidr("0.0.0.0/0"); },
       "rules[3]"},
      {"a rule into the local table", "home-gw", [](AgentConfig& c) { c.rules[2].table = 255; }, "rules[2]"},
      {"ACCEPT everything from filter INPUT", "vps",
       [](AgentConfig& c) { ChainOf(c, FirewallTable::kFilter, "WIREWARP-INPUT").rules.push_back("-j ACCEPT"); },
       "chains[1].rules[1] (filter WIREWARP-INPUT)"},
      {"ssh opened in INPUT", "vps",
       [](AgentConfig& c) {
         ChainOf(c, FirewallTable::kFilter, "WIREWARP-INPUT").rules[0] = "-p tcp -m tcp --dport 22 -j ACCEPT";
       },
       "chains[1].rules[0] (filter WIREWARP-INPUT)"},
      {"another udp port in INPUT", "vps",
       [](AgentConfig& c) {
         ChainOf(c, FirewallTable::kFilter, "WIREWARP-INPUT").rules[0] = "-p udp -m udp --dport 53 -j ACCEPT";
       },
       "chains[1].rules[0] (filter WIREWARP-INPUT)"},
      {"a DNAT to an outside address", "vps",
       [](AgentConfig& c) {
         ChainOf(c, FirewallTable::kNat, "WIREWARP-PREROUTING").rules[0] =
             "! -i wg0 -p tcp -m tcp --dport 443 -j DNAT --to-destination 203.0.113.9:443";
       },
       "chains[3].rules[0] (nat WIREWARP-PREROUTING)"},
      {"a DNAT of what arrives through the tunnel", "vps",
       [](AgentConfig& c) {
         ChainOf(c, FirewallTable::kNat, "WIREWARP-PREROUTING").rules[0] =
             "-i wg0 -p tcp -m tcp --dport 443 -j DNAT --to-destination 192.168.50.10:443";
       },
       "chains[3].rules[0] (nat WIREWARP-PREROUTING)"},
      {"a nat OUTPUT chain", "vps",
       [](AgentConfig& c) {
         c.chains.push_back({FirewallTable::kNat, "WIREWARP-OUTPUT",
                             {"-p tcp -m tcp --dport 443 -j DNAT --to-destination 192.168.50.10:443"}});
       },
       "chains[5].name"},
      {"a jump from nat OUTPUT", "vps",
       [](AgentConfig& c) { c.jumps.push_back({FirewallTable::kNat, "OUTPUT", "-j WIREWARP-PREROUTING"}); },
       "jumps[5]"},
      {"a jump to an owned chain from another built-in", "vps",
       [](AgentConfig& c) { c.jumps[1].chain = "OUTPUT"; }, "jumps[1]"},
      {"a jump to a foreign chain", "vps",
       [](AgentConfig& c) { ChainOf(c, FirewallTable::kFilter, "WIREWARP-FORWARD").rules.push_back("-j DOCKER-USER"); },
       "chains[0].rules[12] (filter WIREWARP-FORWARD)"},
      {"a DROP target", "vps",
       [](AgentConfig& c) { ChainOf(c, FirewallTable::kFilter, "WIREWARP-FORWARD").rules.push_back("-j DROP"); },
       "chains[0].rules[12] (filter WIREWARP-FORWARD)"},
      {"a match module outside the grammar", "vps",
       [](AgentConfig& c) {
         ChainOf(c, FirewallTable::kFilter, "WIREWARP-FORWARD").rules.push_back("-m owner --uid-owner 0 -j ACCEPT");
       },
       "chains[0].rules[12] (filter WIREWARP-FORWARD)"},
      {"options out of iptables-save's order", "vps",
       [](AgentConfig& c) { ChainOf(c, FirewallTable::kFilter, "WIREWARP-FORWARD").rules[1] = "-o wg0 -i wg0 -j ACCEPT"; },
       "chains[0].rules[1] (filter WIREWARP-FORWARD)"},
      {"a rule that does not print back the same", "vps",
       [](AgentConfig& c) {
         ChainOf(c, FirewallTable::kFilter, "WIREWARP-FORWARD").rules[1] = "-i  wg0 -o wg0 -j ACCEPT";
       },
       "chains[0].rules[1] (filter WIREWARP-FORWARD)"},
      {"a masquerade target in FORWARD's place", "vps",
       [](AgentConfig& c) { ChainOf(c, FirewallTable::kFilter, "WIREWARP-FORWARD").rules[1] = "-i wg0 -j MASQUERADE"; },
       "chains[0].rules[1] (filter WIREWARP-FORWARD)"},
      {"a connection mark outside WireWarp's range", "home-gw",
       [](AgentConfig& c) {
         ChainOf(c, FirewallTable::kMangle, "WIREWARP-PREROUTING").rules[0] =
             "-i wg0 -m conntrack --ctstate NEW -j CONNMARK --set-xmark 0x1/0xffffffff";
       },
       "chains[3].rules[0] (mangle WIREWARP-PREROUTING)"},
      {"an MTU no tunnel has", "vps", [](AgentConfig& c) { c.interfaces[0].mtu = 65536; }, "interfaces[0].mtu"},
      {"a server interface with a fwmark", "vps", [](AgentConfig& c) { c.interfaces[0].fwmark = 1; }, "interfaces[0].fwmark"},
      {"a client fwmark outside WireWarp's range", "home-gw", [](AgentConfig& c) { c.interfaces[0].fwmark = 0x100; },
       "interfaces[0].fwmark"},
  };
  return changes;
}

}  // namespace

TEST_CASE("the rendered examples pass the policy") {
  CHECK(CheckConfigPolicy(Example("vps")).ok());
  CHECK(CheckConfigPolicy(Example("home-gw")).ok());
  CHECK(CheckConfigPolicy(AgentConfig{}).ok());
}

TEST_CASE("every hostile change to a rendered config is refused, naming its field") {
  for (const Hostile& hostile : HostileChanges()) {
    const std::string what = hostile.what;
    CAPTURE(what);
    AgentConfig config = Example(hostile.agent);
    hostile.change(config);
    Status status = CheckConfigPolicy(config);
    REQUIRE_FALSE(status.ok());
    CHECK(status.code() == StatusCode::kInvalidArgument);
    CHECK_MESSAGE(status.message().rfind(std::string(hostile.field) + ": ", 0) == 0, status.message());
  }
}

TEST_CASE("the refusal quotes the bad value and escapes control characters") {
  AgentConfig config = Example("vps");
  config.sysctls.push_back({"kernel.core_pattern\n", "x"});
  Status status = CheckConfigPolicy(config);
  CHECK(status.message() ==
        "sysctls[1].key: \"kernel.core_pattern\\x0a\" is not a key WireWarp sets (net.ipv4.ip_forward, and rp_filter "
        "of its client interfaces) (render never produces this; the agent refuses it)");
}

TEST_CASE("whatever render produces for random fleets passes the policy") {
  int checked = 0;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    CAPTURE(seed);
    test_support::RandomFleetOptions options;
    options.agents = 12;
    options.tunnels = 4;
    options.peers = 40;
    options.forwards = 120;
    Fleet fleet = test_support::RandomFleet(options, seed);
    RenderInput input;
    input.agent_public_keys = test_support::RandomAgentKeys(fleet, seed);
    input.allocations = AllocateAddresses(fleet, {}).allocations;
    input.control_address = Address("198.51.100.7");
    auto rendered = RenderAll(fleet, input);
    REQUIRE_MESSAGE(rendered.ok(), rendered.status().ToString());
    for (const auto& [agent, config] : *rendered) {
      CAPTURE(agent);
      Status status = CheckConfigPolicy(config);
      CHECK_MESSAGE(status.ok(), status.message());
      ++checked;
    }
  }
  CHECK(checked > 100);
}

TEST_CASE("firewall rules of every shape render uses parse and print back the same") {
  const std::vector<std::string> rules = {
      "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
      "-i wg0 -o wg0 -j ACCEPT",
      "-d 192.168.50.11/32 -o wg0 -p udp -m udp --dport 2302:2305 -m conntrack --ctstate DNAT -j ACCEPT",
      "-s 10.77.0.0/24 ! -o wg0 -j MASQUERADE",
      "-s 10.77.0.0/24 -o eth0 -j MASQUERADE",
      "! -i wg0 -p udp -m udp --dport 2302:2305 -j DNAT --to-destination 192.168.50.11:2302-2305",
      "-i eth0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.50.12:80",
      "-o wg0 -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu",
      "-m connmark --mark 0x57570229 -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff",
      "-i wg0 -m conntrack --ctstate NEW -j CONNMARK --set-xmark 0x57570229/0xffffffff",
      "-d 192.168.60.5/32 ! -o wg-home -m connmark --mark 0x57570001 -j MASQUERADE",
      "-m addrtype --dst-type LOCAL -j WIREWARP-PREROUTING",
      "-p udp -m udp --dport 51820 -j ACCEPT",
  };
  for (const std::string& text : rules) {
    CAPTURE(text);
    Result<FirewallRule> rule = ParseFirewallRule(text);
    REQUIRE_MESSAGE(rule.ok(), rule.status().message());
    CHECK(FormatFirewallRule(*rule) == text);
  }
  Result<FirewallRule> dnat = ParseFirewallRule("! -i wg0 -p tcp -m tcp --dport 25565 -j DNAT --to-destination 192.168.50.10:25565");
  REQUIRE(dnat.ok());
  CHECK(dnat->target == FirewallTarget::kDnat);
  CHECK(dnat->in_interface == InterfaceMatch{Negation::kYes, "wg0"});
  CHECK(dnat->dnat_address == Address("192.168.50.10"));
  CHECK(dnat->dnat_ports == PortRange{25565, 25565});
}

TEST_CASE("hostile firewall rule text is refused, quoting the token") {
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"", "firewall rule \"\": end of rule is a match outside WireWarp's rules (or one out of iptables-save's order)"},
      {"-j LOG --log-prefix x", "firewall rule \"-j LOG --log-prefix x\": \"LOG\" is a target outside WireWarp's rules"},
      {"-p icmp -j ACCEPT", "firewall rule \"-p icmp -j ACCEPT\": \"icmp\" is a protocol other than tcp or udp"},
      {"-m udp --dport 53 -j ACCEPT", "firewall rule \"-m udp --dport 53 -j ACCEPT\": \"udp\" is a match module without its -p"},
      {"-p tcp -m tcp --dport 0x16 -j ACCEPT", "firewall rule \"-p tcp -m tcp --dport 0x16 -j ACCEPT\": \"0x16\" is not a port or port range"},
      {"-p tcp -m tcp --dport 30:20 -j ACCEPT", "firewall rule \"-p tcp -m tcp --dport 30:20 -j ACCEPT\": \"30:20\" is not a port or port range"},
      {"-s 10.0.0.1/8 -j ACCEPT", "firewall rule \"-s 10.0.0.1/8 -j ACCEPT\": \"10.0.0.1/8\" is not a canonical CIDR"},
      {"-i eth0\n-A INPUT -j ACCEPT", "firewall rule \"-i eth0\\x0a-A INPUT -j ACCEPT\": \"eth0\\x0a-A\" is not an interface name"},
      {"-j ACCEPT -j DROP", "firewall rule \"-j ACCEPT -j DROP\": \"-j\" is text after the target"},
      {"-j WIREWARP-a;b", "firewall rule \"-j WIREWARP-a;b\": \"WIREWARP-a;b\" is a target outside WireWarp's rules"},
      {"-j DNAT --to-destination 10.0.0.1", "firewall rule \"-j DNAT --to-destination 10.0.0.1\": \"10.0.0.1\" is not ADDRESS:PORT[-PORT]"},
      {"-j CONNMARK --set-xmark 0x1/0xff", "firewall rule \"-j CONNMARK --set-xmark 0x1/0xff\": \"0x1/0xff\" is not MARK/0xffffffff"},
      {"-m connmark --mark 0x0001 -j ACCEPT", "firewall rule \"-m connmark --mark 0x0001 -j ACCEPT\": \"0x0001\" is not a mark (lowercase 0x hex)"},
  };
  for (const auto& [text, message] : refused) {
    CAPTURE(text);
    Result<FirewallRule> rule = ParseFirewallRule(text);
    REQUIRE_FALSE(rule.ok());
    CHECK(rule.status().message() == message);
  }
  CHECK_FALSE(ParseFirewallRule(std::string(600, 'a')).ok());
}

TEST_CASE("validation refuses a lan wider than the policy lets the server route") {
  Fleet fleet;
  Tunnel tunnel;
  tunnel.metadata.name = "home";
  tunnel.spec.agent = "vps";
  tunnel.spec.endpoint = "vps.example.net";
  tunnel.spec.interface = "wg0";
  tunnel.spec.network = Cidr("10.77.0.0/24");
  fleet.tunnels.push_back(tunnel);
  Peer peer;
  peer.metadata.name = "gw";
  peer.spec.tunnel = "home";
  peer.spec.agent = "home-gw";
  peer.spec.interface = "wg0";
  peer.spec.lan = {Cidr("0.0.0.0/0")};
  fleet.peers.push_back(peer);
  std::vector<std::string> lines = test_support::FormatDiagnostics(ValidateFleet(fleet));
  bool found = false;
  for (const std::string& line : lines) {
    found = found || line.find("spec.lan[0]: lan 0.0.0.0/0 is wider than /8") != std::string::npos;
  }
  CHECK_MESSAGE(found, lines.size());
}
