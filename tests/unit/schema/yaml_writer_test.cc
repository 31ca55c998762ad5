#include "schema/yaml_writer.h"

#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>

#include "schema/loader.h"
#include "schema/render.h"
#include "schema/validate.h"
#include "tests/support/random_fleet.h"
#include "tests/support/test_values.h"

using namespace ww;

namespace {

std::string Describe(const Diagnostics& diagnostics) {
  std::string out;
  for (const Diagnostic& diagnostic : diagnostics) out += FormatDiagnostic(diagnostic) + "\n";
  return out;
}

// Loads `yaml` and requires it to decode without a finding.
Fleet LoadClean(const std::string& yaml) {
  LoadResult loaded = LoadFleet({SourceFile{"fleet.yaml", yaml}});
  INFO(Describe(loaded.diagnostics));
  REQUIRE(loaded.diagnostics.empty());
  return loaded.fleet;
}

using test_support::Address;
using test_support::Cidr;

// One of each kind, touching every optional field once.
Fleet SmallFleet() {
  Fleet fleet;
  Tunnel tunnel;
  tunnel.metadata.name = "vps";
  tunnel.spec.agent = "vps";
  tunnel.spec.endpoint = "vps.example.net:51821";
  tunnel.spec.listen_port = 51821;
  tunnel.spec.network = Cidr("10.77.0.0/24");
  fleet.tunnels.push_back(tunnel);
  tunnel.metadata.name = "second";
  tunnel.metadata.labels = {{"env", "prod"}};
  tunnel.spec.listen_port = 51820;
  tunnel.spec.interface = "wg1";
  tunnel.spec.endpoint = "203.0.113.7";
  tunnel.spec.network = Cidr("10.78.0.0/24");
  tunnel.spec.public_interface = "eth0";
  tunnel.spec.mtu = 1380;
  tunnel.spec.self_heal = false;
  fleet.tunnels.push_back(tunnel);

  Peer gateway;
  gateway.metadata.name = "gw-home";
  gateway.spec.tunnel = "vps";
  gateway.spec.agent = "gw-home";
  gateway.spec.address = Address("10.77.0.2");
  gateway.spec.lan = {Cidr("192.168.1.0/24"), Cidr("172.16.0.0/28")};
  gateway.spec.gateway = true;
  fleet.peers.push_back(gateway);
  Peer phone;
  phone.metadata.name = "phone";
  phone.spec.tunnel = "vps";
  phone.spec.public_key = *WireguardKey::Parse("xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=");
  phone.spec.keepalive = 25;
  fleet.peers.push_back(phone);

  ServiceTemplate game;
  game.metadata.name = "game";
  game.spec.ports = {{Protocol::kUdp, {{2302, 2305}, {27016, 27016}}}, {Protocol::kBoth, {{7777, 7777}}}};
  fleet.templates.push_back(game);

  PortForward web;
  web.metadata.name = "web";
  web.spec.tunnel = "vps";
  web.spec.protocol = Protocol::kTcp;
  web.spec.ports = {{443, 443}};
  web.spec.to.address = Address("192.168.1.10");
  web.spec.to.port = 8443;
  web.spec.to.peer = "gw-home";
  web.spec.description = "Shop: \"staging\" #2";
  fleet.forwards.push_back(web);
  PortForward dayz;
  dayz.metadata.name = "dayz";
  dayz.spec.tunnel = "vps";
  dayz.spec.template_name = "dayz";
  dayz.spec.to.address = Address("10.77.0.2");
  fleet.forwards.push_back(dayz);
  return fleet;
}

}  // namespace

TEST_CASE("YamlString leaves safe text plain and quotes what YAML would misread") {
  CHECK(YamlString("vps-01") == "vps-01");
  CHECK(YamlString("10.0.0.1") == "10.0.0.1");
  CHECK(YamlString("10.0.0.0/24") == "10.0.0.0/24");
  CHECK(YamlString("Bob's game server (survival)") == "Bob's game server (survival)");
  CHECK(YamlString("app.example.org/team") == "app.example.org/team");
  // Booleans and null in YAML 1.1 or 1.2, in any case.
  for (const char* keyword : {"yes", "No", "ON", "off", "y", "N", "true", "False", "null", "NULL"}) {
    CAPTURE(keyword);
    CHECK(YamlString(keyword) == "\"" + std::string(keyword) + "\"");
  }
  // Numbers, dates, sexagesimals and indicators.
  for (const char* text : {"123", "1e3", "0x1F", "0o17", "1.5", ".inf", "2024-05-01", "12:30", "-1", "- dash", "~", "",
                           "#tag", "a: b", "a #b", "a:b", "&anchor", "*alias", "!tag", "@at", "`tick", "%dir", "|", ">",
                           "[list]", "{map}", "a,b", " leading", "trailing ", "1.2.3.4.5", "10.0.0.0/24/1", "\xC3\xBCnicode"}) {
    CAPTURE(text);
    CHECK(YamlString(text).front() == '"');
  }
  CHECK(YamlString("say \"hi\" \\ bye") == "\"say \\\"hi\\\" \\\\ bye\"");
  CHECK(YamlString("tab\there\nline") == "\"tab\\there\\nline\"");
  CHECK(YamlString("bell\a") == "\"bell\\x07\"");
  CHECK(YamlString("nel\xC2\x85 ls\xE2\x80\xA8 bom\xEF\xBB\xBF") == "\"nel\\u0085 ls\\u2028 bom\\uFEFF\"");
  CHECK(YamlString("caf\xC3\xA9") == "\"caf\xC3\xA9\"");
}

TEST_CASE("FleetToYaml writes the user format with defaults left out") {
  const std::string expected =
      "---\n"
      "apiVersion: wirewarp.dev/v1\n"
      "kind: Tunnel\n"
      "metadata:\n"
      "  name: vps\n"
      "spec:\n"
      "  agent: vps\n"
      "  endpoint: \"vps.example.net:51821\"\n"
      "  listenPort: 51821\n"
      "  network: 10.77.0.0/24\n"
      "---\n"
      "apiVersion: wirewarp.dev/v1\n"
      "kind: Tunnel\n"
      "metadata:\n"
      "  name: second\n"
      "  labels:\n"
      "    env: prod\n"
      "spec:\n"
      "  agent: vps\n"
      "  endpoint: 203.0.113.7\n"
      "  interface: wg1\n"
      "  network: 10.78.0.0/24\n"
      "  publicInterface: eth0\n"
      "  mtu: 1380\n"
      "  selfHeal: false\n"
      "---\n"
      "apiVersion: wirewarp.dev/v1\n"
      "kind: Peer\n"
      "metadata:\n"
      "  name: gw-home\n"
      "spec:\n"
      "  tunnel: vps\n"
      "  agent: gw-home\n"
      "  address: 10.77.0.2\n"
      "  lan:\n"
      "    - 192.168.1.0/24\n"
      "    - 172.16.0.0/28\n"
      "  gateway: true\n"
      "---\n"
      "apiVersion: wirewarp.dev/v1\n"
      "kind: Peer\n"
      "metadata:\n"
      "  name: phone\n"
      "spec:\n"
      "  tunnel: vps\n"
      "  publicKey: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\n"
      "  keepalive: 25\n"
      "---\n"
      "apiVersion: wirewarp.dev/v1\n"
      "kind: ServiceTemplate\n"
      "metadata:\n"
      "  name: game\n"
      "spec:\n"
      "  ports:\n"
      "    - protocol: udp\n"
      "      ports: \"2302-2305,27016\"\n"
      "    - protocol: both\n"
      "      ports: \"7777\"\n"
      "---\n"
      "apiVersion: wirewarp.dev/v1\n"
      "kind: PortForward\n"
      "metadata:\n"
      "  name: web\n"
      "spec:\n"
      "  tunnel: vps\n"
      "  protocol: tcp\n"
      "  ports: \"443\"\n"
      "  to:\n"
      "    address: 192.168.1.10\n"
      "    port: 8443\n"
      "    peer: gw-home\n"
      "  description: \"Shop: \\\"staging\\\" #2\"\n"
      "---\n"
      "apiVersion: wirewarp.dev/v1\n"
      "kind: PortForward\n"
      "metadata:\n"
      "  name: dayz\n"
      "spec:\n"
      "  tunnel: vps\n"
      "  template: dayz\n"
      "  to:\n"
      "    address: 10.77.0.2\n";
  Fleet fleet = SmallFleet();
  CHECK(FleetToYaml(fleet) == expected);
  CHECK(LoadClean(expected) == fleet);
  CHECK(FleetToYaml(Fleet{}).empty());
}

TEST_CASE("FleetToYaml round-trips names and text that look like other YAML types") {
  Fleet fleet = SmallFleet();
  const char* names[] = {"123", "yes", "no", "true", "null", "0x10", "1e3", "on", "off", "y", "0", "1-2", "2024-05-01"};
  const char* texts[] = {"yes", "- not a list item", "a: b", "a:b", "#hash", "before # after", "\"quoted\"",
                         "'single'", "  padded  ", "12:30", "1.5", "null", "~", "caf\xC3\xA9 \xE2\x98\x95", "back\\slash",
                         "{not: a map}", "[not, a, list]", "&anchor", "*alias", "!tag", "%directive", "@at", "`tick`",
                         "| literal", "> folded", "?question", "0o17", ".nan"};
  int i = 0;
  for (const char* name : names) {
    PortForward forward = fleet.forwards[1];
    forward.metadata.name = name;
    forward.metadata.labels = {{"note", texts[i % std::size(texts)]}, {"app.example.org/team", name}};
    forward.spec.template_name = "ssh";
    forward.spec.description = texts[(i + 3) % std::size(texts)];
    forward.spec.tunnel = "second";
    forward.spec.to.address = Address("172.16.0.5");
    forward.spec.to.peer = "gw-home";
    fleet.forwards.push_back(forward);
    ++i;
  }
  for (const char* text : texts) {
    PortForward forward = fleet.forwards[0];
    forward.metadata.name = "text-" + std::to_string(i++);
    forward.spec.description = text;
    forward.spec.ports = {{static_cast<uint16_t>(1000 + i), static_cast<uint16_t>(1000 + i)}};
    fleet.forwards.push_back(forward);
  }
  // Label values may be empty.
  fleet.peers[1].metadata.labels = {{"empty", ""}, {"n", "N"}};
  Fleet loaded = LoadClean(FleetToYaml(fleet));
  CHECK(loaded == fleet);
  REQUIRE(loaded.forwards.size() == fleet.forwards.size());
  for (size_t f = 0; f < fleet.forwards.size(); ++f) {
    CAPTURE(fleet.forwards[f].metadata.name);
    CHECK(loaded.forwards[f].metadata == fleet.forwards[f].metadata);
    CHECK(loaded.forwards[f].spec.description == fleet.forwards[f].spec.description);
  }
}

TEST_CASE("RandomFleet is deterministic, valid and mixes every feature") {
  test_support::RandomFleetOptions options;
  options.agents = 30;
  options.tunnels = 6;
  options.peers = 120;
  options.forwards = 400;
  options.templates = 3;
  Fleet fleet = test_support::RandomFleet(options, 7);
  CHECK(fleet == test_support::RandomFleet(options, 7));
  CHECK_FALSE(fleet == test_support::RandomFleet(options, 8));

  Diagnostics findings = ValidateFleet(fleet);
  INFO(Describe(findings));
  CHECK_FALSE(HasErrors(findings));

  CHECK(fleet.tunnels.size() == 6);
  CHECK(fleet.peers.size() == 120);
  CHECK(fleet.forwards.size() == 400);
  CHECK(fleet.templates.size() == 3);
  // 3 servers and 27 clients, every one of them named.
  std::vector<std::string> agents = FleetAgents(fleet);
  CHECK(agents.size() == 30);
  std::map<std::string, WireguardKey> keys = test_support::RandomAgentKeys(fleet, 7);
  CHECK(keys.size() == 30);
  std::set<WireguardKey> distinct;
  for (const auto& [agent, key] : keys) distinct.insert(key);
  CHECK(distinct.size() == 30);

  int unmanaged = 0, gateways = 0, pinned = 0, with_lan = 0, second_interface = 0;
  for (const Peer& peer : fleet.peers) {
    unmanaged += peer.IsManaged() ? 0 : 1;
    gateways += peer.spec.gateway ? 1 : 0;
    pinned += peer.spec.address ? 1 : 0;
    with_lan += peer.spec.lan.empty() ? 0 : 1;
    second_interface += peer.spec.interface != "wg0" ? 1 : 0;
  }
  int templated = 0, ranges = 0, lists = 0, remaps = 0, both = 0, described = 0, labelled = 0;
  for (const PortForward& forward : fleet.forwards) {
    templated += forward.spec.template_name ? 1 : 0;
    ranges += forward.spec.ports.size() == 1 && !forward.spec.ports[0].IsSingle() ? 1 : 0;
    lists += forward.spec.ports.size() > 1 ? 1 : 0;
    remaps += forward.spec.to.port ? 1 : 0;
    both += forward.spec.protocol == Protocol::kBoth ? 1 : 0;
    described += forward.spec.description.empty() ? 0 : 1;
    labelled += forward.metadata.labels.empty() ? 0 : 1;
  }
  for (int count : {unmanaged, gateways, pinned, with_lan, second_interface, templated, ranges, lists, remaps, both,
                    described, labelled}) {
    CHECK(count > 0);
  }
  CHECK(pinned < 120);  // some addresses are left to IPAM
}

TEST_CASE("FleetToYaml round-trips seeded random fleets") {
  struct Case {
    test_support::RandomFleetOptions options;
    uint64_t seed;
  };
  const Case cases[] = {
      {{1, 1, 3, 5, 0, 0, 0}, 1},          // one server, unmanaged peers only
      {{4, 2, 10, 20, 1, 0, 0}, 2},
      {{12, 5, 60, 200, 2, 0, 0}, 3},
      {{40, 9, 300, 900, 4, 3, 60}, 4},    // servers with three tunnels; clients on several
      {{100, 25, 1000, 5000, 5, 0, 0}, 5},
  };
  for (const Case& c : cases) {
    CAPTURE(c.seed);
    Fleet fleet = test_support::RandomFleet(c.options, c.seed);
    Diagnostics findings = ValidateFleet(fleet);
    INFO(Describe(findings));
    CHECK_FALSE(HasErrors(findings));
    std::string yaml = FleetToYaml(fleet);
    Fleet loaded = LoadClean(yaml);
    CHECK(loaded == fleet);
    CHECK(FleetToYaml(loaded) == yaml);
  }
}
