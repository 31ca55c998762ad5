// The JSON wire format: exact text for small values (golden strings: reconciler, agent and
// stored files depend on field names and order) and round trips of hand-written values,
// including a plan with every step type. Hostile input is in hostile_json_test.cc, random
// values in plan_property_test.cc.

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <variant>

#include "schema/wire_json.h"

#include <map>
#include <nlohmann/json.hpp>

#include "schema/ipam.h"
#include "schema/plan.h"
#include "schema/render.h"
#include "tests/support/random_fleet.h"
#include "tests/support/test_values.h"

using namespace ww;

namespace {

using test_support::Key;
using test_support::Cidr;
using test_support::Address;


AgentConfig SmallConfig() {
  AgentConfig config;
  config.agent = "vps";
  WireguardInterface wg0{"wg0", "home", InterfaceRole::kServer, Cidr("10.77.0.1/24"), 51820, 1420, 0, Key(1), {}};
  wg0.peers.push_back({"home-gw", Key(2), "", {Cidr("10.77.0.2/32"), Cidr("192.168.50.0/24")}, 25});
  config.interfaces.push_back(wg0);
  config.routes.push_back({Cidr("192.168.50.0/24"), "wg0", std::nullopt, kMainTable});
  config.rules.push_back({10000, Cidr("192.168.50.0/24"), std::nullopt, 0, 100});
  config.chains.push_back({FirewallTable::kNat, "WIREWARP-PREROUTING",
                           {"-p tcp -m tcp --dport 25565 -j DNAT --to-destination 10.77.0.2:25565"}});
  config.jumps.push_back({FirewallTable::kNat, "PREROUTING", "-j WIREWARP-PREROUTING"});
  config.sysctls.push_back({"net.ipv4.ip_forward", "1"});
  config.notices.push_back("forward \"web\" masquerades");
  return config;
}

// A client with everything optional present: a second interface, a route via a gateway,
// a rule with from, to and fwmark, chains in every table.
AgentConfig FullConfig() {
  AgentConfig config = SmallConfig();
  config.agent = "home-gw";
  WireguardInterface wg1{"wg1", "office", InterfaceRole::kClient, Cidr("10.78.0.5/24"), 0, 1380, 0x57, Key(4), {}};
  wg1.peers.push_back({"office", Key(5), "vpn.example.com:51820", {Cidr("0.0.0.0/0")}, 25});
  wg1.peers.push_back({"backup", Key(6), "203.0.113.9:51820", {}, 0});
  config.interfaces.push_back(wg1);
  config.routes.push_back({Cidr("0.0.0.0/0"), "wg1", Address("10.78.0.1"), 101});
  config.rules.push_back({10001, Cidr("192.168.1.0/24"), Cidr("10.0.0.0/8"), 0x57, 101});
  config.chains.push_back({FirewallTable::kFilter, "WIREWARP-FORWARD", {}});
  config.chains.push_back(
      {FirewallTable::kMangle, "WIREWARP-MANGLE", {"-i wg1 -j CONNMARK --set-xmark 0x57/0xffffffff", "-j RETURN"}});
  config.jumps.push_back({FirewallTable::kMangle, "PREROUTING", "-j WIREWARP-MANGLE"});
  config.sysctls.push_back({"net.ipv4.conf.wg1.rp_filter", "0"});
  config.notices.push_back("ünïcödé ✓ stays as written");
  return config;
}

ObservedState FullObserved() {
  ObservedState observed;
  ObservedInterface wg0;
  wg0.name = "wg0";
  wg0.up = true;
  wg0.mtu = 1420;
  wg0.addresses = {Cidr("10.77.0.1/24"), Cidr("10.66.0.1/16")};
  wg0.listen_port = 51820;
  wg0.fwmark = 0xffffffff;
  wg0.public_key = Key(1);
  wg0.implementation = WireguardImplementation::kUserspace;
  wg0.peers.push_back({Key(2), "198.51.100.7:40001", {Cidr("10.77.0.2/32")}, 25, 1700000000,
                       std::numeric_limits<uint64_t>::max(), 42});
  wg0.peers.push_back({Key(3), "", {}, 0, 0, 0, 0});
  observed.interfaces.push_back(wg0);
  ObservedInterface wg1;
  wg1.name = "wg1";  // freshly created: no key, down, mtu unknown
  observed.interfaces.push_back(wg1);
  observed.routes.push_back({Cidr("192.168.50.0/24"), "eth1", Address("192.168.1.1"), 100});
  observed.rules.push_back({10999, std::nullopt, Cidr("10.0.0.0/8"), 0, kMainTable});
  observed.chains.push_back({FirewallTable::kNat, "WIREWARP-PREROUTING", {"-a", "-a"}});
  observed.jumps.push_back({FirewallTable::kFilter, "FORWARD", "-i wg0 -j WIREWARP-FORWARD"});
  observed.sysctls.push_back({"net.ipv4.ip_forward", "0"});
  return observed;
}

// One step of every type, destructive marks mixed.
Plan EveryStep() {
  AgentConfig config = FullConfig();
  return Plan{{
      {CreateInterface{"wg1", 1380}, Destructive::kNo},
      {ConfigureInterface{"wg1", 0, 0x57, Key(4)}, Destructive::kYes},
      {SetInterfaceMtu{"wg0", 1420}, Destructive::kNo},
      {AddInterfaceAddress{"wg1", Cidr("10.78.0.5/24")}, Destructive::kNo},
      {RemoveInterfaceAddress{"wg0", Cidr("10.66.0.1/16")}, Destructive::kNo},
      {SetInterfaceUp{"wg1"}, Destructive::kNo},
      {UpsertPeer{"wg1", config.interfaces[1].peers[0]}, Destructive::kNo},
      {RemovePeer{"wg0", Key(3)}, Destructive::kYes},
      {AddRoute{config.routes[1]}, Destructive::kNo},
      {DeleteRoute{config.routes[0]}, Destructive::kNo},
      {AddRule{config.rules[1]}, Destructive::kNo},
      {DeleteRule{config.rules[0]}, Destructive::kNo},
      {WriteChain{config.chains[2]}, Destructive::kNo},
      {EditChain{FirewallTable::kNat, "WIREWARP-PREROUTING", {"-a"}, {"-b", "-c"}}, Destructive::kYes},
      {DeleteChain{FirewallTable::kFilter, "WIREWARP-OLD"}, Destructive::kYes},
      {AddJump{config.jumps[1]}, Destructive::kNo},
      {DeleteJump{config.jumps[0]}, Destructive::kNo},
      {SetSysctl{config.sysctls[1]}, Destructive::kNo},
      {DeleteInterface{"wg9"}, Destructive::kYes},
  }};
}

}  // namespace

TEST_CASE("AgentConfigToJson writes the documented field names in a fixed order") {
  CHECK(AgentConfigToJson(SmallConfig(), JsonStyle::kCompact) ==
        R"({"formatVersion":1,"agent":"vps","interfaces":[{"name":"wg0","tunnel":"home","role":"server",)"
        R"("address":"10.77.0.1/24","listenPort":51820,"mtu":1420,"fwmark":0,)"
        R"("publicKey":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=","peers":[{"name":"home-gw",)"
        R"("publicKey":"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=","endpoint":"",)"
        R"("allowedIps":["10.77.0.2/32","192.168.50.0/24"],"persistentKeepalive":25}]}],)"
        R"("routes":[{"destination":"192.168.50.0/24","device":"wg0","table":254}],)"
        R"("rules":[{"priority":10000,"from":"192.168.50.0/24","fwmark":0,"table":100}],)"
        R"("chains":[{"table":"nat","name":"WIREWARP-PREROUTING",)"
        R"("rules":["-p tcp -m tcp --dport 25565 -j DNAT --to-destination 10.77.0.2:25565"]}],)"
        R"("jumps":[{"table":"nat","chain":"PREROUTING","rule":"-j WIREWARP-PREROUTING"}],)"
        R"("sysctls":[{"key":"net.ipv4.ip_forward","value":"1"}],"notices":["forward \"web\" masquerades"]})");
}

TEST_CASE("AgentConfig warnings are written only when there are some, and read back") {
  AgentConfig config = SmallConfig();
  CHECK(AgentConfigToJson(config, JsonStyle::kCompact).find("warnings") == std::string::npos);
  config.warnings = {"Peer/gw of Tunnel/home is left out: agent \"gw\" has no WireGuard public key"};
  std::string text = AgentConfigToJson(config, JsonStyle::kCompact);
  CHECK(text.ends_with(R"("notices":["forward \"web\" masquerades"],)"
                       R"("warnings":["Peer/gw of Tunnel/home is left out: agent \"gw\" has no WireGuard public key"]})"));
  Result<AgentConfig> read = AgentConfigFromJson(text);
  REQUIRE_MESSAGE(read.ok(), read.status().ToString());
  CHECK(*read == config);
  CHECK(AgentConfigFromJson(AgentConfigToJson(SmallConfig()))->warnings.empty());

  // Hostile values are refused like notices.
  CHECK_FALSE(AgentConfigFromJson(R"({"formatVersion":1,"agent":"a","interfaces":[],"routes":[],"rules":[],)"
                                  R"("chains":[],"jumps":[],"sysctls":[],"notices":[],"warnings":7})")
                  .ok());
  CHECK(AgentConfigFromJson(R"({"formatVersion":1,"agent":"a","interfaces":[],"routes":[],"rules":[],)"
                            R"("chains":[],"jumps":[],"sysctls":[],"notices":[],"warnings":["a\u0001"]})")
            .status()
            .message()
            .find("warnings[0]") != std::string::npos);
}

TEST_CASE("Pretty JSON indents by two spaces and ends with a newline") {
  AgentConfig config;
  config.agent = "empty";
  CHECK(AgentConfigToJson(config) == R"({
  "formatVersion": 1,
  "agent": "empty",
  "interfaces": [],
  "routes": [],
  "rules": [],
  "chains": [],
  "jumps": [],
  "sysctls": [],
  "notices": []
}
)");
}

TEST_CASE("ObservedStateToJson writes optional fields only when present") {
  ObservedState observed;
  ObservedInterface wg0;
  wg0.name = "wg0";
  wg0.up = true;
  wg0.mtu = 1420;
  wg0.addresses = {Cidr("10.77.0.1/24")};
  wg0.listen_port = 51820;
  wg0.implementation = WireguardImplementation::kKernel;
  wg0.peers.push_back({Key(2), "198.51.100.7:40001", {Cidr("10.77.0.2/32")}, 0, 1700000000,
                       std::numeric_limits<uint64_t>::max(), 42});
  observed.interfaces.push_back(wg0);
  observed.routes.push_back({Cidr("192.168.50.0/24"), "eth1", Address("192.168.1.1"), 100});
  CHECK(ObservedStateToJson(observed) == R"({
  "formatVersion": 1,
  "interfaces": [
    {
      "name": "wg0",
      "up": true,
      "mtu": 1420,
      "addresses": [
        "10.77.0.1/24"
      ],
      "listenPort": 51820,
      "fwmark": 0,
      "implementation": "kernel",
      "peers": [
        {
          "publicKey": "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=",
          "endpoint": "198.51.100.7:40001",
          "allowedIps": [
            "10.77.0.2/32"
          ],
          "persistentKeepalive": 0,
          "latestHandshake": 1700000000,
          "rxBytes": 18446744073709551615,
          "txBytes": 42
        }
      ]
    }
  ],
  "routes": [
    {
      "destination": "192.168.50.0/24",
      "device": "eth1",
      "via": "192.168.1.1",
      "table": 100
    }
  ],
  "rules": [],
  "chains": [],
  "jumps": [],
  "sysctls": []
}
)");
}

TEST_CASE("ObservedState carries a peer's applied endpoint only when known, and reads it back") {
  ObservedState observed;
  ObservedInterface wg0;
  wg0.name = "wg0";
  ObservedPeer vps;
  vps.public_key = Key(2);
  vps.endpoint = "203.0.113.7:51820";
  vps.applied_endpoint = "vps.example.net:51820";
  wg0.peers = {vps};
  observed.interfaces = {wg0};
  std::string text = ObservedStateToJson(observed, JsonStyle::kCompact);
  CHECK(text.find(R"("txBytes":0,"appliedEndpoint":"vps.example.net:51820"})") != std::string::npos);
  auto back = ObservedStateFromJson(text);
  REQUIRE(back.ok());
  CHECK(*back == observed);
  // Reports of agents that record nothing have no such field, and read back as "".
  observed.interfaces[0].peers[0].applied_endpoint = "";
  text = ObservedStateToJson(observed, JsonStyle::kCompact);
  CHECK(text.find("appliedEndpoint") == std::string::npos);
  CHECK(*ObservedStateFromJson(text) == observed);
  // Hostile text is refused like any endpoint.
  std::string hostile = text;
  hostile.replace(hostile.find(R"("txBytes":0)"), 11, R"("txBytes":0,"appliedEndpoint":"-x
foo")");
  CHECK(!ObservedStateFromJson(hostile).ok());
}

TEST_CASE("PlanToJson writes each step as type, destructive, then its fields") {
  Plan plan{{
      {UpsertPeer{"wg0", {"home-gw", Key(2), "", {Cidr("10.77.0.2/32")}, 25}}, Destructive::kNo},
      {RemovePeer{"wg0", Key(3)}, Destructive::kYes},
      {EditChain{FirewallTable::kNat, "WIREWARP-PREROUTING", {"-a"}, {}}, Destructive::kYes},
  }};
  CHECK(PlanToJson(plan, JsonStyle::kCompact) ==
        R"({"formatVersion":1,"steps":[)"
        R"({"type":"upsertPeer","destructive":false,"interface":"wg0","peer":{"name":"home-gw",)"
        R"("publicKey":"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=","endpoint":"","allowedIps":["10.77.0.2/32"],)"
        R"("persistentKeepalive":25}},)"
        R"({"type":"removePeer","destructive":true,"interface":"wg0",)"
        R"("publicKey":"AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="},)"
        R"({"type":"editChain","destructive":true,"table":"nat","name":"WIREWARP-PREROUTING",)"
        R"("deleteRules":["-a"],"appendRules":[]}]})");
}

TEST_CASE("Every step type has its own JSON type name") {
  Plan plan = EveryStep();
  REQUIRE(plan.steps.size() == std::variant_size_v<StepAction>);
  for (size_t i = 0; i < plan.steps.size(); ++i) CHECK(plan.steps[i].action.index() == i);
  std::string text = PlanToJson(plan, JsonStyle::kCompact);
  for (const char* type :
       {"createInterface", "configureInterface", "setInterfaceMtu", "addInterfaceAddress", "removeInterfaceAddress",
        "setInterfaceUp", "upsertPeer", "removePeer", "addRoute", "deleteRoute", "addRule", "deleteRule", "writeChain",
        "editChain", "deleteChain", "addJump", "deleteJump", "setSysctl", "deleteInterface"}) {
    CAPTURE(type);
    CHECK(text.find(std::string("{\"type\":\"") + type + "\"") != std::string::npos);
  }
}

TEST_CASE("AgentConfig round-trips through JSON") {
  AgentConfig empty;
  empty.agent = "a";
  for (const AgentConfig& config : {empty, SmallConfig(), FullConfig()}) {
    for (JsonStyle style : {JsonStyle::kPretty, JsonStyle::kCompact}) {
      auto back = AgentConfigFromJson(AgentConfigToJson(config, style));
      REQUIRE_MESSAGE(back.ok(), back.status().ToString());
      CHECK(*back == config);
    }
  }
}

TEST_CASE("ObservedState round-trips through JSON, with and without a public key") {
  ObservedState observed = FullObserved();
  REQUIRE_FALSE(observed.interfaces[1].public_key.has_value());
  for (JsonStyle style : {JsonStyle::kPretty, JsonStyle::kCompact}) {
    auto back = ObservedStateFromJson(ObservedStateToJson(observed, style));
    REQUIRE_MESSAGE(back.ok(), back.status().ToString());
    CHECK(*back == observed);
  }
  auto empty = ObservedStateFromJson(ObservedStateToJson(ObservedState{}));
  REQUIRE(empty.ok());
  CHECK(*empty == ObservedState{});
}

TEST_CASE("A plan with every step type round-trips through JSON") {
  Plan plan = EveryStep();
  for (JsonStyle style : {JsonStyle::kPretty, JsonStyle::kCompact}) {
    auto back = PlanFromJson(PlanToJson(plan, style));
    REQUIRE_MESSAGE(back.ok(), back.status().ToString());
    CHECK(*back == plan);
  }
  auto empty = PlanFromJson(R"({"formatVersion": 1, "steps": []})");
  REQUIRE(empty.ok());
  CHECK(empty->empty());
}

TEST_CASE("Parsing accepts any field order and whitespace") {
  auto config = AgentConfigFromJson(
      "  {\"notices\":[],\"sysctls\":[],\"jumps\":[],\"chains\":[],\"rules\":[],\"routes\":[],\n"
      "\t\"interfaces\":[],\"agent\":\"vps\",\"formatVersion\":1}\r\n");
  REQUIRE_MESSAGE(config.ok(), config.status().ToString());
  CHECK(config->agent == "vps");
}

TEST_CASE("Parsing accepts the boundaries of every numeric field") {
  ObservedState observed = FullObserved();
  ObservedInterface& wg0 = observed.interfaces[0];
  wg0.listen_port = 65535;
  wg0.mtu = 65535;
  wg0.fwmark = std::numeric_limits<uint32_t>::max();
  wg0.peers[0].persistent_keepalive = 65535;
  wg0.peers[0].latest_handshake = std::numeric_limits<int64_t>::max();
  wg0.peers[0].rx_bytes = std::numeric_limits<uint64_t>::max();
  wg0.peers[0].tx_bytes = std::numeric_limits<uint64_t>::max();
  observed.rules[0].priority = std::numeric_limits<uint32_t>::max();
  observed.rules[0].table = std::numeric_limits<uint32_t>::max();
  auto back = ObservedStateFromJson(ObservedStateToJson(observed));
  REQUIRE_MESSAGE(back.ok(), back.status().ToString());
  CHECK(*back == observed);
}

// Plain documents take a fast reader, anything unusual the full parser: both must read the
// same values and refuse with the same messages.
TEST_CASE("Parsing reads escapes, non-ASCII text and integer edges alike on every path") {
  auto document = [](const std::string& agent, const std::string& notices, const std::string& mtu) {
    return "{\"formatVersion\":1,\"agent\":" + agent +
           ",\"interfaces\":[{\"name\":\"wg0\",\"tunnel\":\"home\",\"role\":\"server\",\"address\":\"10.77.0.1/24\","
           "\"listenPort\":51820,\"mtu\":" + mtu + ",\"fwmark\":0,\"publicKey\":\"" + Key(1).ToBase64() +
           "\",\"peers\":[]}],\"routes\":[],\"rules\":[],\"chains\":[],\"jumps\":[],\"sysctls\":[],\"notices\":" + notices +
           "}";
  };
  auto plain = AgentConfigFromJson(document("\"vps\"", R"(["a\"b\\c\/d e"])", "1420"));
  REQUIRE_MESSAGE(plain.ok(), plain.status().ToString());
  CHECK(plain->agent == "vps");
  CHECK(plain->interfaces.at(0).mtu == 1420);
  CHECK(plain->notices == std::vector<std::string>{"a\"b\\c/d e"});
  CHECK(AgentConfigFromJson(document("\"vps\"", R"(["\b\f\n\r\t"])", "1420")).status().message() ==
        "notices[0]: \"\\b\\f\\n\\r\\t\" contains a control character");

  auto escaped = AgentConfigFromJson(document(R"("\u0076ps")", R"(["caf\u00e9 caf\u00c3\u00a9", "café \ud83d\ude00"])", "1420"));
  REQUIRE_MESSAGE(escaped.ok(), escaped.status().ToString());
  CHECK(escaped->agent == "vps");
  CHECK(escaped->notices == std::vector<std::string>{"caf\xC3\xA9 caf\xC3\x83\xC2\xA9", "caf\xC3\xA9 \xF0\x9F\x98\x80"});

  CHECK(AgentConfigFromJson(document("\"vps\"", "[]", "-0")).status().message() ==
        "interfaces[0].mtu: 0 is out of range (expected 68-65535)");
  CHECK(AgentConfigFromJson(document("\"vps\"", "[]", "-9223372036854775808")).status().message() ==
        "interfaces[0].mtu: -9223372036854775808 is out of range (expected 68-65535)");
  CHECK(AgentConfigFromJson(document("\"vps\"", "[]", "18446744073709551615")).status().message() ==
        "interfaces[0].mtu: 18446744073709551615 is out of range (expected 68-65535)");
  CHECK(AgentConfigFromJson(document("\"vps\"", "[]", "18446744073709551616")).status().message() ==
        "interfaces[0].mtu: expected an integer 68-65535, got number 1.8446744073709552e+19");
  CHECK(AgentConfigFromJson(document("\"vps\"", "[]", "1420.0")).status().message() ==
        "interfaces[0].mtu: expected an integer 68-65535, got number 1420.0");
  CHECK(AgentConfigFromJson(document("\"vps\"", "[]", "01420")).status().message().starts_with(
        "invalid JSON: parse error at line 1, column "));
  CHECK(AgentConfigFromJson(document("\"vps\"", "[],\"agent\":\"vps\"", "1420")).status().message() ==
        "agent: duplicate key");
  CHECK(AgentConfigFromJson(document("\"vps\"", "[]", "1420") + " x").status().message().starts_with(
        "invalid JSON: parse error at line 1, column "));
  CHECK(AgentConfigFromJson(document("\"v\tps\"", "[]", "1420")).status().message().starts_with(
        "invalid JSON: parse error at line 1, column "));
}

// Pretty chains are written without a tree: the text must be exactly nlohmann's layout.
TEST_CASE("ObservedStateToJson writes chains exactly as the pretty layout, escapes included") {
  ObservedState state;
  state.chains.push_back({FirewallTable::kNat, "WIREWARP-PREROUTING", {"-p tcp -j ACCEPT", "-m comment --comment \"a\\b\""}});
  state.chains.push_back({FirewallTable::kFilter, "WIREWARP-EMPTY", {}});
  state.chains.push_back({FirewallTable::kMangle, "WIREWARP-MSS", {"caf\xC3\xA9\t\x7f", "bad \xFF byte"}});
  state.sysctls.push_back({"net.ipv4.ip_forward", "1"});
  CHECK(ObservedStateToJson(state, JsonStyle::kPretty) ==
        "{\n"
        "  \"formatVersion\": 1,\n"
        "  \"interfaces\": [],\n"
        "  \"routes\": [],\n"
        "  \"rules\": [],\n"
        "  \"chains\": [\n"
        "    {\n"
        "      \"table\": \"nat\",\n"
        "      \"name\": \"WIREWARP-PREROUTING\",\n"
        "      \"rules\": [\n"
        "        \"-p tcp -j ACCEPT\",\n"
        "        \"-m comment --comment \\\"a\\\\b\\\"\"\n"
        "      ]\n"
        "    },\n"
        "    {\n"
        "      \"table\": \"filter\",\n"
        "      \"name\": \"WIREWARP-EMPTY\",\n"
        "      \"rules\": []\n"
        "    },\n"
        "    {\n"
        "      \"table\": \"mangle\",\n"
        "      \"name\": \"WIREWARP-MSS\",\n"
        "      \"rules\": [\n"
        "        \"caf\xC3\xA9\\t\x7f\",\n"
        "        \"bad \xEF\xBF\xBD byte\"\n"
        "      ]\n"
        "    }\n"
        "  ],\n"
        "  \"jumps\": [],\n"
        "  \"sysctls\": [\n"
        "    {\n"
        "      \"key\": \"net.ipv4.ip_forward\",\n"
        "      \"value\": \"1\"\n"
        "    }\n"
        "  ]\n"
        "}\n");
  state.chains.pop_back();
  auto pretty = ObservedStateFromJson(ObservedStateToJson(state, JsonStyle::kPretty));
  REQUIRE_MESSAGE(pretty.ok(), pretty.status().ToString());
  CHECK(*pretty == state);
  CHECK(ObservedStateToJson(state, JsonStyle::kCompact).find(
            "\"chains\":[{\"table\":\"nat\",\"name\":\"WIREWARP-PREROUTING\",\"rules\":[\"-p tcp -j ACCEPT\",") !=
        std::string::npos);
}

// The writer behind every *ToJson (JsonWriter) must lay out any value as nlohmann did: the
// configs and full plans of random fleets, in both styles, read back to the same values.
TEST_CASE("Configs and plans of random fleets are laid out as nlohmann/json lays them out") {
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    CAPTURE(seed);
    Fleet fleet = test_support::RandomFleet({.agents = 12, .tunnels = 3, .peers = 30, .forwards = 25}, seed);
    RenderInput input;
    input.agent_public_keys = test_support::RandomAgentKeys(fleet, seed);
    AllocationResult allocation = AllocateAddresses(fleet, {});
    input.allocations = allocation.allocations;
    Result<std::map<std::string, AgentConfig>> configs = RenderAll(fleet, input);
    REQUIRE_MESSAGE(configs.ok(), configs.status().ToString());
    for (const auto& [agent, config] : *configs) {
      CAPTURE(agent);
      Plan plan = ComputePlan(config, ObservedState{});
      ObservedState observed = ObservedFromDesired(config);
      for (JsonStyle style : {JsonStyle::kCompact, JsonStyle::kPretty}) {
        const int indent = style == JsonStyle::kPretty ? 2 : -1;
        const std::string end = style == JsonStyle::kPretty ? "\n" : "";
        auto layout = [&](const std::string& text) {
          return nlohmann::ordered_json::parse(text).dump(indent, ' ', false) + end;
        };
        std::string config_text = AgentConfigToJson(config, style);
        CHECK(config_text == layout(config_text));
        CHECK(*AgentConfigFromJson(config_text) == config);
        std::string plan_text = PlanToJson(plan, style);
        CHECK(plan_text == layout(plan_text));
        CHECK(*PlanFromJson(plan_text) == plan);
        std::string observed_text = ObservedStateToJson(observed, style);
        CHECK(observed_text == layout(observed_text));
        CHECK(*ObservedStateFromJson(observed_text) == observed);
      }
    }
  }
}
