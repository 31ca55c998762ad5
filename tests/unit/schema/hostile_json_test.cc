// Hostile and broken JSON for the wire format: every refusal names the JSON path and
// quotes the value, nothing throws, nothing crashes (the classic JSON parser attacks:
// deep nesting, duplicate keys, invalid UTF-8, huge numbers, NaN).

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "schema/wire_json.h"
#include "tests/support/test_values.h"

using namespace ww;
using OrderedJson = nlohmann::ordered_json;

namespace {

using test_support::Key;
using test_support::Cidr;


AgentConfig ValidConfig() {
  AgentConfig config;
  config.agent = "vps";
  WireguardInterface wg0{"wg0", "home", InterfaceRole::kServer, Cidr("10.77.0.1/24"), 51820, 1420, 0, Key(1), {}};
  for (int i = 0; i < 3; ++i) {
    wg0.peers.push_back({"peer-" + std::to_string(i), Key(2 + i), "", {Cidr("10.77.0." + std::to_string(2 + i) + "/32")}, 25});
  }
  config.interfaces.push_back(wg0);
  config.routes.push_back({Cidr("192.168.50.0/24"), "wg0", std::nullopt, kMainTable});
  config.rules.push_back({10000, Cidr("192.168.50.0/24"), std::nullopt, 0, 100});
  config.chains.push_back({FirewallTable::kNat, "WIREWARP-PREROUTING", {"-p tcp -j DNAT --to-destination 10.77.0.2:1"}});
  config.jumps.push_back({FirewallTable::kNat, "PREROUTING", "-j WIREWARP-PREROUTING"});
  config.sysctls.push_back({"net.ipv4.ip_forward", "1"});
  return config;
}

// A valid AgentConfig as an editable JSON value.
OrderedJson ValidConfigJson() { return OrderedJson::parse(AgentConfigToJson(ValidConfig())); }

// The error message of parsing `text` as an AgentConfig ("" when it parses).
std::string ConfigError(const std::string& text) {
  auto result = AgentConfigFromJson(text);
  if (result.ok()) return "";
  CHECK(result.status().code() == StatusCode::kInvalidArgument);
  return result.status().message();
}

std::string DocumentError(const OrderedJson& document) { return ConfigError(document.dump()); }

std::string ObservedError(const std::string& text) {
  auto result = ObservedStateFromJson(text);
  return result.ok() ? "" : result.status().message();
}

std::string PlanError(const std::string& text) {
  auto result = PlanFromJson(text);
  return result.ok() ? "" : result.status().message();
}

bool StartsWith(const std::string& text, std::string_view prefix) { return text.rfind(prefix, 0) == 0; }

}  // namespace

TEST_CASE("The valid base document parses") {
  CHECK(DocumentError(ValidConfigJson()) == "");
}

TEST_CASE("Syntax errors are reported with a position, not thrown") {
  CHECK(StartsWith(ConfigError(""), "invalid JSON: parse error at line 1, column 1"));
  CHECK(StartsWith(ConfigError("{\"formatVersion\": 1,"), "invalid JSON: parse error at line 1, column 21"));
  CHECK(StartsWith(ConfigError("{} x"), "invalid JSON: parse error at line 1, column 4"));
  CHECK(StartsWith(ConfigError("{\"formatVersion\": 1} // comment"), "invalid JSON: parse error"));
  CHECK(StartsWith(ConfigError("{'formatVersion': 1}"), "invalid JSON: parse error"));
}

TEST_CASE("The top level must be an object with a supported formatVersion") {
  CHECK(ConfigError("[]") == "expected a JSON object, got array");
  CHECK(ConfigError("\"text\"") == "expected a JSON object, got string \"text\"");
  CHECK(ConfigError("{}") == "missing field \"formatVersion\"");
  OrderedJson document = ValidConfigJson();
  document["formatVersion"] = 2;
  CHECK(DocumentError(document) == "formatVersion: 2 is not supported (this build reads version 1)");
  document["formatVersion"] = "1";
  CHECK(DocumentError(document) == "formatVersion: expected an integer 0-2147483647, got string \"1\"");
  document["formatVersion"] = 1.0;
  CHECK(DocumentError(document) == "formatVersion: expected an integer 0-2147483647, got number 1.0");
  // The version is checked before the fields, which a later version may change.
  CHECK(ObservedError(R"({"formatVersion": 2, "peers": []})") ==
        "formatVersion: 2 is not supported (this build reads version 1)");
  CHECK(PlanError(R"({"formatVersion": 0, "steps": []})") ==
        "formatVersion: 0 is not supported (this build reads version 1)");
}

TEST_CASE("Unknown fields are refused with a hint") {
  OrderedJson document = ValidConfigJson();
  document["agnet"] = "x";
  CHECK(DocumentError(document) == "agnet: unknown field (did you mean \"agent\"?)");

  document = ValidConfigJson();
  document["interfaces"][0]["listenport"] = 1;
  CHECK(DocumentError(document) == "interfaces[0].listenport: unknown field (did you mean \"listenPort\"?)");

  document = ValidConfigJson();
  document["interfaces"][0]["peers"][1]["presharedKey"] = "x";
  CHECK(DocumentError(document) == "interfaces[0].peers[1].presharedKey: unknown field");

  // A field name that is not a plain word is quoted, control characters escaped.
  document = ValidConfigJson();
  document["routes"][0]["\x1b[31mred"] = 1;
  std::string error = DocumentError(document);
  CHECK(error == "routes[0].\"\\u001b[31mred\": unknown field");
  CHECK(error.find('\x1b') == std::string::npos);
}

TEST_CASE("Missing fields are refused, optional ones are not") {
  OrderedJson document = ValidConfigJson();
  document["interfaces"][0].erase("listenPort");
  CHECK(DocumentError(document) == "interfaces[0]: missing field \"listenPort\"");

  document = ValidConfigJson();
  document.erase("notices");
  CHECK(DocumentError(document) == "document: missing field \"notices\"");

  document = ValidConfigJson();
  document["rules"][0].erase("from");
  document["routes"][0]["via"] = "10.77.0.9";
  CHECK(DocumentError(document) == "");
}

TEST_CASE("Wrong types are refused with what was found") {
  OrderedJson document = ValidConfigJson();
  document["interfaces"][0]["listenPort"] = "51820";
  CHECK(DocumentError(document) == "interfaces[0].listenPort: expected an integer 0-65535, got string \"51820\"");

  document = ValidConfigJson();
  document["interfaces"][0]["peers"] = OrderedJson::object();
  CHECK(DocumentError(document) == "interfaces[0].peers: expected an array, got object");

  document = ValidConfigJson();
  document["interfaces"][0]["peers"][0] = "peer";
  CHECK(DocumentError(document) == "interfaces[0].peers[0]: expected an object, got string \"peer\"");

  document = ValidConfigJson();
  document["routes"][0]["via"] = nullptr;
  CHECK(DocumentError(document) == "routes[0].via: expected a string, got null");

  document = ValidConfigJson();
  document["interfaces"][0]["mtu"] = true;
  CHECK(DocumentError(document) == "interfaces[0].mtu: expected an integer 68-65535, got boolean true");

  document = ValidConfigJson();
  document["interfaces"][0]["mtu"] = 1420.5;
  CHECK(DocumentError(document) == "interfaces[0].mtu: expected an integer 68-65535, got number 1420.5");

  CHECK(ObservedError(R"({"formatVersion":1,"interfaces":[{"name":"wg0","up":1,"mtu":1420,"addresses":[],)"
                      R"("listenPort":0,"fwmark":0,"implementation":"kernel","peers":[]}],"routes":[],"rules":[],)"
                      R"("chains":[],"jumps":[],"sysctls":[]})") ==
        "interfaces[0].up: expected true or false, got number 1");
}

TEST_CASE("Values that do not parse are refused with their path and quoted text") {
  OrderedJson document = ValidConfigJson();
  document["interfaces"][0]["peers"][2]["publicKey"] = "xyz";
  CHECK(DocumentError(document) ==
        "interfaces[0].peers[2].publicKey: \"xyz\" is not a WireGuard key (expected 44 characters of base64 encoding "
        "32 bytes)");

  document = ValidConfigJson();
  document["interfaces"][0]["address"] = "10.77.0.1/33";
  CHECK(DocumentError(document) ==
        "interfaces[0].address: \"10.77.0.1/33\" is not a CIDR (expected ADDRESS/PREFIX with PREFIX 0-32)");

  document = ValidConfigJson();
  document["interfaces"][0]["peers"][0]["allowedIps"][0] = "10.77.0.2/24";
  CHECK(DocumentError(document) ==
        "interfaces[0].peers[0].allowedIps[0]: \"10.77.0.2/24\" has host bits set (did you mean \"10.77.0.0/24\"?)");

  document = ValidConfigJson();
  document["routes"][0]["via"] = "010.0.0.1";
  CHECK(DocumentError(document) == "routes[0].via: \"010.0.0.1\" is not an IPv4 address");

  document = ValidConfigJson();
  document["interfaces"][0]["role"] = "master";
  CHECK(DocumentError(document) == "interfaces[0].role: \"master\" is not one of \"server\", \"client\"");

  document = ValidConfigJson();
  document["chains"][0]["table"] = "raw";
  CHECK(DocumentError(document) == "chains[0].table: \"raw\" is not one of \"filter\", \"nat\", \"mangle\"");

  CHECK(ObservedError(R"({"formatVersion":1,"interfaces":[{"name":"wg0","up":true,"mtu":1420,"addresses":[],)"
                      R"("listenPort":0,"fwmark":0,"implementation":"wireguard-go","peers":[]}],"routes":[],)"
                      R"("rules":[],"chains":[],"jumps":[],"sysctls":[]})") ==
        "interfaces[0].implementation: \"wireguard-go\" is not one of \"unknown\", \"kernel\", \"userspace\"");
}

TEST_CASE("Numbers out of range for their field are refused") {
  struct Case {
    const char* field;
    OrderedJson value;
    const char* message;
  };
  const Case cases[] = {
      {"listenPort", -1, "interfaces[0].listenPort: -1 is out of range (expected 0-65535)"},
      {"listenPort", 65536, "interfaces[0].listenPort: 65536 is out of range (expected 0-65535)"},
      {"mtu", 0, "interfaces[0].mtu: 0 is out of range (expected 68-65535)"},
      {"fwmark", 4294967296ull, "interfaces[0].fwmark: 4294967296 is out of range (expected 0-4294967295)"},
      {"fwmark", -4294967296ll, "interfaces[0].fwmark: -4294967296 is out of range (expected 0-4294967295)"},
  };
  for (const Case& item : cases) {
    CAPTURE(item.field);
    OrderedJson document = ValidConfigJson();
    document["interfaces"][0][item.field] = item.value;
    CHECK(DocumentError(document) == item.message);
  }
  OrderedJson document = ValidConfigJson();
  document["interfaces"][0]["peers"][0]["persistentKeepalive"] = 65536;
  CHECK(DocumentError(document) ==
        "interfaces[0].peers[0].persistentKeepalive: 65536 is out of range (expected 0-65535)");
}

TEST_CASE("Huge numbers, NaN and infinities are refused") {
  std::string text = ValidConfigJson().dump();
  auto with_port = [&](const std::string& port) {
    std::string edited = text;
    size_t at = edited.find("\"listenPort\":51820");
    REQUIRE(at != std::string::npos);
    edited.replace(at, 18, "\"listenPort\":" + port);
    return ConfigError(edited);
  };
  CHECK(StartsWith(with_port("1e400"), "invalid JSON: number overflow parsing '1e400'"));
  CHECK(StartsWith(with_port("-1e400"), "invalid JSON: number overflow parsing '-1e400'"));
  CHECK(StartsWith(with_port("NaN"), "invalid JSON: parse error"));
  CHECK(StartsWith(with_port("Infinity"), "invalid JSON: parse error"));
  CHECK(StartsWith(with_port("0x10"), "invalid JSON: parse error"));
  CHECK(StartsWith(with_port("051820"), "invalid JSON: parse error"));
  // Past 2^64 nlohmann falls back to a double: not an integer.
  CHECK(with_port("18446744073709551616") ==
        "interfaces[0].listenPort: expected an integer 0-65535, got number 1.8446744073709552e+19");
  CHECK(with_port("1e2") == "interfaces[0].listenPort: expected an integer 0-65535, got number 100.0");
  CHECK(with_port("-9223372036854775809") ==
        "interfaces[0].listenPort: expected an integer 0-65535, got number -9.223372036854776e+18");

  CHECK(ObservedError(R"({"formatVersion":1,"interfaces":[{"name":"wg0","up":true,"mtu":1420,"addresses":[],)"
                      R"("listenPort":0,"fwmark":0,"implementation":"kernel","peers":[{"publicKey":)"
                      R"("AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=","endpoint":"","allowedIps":[],)"
                      R"("persistentKeepalive":0,"latestHandshake":-1,"rxBytes":0,"txBytes":0}]}],"routes":[],)"
                      R"("rules":[],"chains":[],"jumps":[],"sysctls":[]})") ==
        "interfaces[0].peers[0].latestHandshake: -1 is out of range (expected 0-9223372036854775807)");
}

TEST_CASE("Invalid UTF-8 is refused by the parser") {
  std::string text = ValidConfigJson().dump();
  size_t at = text.find("\"vps\"");
  REQUIRE(at != std::string::npos);
  for (std::string bad : {std::string("v\xff"), std::string("v\xc0\xaf"), std::string("v\xed\xa0\x80"),
                          std::string("v\xe2\x82"), std::string("\x80")}) {
    CAPTURE(bad);
    std::string edited = text;
    edited.replace(at + 1, 3, bad);
    CHECK(StartsWith(ConfigError(edited), "invalid JSON: parse error"));
  }
  // A lone UTF-16 surrogate written as an escape is refused too.
  std::string edited = text;
  edited.replace(at + 1, 3, "\\ud800");
  CHECK(StartsWith(ConfigError(edited), "invalid JSON: parse error"));
  // Valid multi-byte text is kept byte for byte.
  OrderedJson document = ValidConfigJson();
  document["notices"] = {"café ✓ 🚀"};
  auto config = AgentConfigFromJson(document.dump());
  REQUIRE(config.ok());
  CHECK(config->notices[0] == "café ✓ 🚀");
}

TEST_CASE("Nesting deeper than 64 levels is refused while parsing") {
  // 100,000 '[' parse fine in nlohmann and then crash on copy or dump: refuse early.
  std::string deep(100000, '[');
  std::string path;
  for (int i = 0; i < 64; ++i) path += "[0]";
  CHECK(ConfigError(deep) == path + ": nesting deeper than 64 levels");
  std::string deep_objects;
  for (int i = 0; i < 100000; ++i) deep_objects += "{\"a\":";
  std::string error = ConfigError(deep_objects);
  CHECK(error.find(": nesting deeper than 64 levels") != std::string::npos);
  CHECK(StartsWith(error, "a.a.a.a."));

  // Exactly 64 levels parse (and then fail on the field's type); 65 do not.
  auto nested_notices = [](int levels) {  // the document itself is level 1, "notices" level 2
    std::string open(static_cast<size_t>(levels - 1), '[');
    std::string close(static_cast<size_t>(levels - 1), ']');
    return R"({"formatVersion":1,"agent":"vps","interfaces":[],"routes":[],"rules":[],"chains":[],"jumps":[],)"
           R"("sysctls":[],"notices":)" + open + close + "}";
  };
  CHECK(ConfigError(nested_notices(64)) == "notices[0]: expected a string, got array");
  std::string too_deep = ConfigError(nested_notices(65));
  CHECK(StartsWith(too_deep, "notices[0][0][0]"));
  CHECK(too_deep.find(": nesting deeper than 64 levels") != std::string::npos);
}

TEST_CASE("Duplicate keys are refused at any depth") {
  CHECK(ConfigError(R"({"formatVersion":1,"formatVersion":1})") == "formatVersion: duplicate key");
  std::string text = ValidConfigJson().dump();
  size_t at = text.find("\"name\":\"wg0\"");
  REQUIRE(at != std::string::npos);
  std::string edited = text;
  edited.insert(at, "\"name\":\"wg1\",");
  CHECK(ConfigError(edited) == "interfaces[0].name: duplicate key");

  at = text.find("\"name\":\"peer-2\"");
  REQUIRE(at != std::string::npos);
  edited = text;
  edited.insert(at, "\"persistentKeepalive\":0,");
  CHECK(ConfigError(edited) == "interfaces[0].peers[2].persistentKeepalive: duplicate key");

  // The same key in sibling objects is fine.
  CHECK(ConfigError(text) == "");
}

TEST_CASE("Control characters are refused in every string") {
  struct Case {
    const char* pointer;  // JSON pointer into the valid document
    std::string value;
    const char* message;
  };
  const Case cases[] = {
      {"/chains/0/rules/0", "-j ACCEPT\n-A INPUT -j DROP",
       R"(chains[0].rules[0]: "-j ACCEPT\n-A INPUT -j DROP" contains a control character)"},
      {"/jumps/0/rule", "-j WIREWARP-PREROUTING\r", R"(jumps[0].rule: "-j WIREWARP-PREROUTING\r" contains a control character)"},
      {"/sysctls/0/value", std::string("1\0", 2), R"(sysctls[0].value: "1\u0000" contains a control character)"},
      {"/interfaces/0/peers/0/name", "peer\x7f", R"(interfaces[0].peers[0].name: "peer\u007f" contains a control character)"},
      // U+009B is a one-character CSI for terminals that honour C1 controls.
      {"/interfaces/0/tunnel", "home\u009b2J", R"(interfaces[0].tunnel: "home\u009b2J" contains a control character)"},
  };
  for (const Case& item : cases) {
    CAPTURE(item.pointer);
    OrderedJson document = ValidConfigJson();
    document[OrderedJson::json_pointer(item.pointer)] = item.value;
    CHECK(DocumentError(document) == item.message);
  }
  OrderedJson document = ValidConfigJson();
  document["notices"] = {"fine", "bell\a"};
  CHECK(DocumentError(document) == R"(notices[1]: "bell\u0007" contains a control character)");
}

TEST_CASE("Names that reach argv or iptables-restore are restricted") {
  struct Case {
    const char* pointer;
    const char* value;
    const char* message;
  };
  const Case cases[] = {
      {"/interfaces/0/name", "-wg0",
       "interfaces[0].name: \"-wg0\" is not an interface name (expected 1-15 of A-Z a-z 0-9 _ . = + -, not starting "
       "with . = + -)"},
      {"/interfaces/0/name", "wg0;reboot", nullptr},
      {"/interfaces/0/name", "wg0 up", nullptr},
      {"/interfaces/0/name", "a-very-long-ifname", nullptr},
      {"/interfaces/0/name", "", nullptr},
      {"/routes/0/device", "eth0/../x", nullptr},
      {"/chains/0/name", "INPUT",
       "chains[0].name: \"INPUT\" is not a WireWarp chain name (expected WIREWARP-NAME, at most 28 of A-Z a-z 0-9 _ -)"},
      {"/chains/0/name", "WIREWARP-", nullptr},
      {"/chains/0/name", "WIREWARP-THIS-NAME-IS-TOO-LONG", nullptr},
      {"/chains/0/name", "WIREWARP-X Y", nullptr},
      {"/jumps/0/chain", "-F",
       "jumps[0].chain: \"-F\" is not a chain name (expected at most 28 of A-Z a-z 0-9 _ -, not starting with -)"},
      {"/sysctls/0/key", "../../etc/passwd",
       "sysctls[0].key: \"../../etc/passwd\" is not a sysctl key (expected words of A-Z a-z 0-9 _ = + - joined by dots)"},
      {"/sysctls/0/key", "net..ipv4", nullptr},
      {"/sysctls/0/key", "-w", nullptr},
      {"/sysctls/0/key", "net/ipv4/ip_forward", nullptr},
      {"/agent", "Bad_Name", "agent: \"Bad_Name\" is not a name (expected ^[a-z0-9][a-z0-9-]{0,62}$)"},
      {"/interfaces/0/tunnel", "-x", nullptr},
      {"/interfaces/0/peers/0/name", "Peer One", nullptr},
      {"/interfaces/0/peers/0/endpoint", "vpn.example.com",
       "interfaces[0].peers[0].endpoint: \"vpn.example.com\" is not an endpoint (expected HOST:PORT, e.g. "
       "vpn.example.com:51820)"},
      {"/interfaces/0/peers/0/endpoint", "vpn.example.com:0", nullptr},
      {"/interfaces/0/peers/0/endpoint", ":51820", nullptr},
      {"/interfaces/0/peers/0/endpoint", "-oProxyCommand=x:1", nullptr},
  };
  for (const Case& item : cases) {
    CAPTURE(item.pointer);
    CAPTURE(item.value);
    OrderedJson document = ValidConfigJson();
    document[OrderedJson::json_pointer(item.pointer)] = item.value;
    std::string error = DocumentError(document);
    if (item.message != nullptr) {
      CHECK(error == item.message);
    } else {
      CHECK_FALSE(error.empty());
    }
  }
  // Names that are fine.
  OrderedJson document = ValidConfigJson();
  document["interfaces"][0]["name"] = "wg_home.1";
  document["routes"][0]["device"] = "br-lan.100";
  document["interfaces"][0]["peers"][0]["name"] = "";
  document["interfaces"][0]["peers"][0]["endpoint"] = "[2001:db8::1]:51820";
  document["jumps"][0]["chain"] = "DOCKER-USER";
  document["sysctls"][0]["key"] = "net.ipv4.conf.br-lan.rp_filter";
  CHECK(DocumentError(document) == "");
}

TEST_CASE("Plan steps are checked by type") {
  auto plan = [](const std::string& step) { return R"({"formatVersion":1,"steps":[)" + step + "]}"; };
  CHECK(PlanError(plan(R"({"type":"upsertPeers","destructive":false})")) ==
        "steps[0].type: \"upsertPeers\" is not a step type (did you mean \"upsertPeer\"?)");
  CHECK(PlanError(plan(R"({"destructive":false,"name":"wg0"})")) == "steps[0]: missing field \"type\"");
  CHECK(PlanError(plan(R"({"type":"setInterfaceUp","name":"wg0"})")) == "steps[0]: missing field \"destructive\"");
  CHECK(PlanError(plan(R"({"type":"setInterfaceUp","destructive":"no","name":"wg0"})")) ==
        "steps[0].destructive: expected true or false, got string \"no\"");
  // A field of another step type is unknown here.
  CHECK(PlanError(plan(R"({"type":"setInterfaceUp","destructive":false,"name":"wg0","mtu":1420})")) ==
        "steps[0].mtu: unknown field");
  CHECK(PlanError(plan(R"({"type":"setInterfaceMtu","destructive":false,"name":"wg0","mtu":10})")) ==
        "steps[0].mtu: 10 is out of range (expected 68-65535)");
  CHECK(PlanError(plan(R"({"type":"deleteInterface","destructive":true,"name":"eth0; rm -rf /"})")) ==
        "steps[0].name: \"eth0; rm -rf /\" is not an interface name (expected 1-15 of A-Z a-z 0-9 _ . = + -, not "
        "starting with . = + -)");
  CHECK(PlanError(plan(R"({"type":"editChain","destructive":false,"table":"nat","name":"WIREWARP-X",)"
                       R"("deleteRules":[],"appendRules":["-j ACCEPT\n-A INPUT -j DROP"]})")) ==
        R"(steps[0].appendRules[0]: "-j ACCEPT\n-A INPUT -j DROP" contains a control character)");
  CHECK(PlanError(plan(R"({"type":"upsertPeer","destructive":false,"interface":"wg0","peer":{"name":"x",)"
                       R"("publicKey":"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=","endpoint":"",)"
                       R"("allowedIps":["10.0.0.0/8",7],"persistentKeepalive":0}})")) ==
        "steps[0].peer.allowedIps[1]: expected a string, got number 7");
  CHECK(PlanError(plan("7")) == "steps[0]: expected an object, got number 7");
}

TEST_CASE("Long hostile values are cut in messages") {
  OrderedJson document = ValidConfigJson();
  document["interfaces"][0]["peers"][0]["publicKey"] = std::string(100000, 'A');
  std::string error = DocumentError(document);
  CHECK(StartsWith(error, "interfaces[0].peers[0].publicKey: \"AAAA"));
  CHECK(error.size() < 200);

  document = ValidConfigJson();
  document["interfaces"][0]["role"] = std::string(5000, 'x') + "\n";
  error = DocumentError(document);
  CHECK(error.size() < 200);
  CHECK(error.find('\n') == std::string::npos);
}

TEST_CASE("Long arrays of objects parse in linear time") {
  // nlohmann's callback parser rescans the parent array on every closed object; 200,000
  // objects would take minutes there. The error proves the whole array was parsed.
  std::string text = R"({"formatVersion":1,"agent":"vps","interfaces":[],"routes":[],"rules":[],"chains":[],)"
                     R"("jumps":[],"sysctls":[],"notices":[)";
  for (int i = 0; i < 200000; ++i) text += i == 0 ? "{}" : ",{}";
  text += "]}";
  CHECK(ConfigError(text) == "notices[0]: expected a string, got object");
}
