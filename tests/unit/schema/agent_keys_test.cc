// ParseAgentKeys: the --keys file. Valid YAML and JSON maps, and every hostile or broken
// input named with file:line:col and the agent.
#include "schema/agent_keys.h"

#include <doctest/doctest.h>

#include <string>

namespace ww {
namespace {

constexpr char kVpsKey[] = "yOBivhu+4ifSiClsPowHNncWpuPaX//7zbkwRFfj738=";
constexpr char kGatewayKey[] = "kBZTb2LIH+E+fCHIgHr5b9k/Z36QXlOBeg0rcqlbzWs=";

// The error text of a parse expected to fail.
std::string ErrorOf(std::string_view text) {
  Result<std::map<std::string, WireguardKey>> keys = ParseAgentKeys(text, "keys.yaml");
  REQUIRE_FALSE(keys.ok());
  CHECK(keys.status().code() == StatusCode::kInvalidArgument);
  return keys.status().message();
}

TEST_CASE("ParseAgentKeys reads a YAML map of agent name to key") {
  Result<std::map<std::string, WireguardKey>> keys =
      ParseAgentKeys(std::string("# comment\nvps: ") + kVpsKey + "\n\"gw\": '" + kGatewayKey + "'\n", "keys.yaml");
  REQUIRE(keys.ok());
  REQUIRE(keys->size() == 2);
  CHECK(keys->at("vps").ToBase64() == kVpsKey);
  CHECK(keys->at("gw").ToBase64() == kGatewayKey);
}

TEST_CASE("ParseAgentKeys reads JSON as YAML") {
  Result<std::map<std::string, WireguardKey>> keys =
      ParseAgentKeys(std::string("{\"vps\": \"") + kVpsKey + "\", \"gw\": \"" + kGatewayKey + "\"}", "keys.json");
  REQUIRE(keys.ok());
  CHECK(keys->size() == 2);
  CHECK(keys->at("gw").ToBase64() == kGatewayKey);
}

TEST_CASE("ParseAgentKeys: an empty file or an explicit null is an empty map") {
  for (std::string_view text : {"", "# only a comment\n", "---\n", "~\n"}) {
    CAPTURE(text);
    Result<std::map<std::string, WireguardKey>> keys = ParseAgentKeys(text, "keys.yaml");
    REQUIRE(keys.ok());
    CHECK(keys->empty());
  }
}

TEST_CASE("ParseAgentKeys refuses a duplicate agent and names the first line") {
  CHECK(ErrorOf(std::string("vps: ") + kVpsKey + "\ngw: " + kGatewayKey + "\nvps: " + kGatewayKey + "\n") ==
        "keys.yaml:3:1: agent \"vps\": duplicate entry (first at line 1)");
}

TEST_CASE("ParseAgentKeys refuses anchors and aliases") {
  CHECK(ErrorOf(std::string("vps: &k ") + kVpsKey + "\ngw: *k\n") ==
        "keys.yaml:1:6: anchors are not allowed in a keys file\n"
        "keys.yaml:2:5: aliases are not allowed in a keys file");
  // An alias bomb never expands: the first alias is an error and nothing is copied.
  CHECK(ErrorOf("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n") ==
        "keys.yaml:1:4: anchors are not allowed in a keys file\n"
        "keys.yaml:1:4: agent \"a\": expected a WireGuard public key, found a list\n"
        "keys.yaml:2:4: anchors are not allowed in a keys file\n"
        "keys.yaml:2:4: agent \"b\": expected a WireGuard public key, found a list\n"
        "keys.yaml:2:8: aliases are not allowed in a keys file\n"
        "keys.yaml:2:12: aliases are not allowed in a keys file\n"
        "keys.yaml:3:4: agent \"c\": expected a WireGuard public key, found a list\n"
        "keys.yaml:3:5: aliases are not allowed in a keys file\n"
        "keys.yaml:3:9: aliases are not allowed in a keys file");
}

TEST_CASE("ParseAgentKeys refuses anything but a map at the top") {
  CHECK(ErrorOf(std::string("- vps\n- ") + kVpsKey + "\n") ==
        "keys.yaml:1:1: expected a map of agent name to WireGuard public key, found a list");
  CHECK(ErrorOf(kVpsKey) == "keys.yaml:1:1: expected a map of agent name to WireGuard public key, found a string");
  CHECK(ErrorOf(std::string("vps: ") + kVpsKey + "\n---\ngw: " + kGatewayKey + "\n") ==
        "keys.yaml:2:1: more than one document: a keys file is a single map");
}

TEST_CASE("ParseAgentKeys refuses nested values and non-string names") {
  CHECK(ErrorOf("vps:\n  publicKey: x\n") == "keys.yaml:2:3: agent \"vps\": expected a WireGuard public key, found a map");
  CHECK(ErrorOf("vps:\n") == "keys.yaml:1:1: agent \"vps\": missing WireGuard public key");
  CHECK(ErrorOf("vps: ~\n") == "keys.yaml:1:1: agent \"vps\": missing WireGuard public key");
  CHECK(ErrorOf(std::string("? [a, b]\n: ") + kVpsKey + "\n") == "keys.yaml:1:3: expected an agent name, found a list");
  CHECK(ErrorOf(std::string("null: ") + kVpsKey + "\n") ==
        "keys.yaml:1:1: expected an agent name, found null (quote a name such as \"null\")");
}

TEST_CASE("ParseAgentKeys refuses bad names and quotes them safely") {
  CHECK(ErrorOf(std::string("-rf: ") + kVpsKey + "\n") ==
        "keys.yaml:1:1: \"-rf\" is not a valid agent name (expected ^[a-z0-9][a-z0-9-]{0,62}$)");
  CHECK(ErrorOf(std::string("Gateway: ") + kVpsKey + "\n") ==
        "keys.yaml:1:1: \"Gateway\" is not a valid agent name (expected ^[a-z0-9][a-z0-9-]{0,62}$)");
  // A newline and a terminal escape in a name are shown escaped, never raw.
  CHECK(ErrorOf(std::string("\"a\\nb\\e[31m\": ") + kVpsKey + "\n") ==
        "keys.yaml:1:1: \"a\\x0ab\\x1b[31m\" is not a valid agent name (expected ^[a-z0-9][a-z0-9-]{0,62}$)");
  CHECK(ErrorOf(std::string("\"a;rm -rf /\": ") + kVpsKey + "\n") ==
        "keys.yaml:1:1: \"a;rm -rf /\" is not a valid agent name (expected ^[a-z0-9][a-z0-9-]{0,62}$)");
  CHECK(ErrorOf(std::string(64, 'a') + ": " + kVpsKey + "\n") ==
        "keys.yaml:1:1: \"" + std::string(64, 'a') +
            "\" is not a valid agent name (expected ^[a-z0-9][a-z0-9-]{0,62}$)");
  CHECK(ErrorOf("\"caf\xc3\xa9\": x\n") ==
        "keys.yaml:1:1: \"caf\\xc3\\xa9\" is not a valid agent name (expected ^[a-z0-9][a-z0-9-]{0,62}$)");
}

TEST_CASE("ParseAgentKeys refuses bad keys and names the agent") {
  constexpr char kExpected[] = " is not a WireGuard public key (expected 44 characters of base64 encoding 32 bytes)";
  CHECK(ErrorOf("vps: abc\n") == std::string("keys.yaml:1:6: agent \"vps\": \"abc\"") + kExpected);
  // 43 characters plus padding, but the last character carries bits a 32-byte key cannot have.
  CHECK(ErrorOf("vps: yOBivhu+4ifSiClsPowHNncWpuPaX//7zbkwRFfj739=\n") ==
        std::string("keys.yaml:1:6: agent \"vps\": \"yOBivhu+4ifSiClsPowHNncWpuPaX//7zbkwRFfj739=\"") + kExpected);
  CHECK(ErrorOf("vps: 12345\n") == std::string("keys.yaml:1:6: agent \"vps\": \"12345\"") + kExpected);
  CHECK(ErrorOf(std::string("vps: ") + std::string(100, 'A') + "\n") ==
        "keys.yaml:1:6: agent \"vps\": \"" + std::string(64, 'A') + "...\"" + kExpected);
}

TEST_CASE("ParseAgentKeys refuses tags") {
  CHECK(ErrorOf(std::string("vps: !!binary ") + kVpsKey + "\n") ==
        "keys.yaml:1:6: tags are not allowed in a keys file (found \"tag:yaml.org,2002:binary\")");
}

TEST_CASE("ParseAgentKeys reports every problem one per line and syntax errors alone") {
  CHECK(ErrorOf(std::string("vps: bad\nGW: ") + kGatewayKey + "\n") ==
        "keys.yaml:1:6: agent \"vps\": \"bad\" is not a WireGuard public key (expected 44 characters of base64 "
        "encoding 32 bytes)\n"
        "keys.yaml:2:1: \"GW\" is not a valid agent name (expected ^[a-z0-9][a-z0-9-]{0,62}$)");
  CHECK(ErrorOf("{vps: [unclosed\n") == "keys.yaml:2:1: end of sequence flow not found");
}

TEST_CASE("ParseAgentKeys survives deep nesting without recursing into it") {
  std::string deep = "vps: " + std::string(10000, '[') + std::string(10000, ']') + "\n";
  std::string message = ErrorOf(deep);
  CHECK(message.starts_with("keys.yaml:1:"));
}

}  // namespace
}  // namespace ww
