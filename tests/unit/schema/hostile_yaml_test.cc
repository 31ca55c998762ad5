// LoadFleet on hostile input: alias bombs, deep nesting, oversized files and scalars,
// invalid UTF-8, NUL and control characters, tags, duplicate keys, names built to be read as
// options or to look like other names. Each check is asserted by its exact message and mark,
// and by the document being left out of the Fleet.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "schema/loader.h"
#include "tests/support/doctest_printers.h"
#include "tests/support/test_values.h"

using namespace ww;

namespace {

using Lines = std::vector<std::string>;

using test_support::FormatDiagnostics;

std::vector<std::string> Errors(const std::string& yaml, const LoadOptions& options = {}) {
  return FormatDiagnostics(LoadFleet({{"evil.yaml", yaml}}, options).diagnostics);
}

size_t ResourceCount(const Fleet& fleet) {
  return fleet.tunnels.size() + fleet.peers.size() + fleet.forwards.size() + fleet.templates.size();
}

// A valid Peer whose name (and optionally more spec) is given verbatim.
std::string PeerNamed(const std::string& name_yaml, const std::string& spec_extra = "") {
  return "apiVersion: wirewarp.dev/v1\n"
         "kind: Peer\n"
         "metadata:\n"
         "  name: " +
         name_yaml +
         "\n"
         "spec:\n"
         "  tunnel: vps\n"
         "  agent: gw\n" +
         spec_extra;
}

const std::string kValidPeer = PeerNamed("ok");

}  // namespace

TEST_CASE("Hostile: a billion-laughs alias bomb is refused at the first anchor") {
  std::string bomb = "apiVersion: wirewarp.dev/v1\nkind: Peer\nmetadata: {name: lol}\n";
  bomb += "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int level = 1; level < 10; ++level) {
    std::string previous = "*a" + std::to_string(level - 1);
    bomb += 'a';  // not "a" + ...: GCC 12 warns falsely (-Wrestrict) on that
    bomb += std::to_string(level) + ": &a" + std::to_string(level) + " [";
    for (int i = 0; i < 9; ++i) bomb += (i > 0 ? ", " : "") + previous;
    bomb += "]\n";
  }
  LoadResult result = LoadFleet({{"evil.yaml", bomb}});
  CHECK(ResourceCount(result.fleet) == 0);
  std::vector<std::string> errors = FormatDiagnostics(result.diagnostics);
  // Only the first anchor is reported; the other 9 keys are unknown fields.
  REQUIRE(errors.size() == 12);
  CHECK(errors[0] == "evil.yaml:1:1: error: Peer/lol: spec: missing required field \"spec\"");
  CHECK(errors[1] == "evil.yaml:4:1: error: Peer/lol: a0: unknown field \"a0\"");
  CHECK(errors[2] == "evil.yaml:4:5: error: Peer/lol: a0: anchors and aliases are not supported (found anchor \"&a0\")");
  CHECK(errors[11] == "evil.yaml:13:1: error: Peer/lol: a9: unknown field \"a9\"");
}

TEST_CASE("Hostile: anchors and aliases are refused even where the values would be valid") {
  CHECK(Errors(kValidPeer + "  address: &addr 10.77.0.2\n") ==
        Lines{"evil.yaml:8:12: error: Peer/ok: spec.address: anchors and aliases are not supported (found anchor \"&addr\")"});
  CHECK(Errors("base: &base {tunnel: vps}\n---\n" + kValidPeer + "  lan: [&l 192.168.1.0/24]\n") ==
        Lines{
            "evil.yaml:1:1: error: kind: missing required field \"kind\"",
            "evil.yaml:1:1: error: apiVersion: missing required field \"apiVersion\"",
            "evil.yaml:1:7: error: base: anchors and aliases are not supported (found anchor \"&base\")",
            "evil.yaml:10:9: error: Peer/ok: spec.lan[0]: anchors and aliases are not supported (found anchor \"&l\")",
        });
  // A self-referencing alias: the anchor is reported once, the alias inside adds nothing.
  CHECK(Errors("apiVersion: wirewarp.dev/v1\nkind: Tunnel\nmetadata: {name: loop}\nspec: &s [*s]\n") ==
        Lines{"evil.yaml:4:7: error: Tunnel/loop: spec: anchors and aliases are not supported (found anchor \"&s\")"});
  CHECK(Errors("a: *missing\n") == Lines{"evil.yaml:1:4: error: invalid YAML: the referenced anchor is not defined (the "
                                         "rest of the file is not read)"});
}

TEST_CASE("Hostile: 10000 levels of flow nesting stop the file at max_depth") {
  std::string deep = kValidPeer + "---\nspec: " + std::string(10000, '[') + std::string(10000, ']') + "\n---\n" +
                     PeerNamed("after");
  LoadResult result = LoadFleet({{"evil.yaml", deep}});
  CHECK(FormatDiagnostics(result.diagnostics) ==
        Lines{"evil.yaml:9:38: error: nesting deeper than 32 levels is not supported (the rest of the file is not read)"});
  // The document before still loads; the one after is not read.
  REQUIRE(result.fleet.peers.size() == 1);
  CHECK(result.fleet.peers[0].metadata.name == "ok");
}

TEST_CASE("Hostile: deep block mappings hit max_depth too, and the option is honoured") {
  std::string deep = "spec:\n";
  for (int level = 1; level <= 40; ++level) deep += std::string(static_cast<size_t>(level) * 2, ' ') + "k:\n";
  CHECK(Errors(deep) ==
        Lines{"evil.yaml:33:65: error: nesting deeper than 32 levels is not supported (the rest of the file is not read)"});
  // A ServiceTemplate needs 4 levels: document, spec, ports, one port set.
  std::string service = "apiVersion: wirewarp.dev/v1\nkind: ServiceTemplate\nmetadata: {name: s}\nspec:\n  ports:\n"
                        "    - {protocol: tcp, ports: 80}\n";
  LoadOptions shallow;
  shallow.max_depth = 3;
  CHECK(Errors(service, shallow) ==
        Lines{"evil.yaml:6:7: error: nesting deeper than 3 levels is not supported (the rest of the file is not read)"});
  shallow.max_depth = 4;
  CHECK(Errors(service, shallow).empty());
}

TEST_CASE("Hostile: a file over max_file_bytes is refused unread") {
  std::string huge = kValidPeer + "# " + std::string((size_t{17} << 20), 'x') + "\n";
  LoadResult result = LoadFleet({{"evil.yaml", huge}, {"good.yaml", kValidPeer}});
  CHECK(FormatDiagnostics(result.diagnostics) ==
        Lines{"evil.yaml: error: file is " + std::to_string(huge.size()) + " bytes, larger than the limit of 16777216 bytes"});
  CHECK(result.fleet.peers.size() == 1);
  LoadOptions small;
  small.max_file_bytes = 50;
  CHECK(Errors(kValidPeer, small) ==
        Lines{"evil.yaml: error: file is " + std::to_string(kValidPeer.size()) + " bytes, larger than the limit of 50 bytes"});
  small.max_file_bytes = kValidPeer.size();
  CHECK(Errors(kValidPeer, small).empty());
}

TEST_CASE("Hostile: invalid UTF-8 anywhere is refused with the first bad byte's line and column") {
  auto with_bytes = [](const std::string& bytes) { return Errors(kValidPeer + "  # note: caf" + bytes + " ok\n"); };
  const std::string at = "evil.yaml:8:14: error: ";
  CHECK(with_bytes("\xC0\xAF") == Lines{at + "invalid UTF-8: overlong encoding (byte 0xC0)"});
  CHECK(with_bytes("\xE0\x80\xAF") == Lines{at + "invalid UTF-8: overlong encoding (bytes 0xE0 0x80)"});
  CHECK(with_bytes("\xF0\x80\x80\xAF") == Lines{at + "invalid UTF-8: overlong encoding (bytes 0xF0 0x80)"});
  CHECK(with_bytes("\x80") == Lines{at + "invalid UTF-8: stray continuation byte 0x80"});
  CHECK(with_bytes("\xC3") == Lines{at + "invalid UTF-8: truncated sequence starting with byte 0xC3"});
  CHECK(with_bytes("\xE2\x82") == Lines{at + "invalid UTF-8: truncated sequence starting with byte 0xE2"});
  CHECK(with_bytes("\xED\xA0\x80") == Lines{at + "invalid UTF-8: encoded surrogate (bytes 0xED 0xA0)"});
  CHECK(with_bytes("\xF4\x90\x80\x80") == Lines{at + "invalid UTF-8: code point beyond U+10FFFF (bytes 0xF4 0x90)"});
  CHECK(with_bytes("\xFF") == Lines{at + "invalid UTF-8: byte 0xFF never appears in UTF-8"});
  CHECK(Errors("name: caf\xC3") == Lines{"evil.yaml:1:10: error: invalid UTF-8: truncated sequence starting with byte 0xC3"});
  // Valid multi-byte text in a comment is fine.
  CHECK(with_bytes("\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80").empty());
}

TEST_CASE("Hostile: NUL bytes and the \\0 escape are refused") {
  LoadResult result = LoadFleet({{"evil.yaml", kValidPeer + std::string("  address: 10.77.0.2\0 # x\n", 27)}});
  CHECK(FormatDiagnostics(result.diagnostics) == Lines{"evil.yaml:8:21: error: contains a NUL byte (fleet files are UTF-8 text)"});
  CHECK(ResourceCount(result.fleet) == 0);
  CHECK(Errors(PeerNamed("\"a\\0b\"")) ==
        Lines{"evil.yaml:4:9: error: Peer: metadata.name: \"a\\u0000b\" contains control character U+0000"});
}

TEST_CASE("Hostile: control characters in any scalar or key are refused, naming the character") {
  CHECK(Errors(PeerNamed("\"web\\tserver\"")) ==
        Lines{"evil.yaml:4:9: error: Peer: metadata.name: \"web\\tserver\" contains control character U+0009"});
  CHECK(Errors(PeerNamed("\"web\\nkind: Tunnel\"")) ==
        Lines{"evil.yaml:4:9: error: Peer: metadata.name: \"web\\nkind: Tunnel\" contains control character U+000A"});
  CHECK(Errors(PeerNamed("\"web\\r\"")) ==
        Lines{"evil.yaml:4:9: error: Peer: metadata.name: \"web\\r\" contains control character U+000D"});
  CHECK(Errors(PeerNamed("ok", "  address: \"10.77.0.2\\x7f\"\n")) ==
        Lines{"evil.yaml:8:12: error: Peer/ok: spec.address: \"10.77.0.2\\u007F\" contains control character U+007F"});
  // C1: NEL written as an escape (yaml-cpp hands it over as the Latin-1 byte) and as raw UTF-8.
  CHECK(Errors(PeerNamed("ok", "  address: \"10.77.0.2\\N\"\n")) ==
        Lines{"evil.yaml:8:12: error: Peer/ok: spec.address: \"10.77.0.2\\x85\" contains control character U+0085"});
  CHECK(Errors(PeerNamed("ok", "  address: \"\\_10.77.0.2\"\n")) ==
        Lines{"evil.yaml:8:12: error: Peer/ok: spec.address: \"\\xA010.77.0.2\" is not valid UTF-8 after its escapes are "
              "applied"});
  CHECK(Errors(PeerNamed("ok", "  tunnel2: \"x\xC2\x9Fy\"\n")) ==
        Lines{"evil.yaml:8:3: error: Peer/ok: spec.tunnel2: unknown field \"tunnel2\" (did you mean \"tunnel\"?)",
              "evil.yaml:8:12: error: Peer/ok: spec.tunnel2: \"x\\u009Fy\" contains control character U+009F"});
  // A raw tab inside a plain scalar, and a newline from a block scalar.
  CHECK(Errors(PeerNamed("ok", "  address: 10.77.0.2\t5\n")) ==
        Lines{"evil.yaml:8:12: error: Peer/ok: spec.address: \"10.77.0.2\\t5\" contains control character U+0009"});
  std::string forward = "apiVersion: wirewarp.dev/v1\nkind: PortForward\nmetadata: {name: web}\nspec:\n  tunnel: vps\n"
                        "  template: web\n  to: {address: 10.77.0.2}\n  description: |\n    line one\n    line two\n";
  CHECK(Errors(forward) == Lines{"evil.yaml:8:16: error: PortForward/web: spec.description: \"line one\\nline two\\n\" "
                                 "contains control character U+000A"});
  // In a key: the field is the parent's.
  CHECK(Errors(PeerNamed("ok", "  \"agent\\t\": gw2\n")) ==
        Lines{"evil.yaml:8:3: error: Peer/ok: spec: key \"agent\\t\" contains control character U+0009"});
}

TEST_CASE("Hostile: scalars longer than max_scalar_bytes are refused without being echoed") {
  std::string long_name = std::string(70000, 'a');
  CHECK(Errors(PeerNamed(long_name)) ==
        Lines{"evil.yaml:4:9: error: Peer: metadata.name: \"" + std::string(80, 'a') +
              "...\" is 70000 bytes long (the limit is 65536)"});
  LoadOptions small;
  small.max_scalar_bytes = 15;
  CHECK(Errors(PeerNamed("ok", "  address: 10.77.100.200/32\n"), small) ==
        Lines{"evil.yaml:8:12: error: Peer/ok: spec.address: \"10.77.100.200/32\" is 16 bytes long (the limit is 15)"});
  CHECK(Errors(PeerNamed("ok", "  address: 10.77.100.200\n"), small).empty());
  // An over-long key is reported under its parent, and no field of that mapping is called missing.
  CHECK(Errors(PeerNamed("ok", "  " + std::string(16, 'k') + ": x\n"), small) ==
        Lines{"evil.yaml:8:3: error: Peer/ok: spec: key \"" + std::string(16, 'k') + "\" is 16 bytes long (the limit is 15)"});
}

TEST_CASE("Hostile: names that could be options, shell syntax or homoglyphs are refused") {
  CHECK(Errors(PeerNamed("-rf")) ==
        Lines{"evil.yaml:4:9: error: Peer: metadata.name: \"-rf\" must not start with '-' (it could be read as a "
              "command-line option)"});
  CHECK(Errors(PeerNamed("\"--help\"")) ==
        Lines{"evil.yaml:4:9: error: Peer: metadata.name: \"--help\" must not start with '-' (it could be read as a "
              "command-line option)"});
  const std::vector<std::pair<std::string, std::string>> shell = {
      {"\"a;reboot\"", "';'"}, {"\"a|b\"", "'|'"},   {"\"a&b\"", "'&'"},   {"\"$(id)\"", "'$'"},
      {"\"a(b\"", "'('"},      {"\"a)b\"", "')'"},   {"\"`id`\"", "'`'"},  {"\"a b\"", "U+0020"},
      {"\"../etc\"", "'.'"},   {"\"a/b\"", "'/'"},   {"\"Web\"", "'W'"},   {"\"a_b\"", "'_'"},
  };
  for (const auto& [name, character] : shell) {
    CAPTURE(name);
    std::string quoted = name.substr(1, name.size() - 2);
    CHECK(Errors(PeerNamed(name)) ==
          Lines{"evil.yaml:4:9: error: Peer: metadata.name: \"" + quoted + "\" is not a valid name: character " + character +
                " is not allowed (use lowercase letters, digits and '-')"});
  }
  // Cyrillic 'е' (U+0435) and fullwidth 'ｗ' (U+FF57) look like ASCII letters.
  CHECK(Errors(PeerNamed("w\xD0\xB5" "b")) ==
        Lines{"evil.yaml:4:9: error: Peer: metadata.name: \"w\xD0\xB5" "b\" is not a valid name: character U+0435 is not "
              "allowed (use lowercase letters, digits and '-')"});
  CHECK(Errors(PeerNamed("\xEF\xBD\x97" "eb")) ==
        Lines{"evil.yaml:4:9: error: Peer: metadata.name: \"\xEF\xBD\x97" "eb\" is not a valid name: character U+FF57 is "
              "not allowed (use lowercase letters, digits and '-')"});
  CHECK(Errors(PeerNamed(std::string(64, 'a'))) ==
        Lines{"evil.yaml:4:9: error: Peer: metadata.name: \"" + std::string(64, 'a') +
              "\" is not a valid name: longer than 63 characters"});
  CHECK(Errors(PeerNamed("\"\"")) == Lines{"evil.yaml:4:9: error: Peer: metadata.name: must not be empty"});
  CHECK(Errors(PeerNamed(std::string(63, 'a'))).empty());
}

TEST_CASE("Hostile: explicit non-standard tags are refused") {
  CHECK(Errors(PeerNamed("ok", "  address: !!python/object:os.system [echo]\n")) ==
        Lines{"evil.yaml:8:12: error: Peer/ok: spec.address: tag \"!!python/object:os.system\" is not supported (fleet "
              "files use no tags)"});
  CHECK(Errors(PeerNamed("!custom ok")) ==
        Lines{"evil.yaml:4:9: error: Peer: metadata.name: tag \"!custom\" is not supported (fleet files use no tags)"});
  CHECK(Errors("!!python/object/apply:os.system\n- rm -rf /\n") ==
        Lines{"evil.yaml:1:1: error: tag \"!!python/object/apply:os.system\" is not supported (fleet files use no tags)"});
  CHECK(Errors(PeerNamed("ok", "  lan: !!set {a: b}\n")) ==
        Lines{"evil.yaml:8:8: error: Peer/ok: spec.lan: tag \"!!set\" is not supported (fleet files use no tags)"});
  // The standard tags mean what they say.
  CHECK(Errors(PeerNamed("!!str ok", "  gateway: !!bool true\n  lan: !!seq []\n")).empty());
}

TEST_CASE("Hostile: duplicate keys are refused at every level") {
  LoadResult top = LoadFleet({{"evil.yaml", kValidPeer + "kind: Tunnel\n"}});
  CHECK(FormatDiagnostics(top.diagnostics) == Lines{"evil.yaml:8:1: error: Peer/ok: kind: duplicate key \"kind\" (first at line 2)"});
  CHECK(ResourceCount(top.fleet) == 0);
  CHECK(Errors(PeerNamed("ok\n  name: other")) ==
        Lines{"evil.yaml:5:3: error: Peer/ok: metadata.name: duplicate key \"name\" (first at line 4)"});
  CHECK(Errors(PeerNamed("ok", "  agent: gw\n  agent: gw\n")) ==
        Lines{"evil.yaml:8:3: error: Peer/ok: spec.agent: duplicate key \"agent\" (first at line 7)",
              "evil.yaml:9:3: error: Peer/ok: spec.agent: duplicate key \"agent\" (first at line 7)"});
  CHECK(Errors(PeerNamed("ok\n  labels: {env: a, \"env\": b}")) ==
        Lines{"evil.yaml:5:20: error: Peer/ok: metadata.labels.env: duplicate key \"env\" (first at line 5)"});
  // A large mapping takes the sorting path.
  std::string labels = "ok\n  labels:\n";
  for (int i = 0; i < 40; ++i) labels += "    l" + std::to_string(i) + ": v\n";
  labels += "    l7: again";
  CHECK(Errors(PeerNamed(labels)) ==
        Lines{"evil.yaml:46:5: error: Peer/ok: metadata.labels.l7: duplicate key \"l7\" (first at line 13)"});
}

TEST_CASE("Hostile: a syntax error stops the file - earlier documents load, other files still load") {
  LoadResult result = LoadFleet({{"evil.yaml", kValidPeer + "---\nspec:\n  agent: a\n bad: b\n---\n" + PeerNamed("later")},
                                 {"good.yaml", PeerNamed("other")}});
  CHECK(FormatDiagnostics(result.diagnostics) ==
        Lines{"evil.yaml:11:2: error: invalid YAML: end of map not found (the rest of the file is not read)"});
  REQUIRE(result.fleet.peers.size() == 2);
  CHECK(result.fleet.peers[0].metadata.name == "ok");
  CHECK(result.fleet.peers[1].metadata.name == "other");
  CHECK(Errors("apiVersion: wirewarp.dev/v1\nmetadata:\n\tname: x\n") ==
        Lines{"evil.yaml:3:6: error: invalid YAML: illegal map value (the rest of the file is not read)"});
  // yaml-cpp 0.7 would emit empty documents forever on a stray top-level ','.
  LoadResult stray = LoadFleet({{"evil.yaml", kValidPeer + "---\n,kind: Peer\n"}});
  CHECK(FormatDiagnostics(stray.diagnostics) ==
        Lines{"evil.yaml:9:1: error: invalid YAML: unexpected \",\" (the rest of the file is not read)"});
  CHECK(stray.fleet.peers.size() == 1);
  CHECK(Errors("a: [1, 2\n") ==
        Lines{"evil.yaml:2:1: error: invalid YAML: end of sequence flow not found (the rest of the file is not read)"});
}

TEST_CASE("Hostile: a refused name never reaches the object of a message") {
  // "Peer/a\nb" would inject a line into CI output; the object stays "Peer" and the name is escaped.
  LoadResult result = LoadFleet({{"evil.yaml", PeerNamed("\"a\\nb\"", "  colour: red\n")}});
  REQUIRE(result.diagnostics.size() == 2);
  CHECK(result.diagnostics[0].object == "Peer");
  CHECK(result.diagnostics[1].object == "Peer");
  for (const Diagnostic& d : result.diagnostics) CHECK(FormatDiagnostic(d).find('\n') == std::string::npos);
}
