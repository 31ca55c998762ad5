// ParseAgentKeys: the --keys file. Valid YAML and JSON maps, and every hostile or broken
// input named with file:line:col and the agent. What the YAML adapter refuses (anchors,
// tags, duplicate keys, control characters, bad encoding, deep nesting) carries its wording.
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
        "keys.yaml:3:1: duplicate key \"vps\" (first at line 1)");
  // Refused where it stands, among the other problems in document order.
  CHECK(ErrorOf(std::string("vps: ") + kVpsKey + "\nvps: bad\ngw: bad\n") ==
        "keys.yaml:2:1: duplicate key \"vps\" (first at line 1)\n"
        "keys.yaml:3:5: agent \"gw\": \"bad\" is not a WireGuard public key (expected 44 characters of base64 "
        "encoding 32 bytes)");
}

TEST_CASE("ParseAgentKeys refuses anchors and aliases") {
  // The first anchor or alias of a document is the one finding; neither entry is read.
  CHECK(ErrorOf(std::string("vps: &k ") + kVpsKey + "\ngw: *k\n") ==
        "keys.yaml:1:6: anchors and aliases are not supported (found anchor \"&k\")");
  // yaml-cpp itself stops at an alias to no anchor.
  CHECK(ErrorOf(std::string("vps: ") + kVpsKey + "\ngw: *k\n") ==
        "keys.yaml:2:5: invalid YAML: the referenced anchor is not defined (the rest of the file is not read)");
  CHECK(ErrorOf(std::string("&k vps: ") + kVpsKey + "\n") ==
        "keys.yaml:1:1: anchors and aliases are not supported (found anchor \"&k\")");
  // An alias bomb never expands: the anchor is an error and nothing is copied.
  CHECK(ErrorOf("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n") ==
        "keys.yaml:1:4: anchors and aliases are not supported (found anchor \"&a\")\n"
        "keys.yaml:3:4: agent \"c\": expected a WireGuard public key, found a sequence");
}

TEST_CASE("ParseAgentKeys refuses anything but a map at the top") {
  CHECK(ErrorOf(std::string("- vps\n- ") + kVpsKey + "\n") ==
        "keys.yaml:1:1: expected a map of agent name to WireGuard public key, found a sequence");
  CHECK(ErrorOf(kVpsKey) == std::string("keys.yaml:1:1: expected a map of agent name to WireGuard public key, found a "
                                        "scalar \"") + kVpsKey + "\"");
  CHECK(ErrorOf(std::string("vps: ") + kVpsKey + "\n---\ngw: " + kGatewayKey + "\n") ==
        "keys.yaml:3:1: more than one document: a keys file is a single map");
  // Reported once, and nothing in the later documents is checked.
  CHECK(ErrorOf(std::string("vps: ") + kVpsKey + "\n---\ngw: bad\n---\nx: &y !t z\n") ==
        "keys.yaml:3:1: more than one document: a keys file is a single map");
  // What was found before a syntax error is kept.
  CHECK(ErrorOf("vps: bad\n---\nx: *y\n") ==
        "keys.yaml:1:6: agent \"vps\": \"bad\" is not a WireGuard public key (expected 44 characters of base64 "
        "encoding 32 bytes)\n"
        "keys.yaml:3:4: invalid YAML: the referenced anchor is not defined (the rest of the file is not read)");
}

TEST_CASE("ParseAgentKeys refuses nested values and non-string names") {
  CHECK(ErrorOf("vps:\n  publicKey: x\n") == "keys.yaml:2:3: agent \"vps\": expected a WireGuard public key, found a mapping");
  CHECK(ErrorOf("vps:\n") == "keys.yaml:1:1: agent \"vps\": missing WireGuard public key");
  CHECK(ErrorOf("vps: ~\n") == "keys.yaml:1:1: agent \"vps\": missing WireGuard public key");
  CHECK(ErrorOf(std::string("? [a, b]\n: ") + kVpsKey + "\n") == "keys.yaml:1:3: expected an agent name, found a sequence");
  CHECK(ErrorOf(std::string("{a: b}: ") + kVpsKey + "\n") == "keys.yaml:1:1: expected an agent name, found a mapping");
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
        "keys.yaml:1:1: key \"a\\nb\\u001B[31m\" contains control character U+000A");
  CHECK(ErrorOf(std::string("\"a;rm -rf /\": ") + kVpsKey + "\n") ==
        "keys.yaml:1:1: \"a;rm -rf /\" is not a valid agent name (expected ^[a-z0-9][a-z0-9-]{0,62}$)");
  CHECK(ErrorOf(std::string(64, 'a') + ": " + kVpsKey + "\n") ==
        "keys.yaml:1:1: \"" + std::string(64, 'a') +
            "\" is not a valid agent name (expected ^[a-z0-9][a-z0-9-]{0,62}$)");
  CHECK(ErrorOf("\"caf\xc3\xa9\": x\n") ==
        "keys.yaml:1:1: \"caf\xc3\xa9\" is not a valid agent name (expected ^[a-z0-9][a-z0-9-]{0,62}$)");
  // Invalid UTF-8 stops the file before it is parsed.
  CHECK(ErrorOf("vps: x\n\"caf\xc3\": x\n") ==
        "keys.yaml:2:5: invalid UTF-8: truncated sequence starting with byte 0xC3");
}

TEST_CASE("ParseAgentKeys refuses bad keys and names the agent") {
  constexpr char kExpected[] = " is not a WireGuard public key (expected 44 characters of base64 encoding 32 bytes)";
  CHECK(ErrorOf("vps: abc\n") == std::string("keys.yaml:1:6: agent \"vps\": \"abc\"") + kExpected);
  // 43 characters plus padding, but the last character carries bits a 32-byte key cannot have.
  CHECK(ErrorOf("vps: yOBivhu+4ifSiClsPowHNncWpuPaX//7zbkwRFfj739=\n") ==
        std::string("keys.yaml:1:6: agent \"vps\": \"yOBivhu+4ifSiClsPowHNncWpuPaX//7zbkwRFfj739=\"") + kExpected);
  CHECK(ErrorOf("vps: 12345\n") == std::string("keys.yaml:1:6: agent \"vps\": \"12345\"") + kExpected);
  CHECK(ErrorOf(std::string("vps: ") + std::string(100, 'A') + "\n") ==
        "keys.yaml:1:6: agent \"vps\": \"" + std::string(80, 'A') + "...\"" + kExpected);
}

TEST_CASE("ParseAgentKeys refuses tags") {
  CHECK(ErrorOf(std::string("vps: !!binary ") + kVpsKey + "\n") ==
        "keys.yaml:1:6: tag \"!!binary\" is not supported (fleet files use no tags)");
  CHECK(ErrorOf(std::string("!secret vps: ") + kVpsKey + "\n") ==
        "keys.yaml:1:1: tag \"!secret\" is not supported (fleet files use no tags)");
}

TEST_CASE("ParseAgentKeys reports every problem one per line and syntax errors alone") {
  CHECK(ErrorOf(std::string("vps: bad\nGW: ") + kGatewayKey + "\n") ==
        "keys.yaml:1:6: agent \"vps\": \"bad\" is not a WireGuard public key (expected 44 characters of base64 "
        "encoding 32 bytes)\n"
        "keys.yaml:2:1: \"GW\" is not a valid agent name (expected ^[a-z0-9][a-z0-9-]{0,62}$)");
  CHECK(ErrorOf("{vps: [unclosed\n") ==
        "keys.yaml:2:1: invalid YAML: end of sequence flow not found (the rest of the file is not read)");
}

TEST_CASE("ParseAgentKeys survives deep nesting without recursing into it") {
  std::string deep = "vps: " + std::string(10000, '[') + std::string(10000, ']') + "\n";
  CHECK(ErrorOf(deep) == "keys.yaml:1:37: nesting deeper than 32 levels is not supported (the rest of the file is not "
                         "read)");
}

}  // namespace
}  // namespace ww
