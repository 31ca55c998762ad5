// LoadFleet on well-formed YAML: full decodes with marks, defaults, many documents, and every
// per-document type and format error with its exact message, line and column.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "schema/loader.h"
#include "schema/resource_fields.h"
#include "tests/support/doctest_printers.h"
#include "tests/support/test_values.h"

using namespace ww;

namespace doctest {
template <>
struct StringMaker<Mark> {
  static String convert(const Mark& mark) { return (std::to_string(mark.line) + ":" + std::to_string(mark.column)).c_str(); }
};
}  // namespace doctest

namespace {

LoadResult Load(const std::string& yaml, const std::string& path = "fleet.yaml") { return LoadFleet({{path, yaml}}); }

std::vector<std::string> Errors(const std::string& yaml) { return test_support::FormatDiagnostics(Load(yaml).diagnostics); }

using Lines = std::vector<std::string>;

Mark At(int line, int column) { return {line, column}; }

const char* kKey = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

// A valid document of each kind, used as the base for error cases.
std::string TunnelDoc(const std::string& spec_extra = "") {
  return "apiVersion: wirewarp.dev/v1\n"
         "kind: Tunnel\n"
         "metadata:\n"
         "  name: vps\n"
         "spec:\n"
         "  agent: vps-agent\n"
         "  endpoint: vpn.example.com\n"
         "  network: 10.77.0.0/24\n" +
         spec_extra;
}

std::string PeerDoc(const std::string& spec) {
  return "apiVersion: wirewarp.dev/v1\n"
         "kind: Peer\n"
         "metadata:\n"
         "  name: home\n"
         "spec:\n"
         "  tunnel: vps\n" +
         spec;
}

std::string ForwardDoc(const std::string& spec) {
  return "apiVersion: wirewarp.dev/v1\n"
         "kind: PortForward\n"
         "metadata:\n"
         "  name: web\n"
         "spec:\n"
         "  tunnel: vps\n" +
         spec;
}

}  // namespace

TEST_CASE("LoadFleet decodes a Tunnel with every field and its marks") {
  LoadResult result = Load(
      "# yaml-language-server: $schema=../wirewarp.schema.json\n"  // 1
      "apiVersion: wirewarp.dev/v1\n"                               // 2
      "kind: Tunnel\n"                                              // 3
      "metadata:\n"                                                 // 4
      "  name: vps\n"                                               // 5
      "  labels:\n"                                                 // 6
      "    env: prod\n"                                             // 7
      "    example.com/team: \"net\"\n"                             // 8
      "spec:\n"                                                     // 9
      "  agent: vps-agent\n"                                        // 10
      "  endpoint: vpn.example.com:443\n"                           // 11
      "  listenPort: 443\n"                                         // 12
      "  interface: wg-vps\n"                                       // 13
      "  network: 10.77.0.0/24\n"                                   // 14
      "  publicInterface: eth0\n"                                   // 15
      "  mtu: 1380\n"                                               // 16
      "  selfHeal: false\n");                                       // 17
  CHECK(result.diagnostics.empty());
  REQUIRE(result.fleet.tunnels.size() == 1);
  const Tunnel& tunnel = result.fleet.tunnels[0];
  Tunnel expected;
  expected.metadata.name = "vps";
  expected.metadata.labels = {{"env", "prod"}, {"example.com/team", "net"}};
  expected.spec.agent = "vps-agent";
  expected.spec.endpoint = "vpn.example.com:443";
  expected.spec.listen_port = 443;
  expected.spec.interface = "wg-vps";
  expected.spec.network = *Ipv4Cidr::Parse("10.77.0.0/24");
  expected.spec.public_interface = "eth0";
  expected.spec.mtu = 1380;
  expected.spec.self_heal = false;
  CHECK(tunnel == expected);
  CHECK(tunnel.origin.file == "fleet.yaml");
  CHECK(tunnel.origin.mark == At(2, 1));
  CHECK(tunnel.origin.Find("apiVersion") == At(2, 13));
  CHECK(tunnel.origin.Find("metadata") == At(4, 1));
  CHECK(tunnel.origin.Find("metadata.name") == At(5, 9));
  CHECK(tunnel.origin.Find("metadata.labels") == At(6, 3));
  CHECK(tunnel.origin.Find("metadata.labels.example.com/team") == At(8, 23));
  CHECK(tunnel.origin.Find("spec") == At(9, 1));
  CHECK(tunnel.origin.Find("spec.agent") == At(10, 10));
  CHECK(tunnel.origin.Find("spec.endpoint") == At(11, 13));
  CHECK(tunnel.origin.Find("spec.listenPort") == At(12, 15));
  CHECK(tunnel.origin.Find("spec.interface") == At(13, 14));
  CHECK(tunnel.origin.Find("spec.network") == At(14, 12));
  CHECK(tunnel.origin.Find("spec.publicInterface") == At(15, 20));
  CHECK(tunnel.origin.Find("spec.mtu") == At(16, 8));
  CHECK(tunnel.origin.Find("spec.selfHeal") == At(17, 13));
}

TEST_CASE("LoadFleet applies the model's defaults when optional fields are absent or null") {
  LoadResult result = Load(TunnelDoc("  publicInterface: ~\n  mtu:\n") + "---\n" +
                           PeerDoc("  agent: home-gw\n  address: null\n"));
  CHECK(result.diagnostics.empty());
  REQUIRE(result.fleet.tunnels.size() == 1);
  const TunnelSpec& tunnel = result.fleet.tunnels[0].spec;
  CHECK(tunnel.listen_port == 51820);
  CHECK(tunnel.interface == "wg0");
  CHECK(tunnel.mtu == 1420);
  CHECK(tunnel.self_heal);
  CHECK_FALSE(tunnel.public_interface.has_value());
  CHECK(result.fleet.tunnels[0].metadata.labels.empty());
  REQUIRE(result.fleet.peers.size() == 1);
  const PeerSpec& peer = result.fleet.peers[0].spec;
  CHECK(peer.interface == "wg0");
  CHECK_FALSE(peer.gateway);
  CHECK_FALSE(peer.keepalive.has_value());
  CHECK_FALSE(peer.address.has_value());
  CHECK_FALSE(peer.public_key.has_value());
  CHECK(peer.lan.empty());
}

TEST_CASE("LoadFleet decodes managed and unmanaged Peers with marks") {
  LoadResult result = Load(PeerDoc(               // lines 1-6
                               "  agent: home-gw\n"         // 7
                               "  address: 10.77.0.2\n"     // 8
                               "  interface: wg1\n"         // 9
                               "  lan:\n"                   // 10
                               "    - 192.168.1.0/24\n"     // 11
                               "    - 192.168.2.0/24\n"     // 12
                               "  gateway: true\n"          // 13
                               "  keepalive: 0\n") +        // 14
                           "---\n" +                        // 15
                           "apiVersion: wirewarp.dev/v1\n"  // 16
                           "kind: Peer\n"                   // 17
                           "metadata: {name: phone}\n"      // 18
                           "spec: {tunnel: vps, publicKey: " + std::string(kKey) + ", lan: []}\n");  // 19
  CHECK(result.diagnostics.empty());
  REQUIRE(result.fleet.peers.size() == 2);
  const Peer& home = result.fleet.peers[0];
  Peer expected;
  expected.metadata.name = "home";
  expected.spec.tunnel = "vps";
  expected.spec.agent = "home-gw";
  expected.spec.address = *Ipv4Address::Parse("10.77.0.2");
  expected.spec.interface = "wg1";
  expected.spec.lan = {*Ipv4Cidr::Parse("192.168.1.0/24"), *Ipv4Cidr::Parse("192.168.2.0/24")};
  expected.spec.gateway = true;
  expected.spec.keepalive = 0;
  CHECK(home == expected);
  CHECK(home.IsManaged());
  CHECK(home.origin.Find("spec.lan") == At(10, 3));
  CHECK(home.origin.Find("spec.lan[0]") == At(11, 7));
  CHECK(home.origin.Find("spec.lan[1]") == At(12, 7));
  CHECK(home.origin.Find("spec.keepalive") == At(14, 14));

  const Peer& phone = result.fleet.peers[1];
  CHECK(phone.metadata.name == "phone");
  CHECK_FALSE(phone.IsManaged());
  REQUIRE(phone.spec.public_key.has_value());
  CHECK(phone.spec.public_key->ToBase64() == kKey);
  CHECK(phone.origin.mark == At(16, 1));
  CHECK(phone.origin.Find("spec.publicKey") == At(19, 32));
  CHECK(phone.origin.Find("spec.tunnel") == At(19, 16));
}

TEST_CASE("LoadFleet decodes PortForwards with ports, remaps and templates") {
  LoadResult result = Load(ForwardDoc(                      // 1-6
                               "  protocol: both\n"         // 7
                               "  ports: \"2302-2305,27016\"\n"  // 8
                               "  to:\n"                    // 9
                               "    address: 192.168.1.10\n"  // 10
                               "    peer: home\n"           // 11
                               "  description: DayZ server\n") +  // 12
                           "---\n" +                        // 13
                           ForwardDoc(                      // 14-19
                               "  protocol: tcp\n"          // 20
                               "  ports: 443\n"             // 21
                               "  to: {address: 10.77.0.2, port: 8443}\n") +  // 22
                           "---\n" + ForwardDoc("  template: minecraft\n  to:\n    address: 10.77.0.3\n"));
  CHECK(result.diagnostics.empty());
  REQUIRE(result.fleet.forwards.size() == 3);
  const PortForward& dayz = result.fleet.forwards[0];
  PortForwardSpec expected;
  expected.tunnel = "vps";
  expected.protocol = Protocol::kBoth;
  expected.ports = {{2302, 2305}, {27016, 27016}};
  expected.to.address = *Ipv4Address::Parse("192.168.1.10");
  expected.to.peer = "home";
  expected.description = "DayZ server";
  CHECK(dayz.spec == expected);
  CHECK(dayz.origin.Find("spec.to") == At(9, 3));
  CHECK(dayz.origin.Find("spec.to.address") == At(10, 14));
  CHECK(dayz.origin.Find("spec.to.peer") == At(11, 11));
  CHECK(dayz.origin.Find("spec.description") == At(12, 16));

  const PortForward& web = result.fleet.forwards[1];
  CHECK(web.spec.protocol == Protocol::kTcp);
  CHECK(web.spec.ports == std::vector<PortRange>{{443, 443}});
  CHECK(web.spec.to.port == 8443);
  CHECK(web.origin.Find("spec.ports") == At(21, 10));
  CHECK(web.origin.Find("spec.to.port") == At(22, 34));

  const PortForward& minecraft = result.fleet.forwards[2];
  CHECK(minecraft.spec.template_name == "minecraft");
  CHECK_FALSE(minecraft.spec.protocol.has_value());
  CHECK(minecraft.spec.ports.empty());
}

TEST_CASE("LoadFleet decodes a ServiceTemplate") {
  LoadResult result = Load(
      "apiVersion: wirewarp.dev/v1\n"  // 1
      "kind: ServiceTemplate\n"        // 2
      "metadata:\n"                    // 3
      "  name: satisfactory\n"         // 4
      "spec:\n"                        // 5
      "  ports:\n"                     // 6
      "    - protocol: udp\n"          // 7
      "      ports: \"7777,15000\"\n"  // 8
      "    - {protocol: tcp, ports: 8888}\n");  // 9
  CHECK(result.diagnostics.empty());
  REQUIRE(result.fleet.templates.size() == 1);
  const ServiceTemplate& service = result.fleet.templates[0];
  CHECK(service.metadata.name == "satisfactory");
  std::vector<PortSet> expected = {{Protocol::kUdp, {{7777, 7777}, {15000, 15000}}}, {Protocol::kTcp, {{8888, 8888}}}};
  CHECK(service.spec.ports == expected);
  CHECK(service.origin.Find("spec.ports[0]") == At(7, 7));
  CHECK(service.origin.Find("spec.ports[0].ports") == At(8, 14));
  CHECK(service.origin.Find("spec.ports[1].protocol") == At(9, 18));
}

TEST_CASE("LoadFleet reads many documents and files, skipping empty documents") {
  std::string first = "# comments only before the first document\n---\n" + TunnelDoc() + "---\n# nothing here\n---\n" +
                      PeerDoc("  agent: gw\n") + "...\n";
  std::string second = PeerDoc("  agent: laptop\n");
  LoadResult result = LoadFleet({{"a.yaml", first}, {"b.yaml", second}, {"empty.yaml", ""}, {"c.yaml", "# nothing\n"}});
  CHECK(result.diagnostics.empty());
  REQUIRE(result.fleet.tunnels.size() == 1);
  REQUIRE(result.fleet.peers.size() == 2);
  CHECK(result.fleet.tunnels[0].origin.mark == At(3, 1));
  CHECK(result.fleet.peers[0].origin.file == "a.yaml");
  CHECK(result.fleet.peers[0].origin.mark == At(14, 1));
  CHECK(result.fleet.peers[0].spec.agent == "gw");
  CHECK(result.fleet.peers[1].origin.file == "b.yaml");
  CHECK(result.fleet.peers[1].origin.mark == At(1, 1));
}

TEST_CASE("CRLF line endings and a UTF-8 byte order mark are accepted") {
  LoadResult result = LoadFleet({{"windows.yaml", "\xEF\xBB\xBF" "apiVersion: wirewarp.dev/v1\r\nkind: Peer\r\nmetadata:\r\n"
                                                  "  name: home\r\nspec:\r\n  tunnel: vps\r\n  agent: gw\r\n  lan:\r\n"
                                                  "    - 192.168.1.0/24\r\n"}});
  CHECK(result.diagnostics.empty());
  REQUIRE(result.fleet.peers.size() == 1);
  CHECK(result.fleet.peers[0].spec.agent == "gw");
  CHECK(result.fleet.peers[0].spec.lan == std::vector<Ipv4Cidr>{*Ipv4Cidr::Parse("192.168.1.0/24")});
  CHECK(result.fleet.peers[0].origin.Find("spec.lan[0]") == At(9, 7));
}

TEST_CASE("A document with errors is left out but every error is reported - others still load") {
  LoadResult result = Load(TunnelDoc("  mtu: 100\n  selfHeal: yes\n") + "---\n" + PeerDoc("  agent: gw\n"));
  CHECK(result.fleet.tunnels.empty());
  CHECK(result.fleet.peers.size() == 1);
  std::vector<std::string> messages;
  for (const Diagnostic& d : result.diagnostics) messages.push_back(FormatDiagnostic(d));
  CHECK(messages == Lines{
                        "fleet.yaml:9:8: error: Tunnel/vps: spec.mtu: \"100\" is out of range (1280-9000)",
                        "fleet.yaml:10:13: error: Tunnel/vps: spec.selfHeal: \"yes\" is not a boolean; write true or "
                        "false (YAML 1.1 words like yes, no, on and off are not accepted)",
                    });
  CHECK(result.diagnostics[0].object == "Tunnel/vps");
  CHECK(result.diagnostics[0].field == "spec.mtu");
}

TEST_CASE("kind and name may come after spec") {
  LoadResult result = Load(
      "spec:\n"
      "  agent: gw\n"
      "  tunnel: vps\n"
      "  lan: [192.168.1.1/24]\n"
      "metadata:\n"
      "  name: home\n"
      "kind: Peer\n"
      "apiVersion: wirewarp.dev/v1\n");
  std::vector<std::string> messages;
  for (const Diagnostic& d : result.diagnostics) messages.push_back(FormatDiagnostic(d));
  CHECK(messages == Lines{"fleet.yaml:4:9: error: Peer/home: spec.lan[0]: \"192.168.1.1/24\" has host bits set (did you "
                          "mean 192.168.1.0/24?)"});
}

TEST_CASE("Unknown fields are refused at every level, with a hint when one is close") {
  CHECK(Errors(TunnelDoc("  listenport: 51821\n  colour: blue\n")) ==
        Lines{
            "fleet.yaml:9:3: error: Tunnel/vps: spec.listenport: unknown field \"listenport\" (did you mean \"listenPort\"?)",
            "fleet.yaml:10:3: error: Tunnel/vps: spec.colour: unknown field \"colour\"",
        });
  CHECK(Errors("apiVersion: wirewarp.dev/v1\nkind: Tunnel\nmetadata:\n  name: vps\n  nmae: x\nspecs: {}\n") ==
        Lines{
            "fleet.yaml:1:1: error: Tunnel/vps: spec: missing required field \"spec\"",
            "fleet.yaml:5:3: error: Tunnel/vps: metadata.nmae: unknown field \"nmae\" (did you mean \"name\"?)",
            "fleet.yaml:6:1: error: Tunnel/vps: specs: unknown field \"specs\" (did you mean \"spec\"?)",
        });
  CHECK(Errors(ForwardDoc("  protocol: tcp\n  ports: 80\n  to:\n    adress: 10.77.0.2\n")) ==
        Lines{
            "fleet.yaml:9:3: error: PortForward/web: spec.to.address: missing required field \"address\"",
            "fleet.yaml:10:5: error: PortForward/web: spec.to.adress: unknown field \"adress\" (did you mean \"address\"?)",
        });
  // A dotted key must not reach into the table's path syntax.
  CHECK(Errors(ForwardDoc("  protocol: tcp\n  ports: 80\n  to.address: 10.77.0.2\n  to: {address: 10.77.0.2}\n")) ==
        Lines{"fleet.yaml:9:3: error: PortForward/web: spec.to.address: unknown field \"to.address\""});
}

TEST_CASE("Missing required fields are reported at the parent mapping's key or the document start") {
  CHECK(Errors("apiVersion: wirewarp.dev/v1\nkind: Tunnel\nmetadata:\n  name: vps\nspec:\n  agent: a\n") ==
        Lines{
            "fleet.yaml:5:1: error: Tunnel/vps: spec.endpoint: missing required field \"endpoint\"",
            "fleet.yaml:5:1: error: Tunnel/vps: spec.network: missing required field \"network\"",
        });
  CHECK(Errors("# A peer\n---\nkind: Peer\nmetadata:\n  labels: {a: b}\nspec: {agent: gw}\n") ==
        Lines{
            "fleet.yaml:3:1: error: Peer: apiVersion: missing required field \"apiVersion\"",
            "fleet.yaml:4:1: error: Peer: metadata.name: missing required field \"name\"",
            "fleet.yaml:6:1: error: Peer: spec.tunnel: missing required field \"tunnel\"",
        });
  CHECK(Errors("apiVersion: wirewarp.dev/v1\nmetadata: {name: x}\n") ==
        Lines{"fleet.yaml:1:1: error: kind: missing required field \"kind\""});
  CHECK(Errors("apiVersion: wirewarp.dev/v1\nkind: ServiceTemplate\nmetadata: {name: x}\nspec:\n  ports:\n    - protocol: tcp\n") ==
        Lines{"fleet.yaml:6:7: error: ServiceTemplate/x: spec.ports[0].ports: missing required field \"ports\""});
  CHECK(Errors("apiVersion: wirewarp.dev/v1\nkind: Tunnel\nmetadata: {name: vps}\nspec:\n  agent:\n  endpoint: e\n  "
               "network: 10.0.0.0/8\n") ==
        Lines{"fleet.yaml:6:3: error: Tunnel/vps: spec.agent: expected a string, got null"});
}

TEST_CASE("Unknown kinds get a hint - wrong apiVersion is refused") {
  CHECK(Errors("apiVersion: wirewarp.dev/v1\nkind: Tunel\nmetadata: {name: vps}\nspec: {}\n") ==
        Lines{"fleet.yaml:2:7: error: kind: unknown kind \"Tunel\" (did you mean \"Tunnel\"?)"});
  CHECK(Errors("apiVersion: wirewarp.dev/v1\nkind: Deployment\nmetadata: {name: -vps}\n") ==
        Lines{
            "fleet.yaml:2:7: error: kind: unknown kind \"Deployment\" (expected Tunnel, Peer, PortForward or ServiceTemplate)",
            "fleet.yaml:3:18: error: metadata.name: \"-vps\" must not start with '-' (it could be read as a command-line option)",
        });
  CHECK(Errors("apiVersion: wirewarp.dev/v2\nkind: Tunnel\nmetadata: {name: vps}\nspec: {agent: a, endpoint: e, network: 10.0.0.0/8}\n") ==
        Lines{"fleet.yaml:1:13: error: Tunnel/vps: apiVersion: \"wirewarp.dev/v2\" is not a supported apiVersion "
              "(expected \"wirewarp.dev/v1\")"});
  CHECK(Errors("apiVersion: v1\nkind: Peer\n") ==
        Lines{
            "fleet.yaml:1:1: error: Peer: metadata: missing required field \"metadata\"",
            "fleet.yaml:1:1: error: Peer: spec: missing required field \"spec\"",
            "fleet.yaml:1:13: error: Peer: apiVersion: \"v1\" is not a supported apiVersion (expected \"wirewarp.dev/v1\")",
        });
  CHECK(Errors("- a\n- b\n") ==
        Lines{"fleet.yaml:1:1: error: a document must be a mapping with apiVersion, kind, metadata and spec; got a sequence"});
}

TEST_CASE("Scalars where mappings belong and vice versa are refused") {
  CHECK(Errors("apiVersion: wirewarp.dev/v1\nkind: Tunnel\nmetadata: vps\nspec: [a]\n") ==
        Lines{
            "fleet.yaml:3:11: error: Tunnel: metadata: expected a mapping, got a scalar \"vps\"",
            "fleet.yaml:4:7: error: Tunnel: spec: expected a mapping, got a sequence",
        });
  CHECK(Errors(TunnelDoc("  interface: {name: wg0}\n  selfHeal: [true]\n")) ==
        Lines{
            "fleet.yaml:9:14: error: Tunnel/vps: spec.interface: expected a string, got a mapping",
            "fleet.yaml:10:13: error: Tunnel/vps: spec.selfHeal: expected true or false, got a sequence",
        });
  CHECK(Errors(PeerDoc("  agent: gw\n  lan: 192.168.1.0/24\n")) ==
        Lines{"fleet.yaml:8:8: error: Peer/home: spec.lan: expected a sequence, got a scalar \"192.168.1.0/24\""});
  CHECK(Errors(PeerDoc("  agent: gw\n  lan:\n    - {cidr: 192.168.1.0/24}\n    - [x]\n")) ==
        Lines{
            "fleet.yaml:9:7: error: Peer/home: spec.lan[0]: expected a string, got a mapping",
            "fleet.yaml:10:7: error: Peer/home: spec.lan[1]: expected a string, got a sequence",
        });
  CHECK(Errors("apiVersion: wirewarp.dev/v1\nkind: ServiceTemplate\nmetadata: {name: x}\nspec:\n  ports: [tcp]\n") ==
        Lines{"fleet.yaml:5:11: error: ServiceTemplate/x: spec.ports[0]: expected a mapping, got a scalar \"tcp\""});
  CHECK(Errors("apiVersion: wirewarp.dev/v1\nkind: ServiceTemplate\nmetadata: {name: x}\nspec:\n  ports: []\n") ==
        Lines{"fleet.yaml:5:10: error: ServiceTemplate/x: spec.ports: must list at least one port set"});
  CHECK(Errors("apiVersion: wirewarp.dev/v1\nkind: Tunnel\nmetadata:\n  name: vps\n  labels: [a]\n  ? [k]\n  : v\nspec: {}\n")
            .at(0) == "fleet.yaml:5:11: error: Tunnel/vps: metadata.labels: expected a mapping, got a sequence");
  CHECK(Errors("apiVersion: wirewarp.dev/v1\nkind: Tunnel\nmetadata:\n  name: vps\n  ? [k]\n  : v\n") ==
        Lines{
            "fleet.yaml:1:1: error: Tunnel/vps: spec: missing required field \"spec\"",
            "fleet.yaml:5:5: error: Tunnel/vps: metadata: mapping keys must be field names, got a sequence",
        });
}

TEST_CASE("Integers are plain decimal scalars within the table's range") {
  auto mtu_error = [](const std::string& value) {
    std::vector<std::string> errors = Errors(TunnelDoc("  mtu: " + value + "\n"));
    return errors.size() == 1 ? errors[0] : "unexpected: " + std::to_string(errors.size()) + " errors";
  };
  const std::string prefix = "fleet.yaml:9:8: error: Tunnel/vps: spec.mtu: ";
  CHECK(mtu_error("\"1400\"") == prefix + "\"1400\" is a quoted string; write the integer without quotes");
  CHECK(mtu_error("'1400'") == prefix + "\"1400\" is a quoted string; write the integer without quotes");
  CHECK(mtu_error("!!str 1400") == prefix + "\"1400\" is a quoted string; write the integer without quotes");
  CHECK(mtu_error("0x10") == prefix + "\"0x10\" is not a decimal integer");
  CHECK(mtu_error("+1400") == prefix + "\"+1400\" is not a decimal integer");
  CHECK(mtu_error("1e3") == prefix + "\"1e3\" is not a decimal integer");
  CHECK(mtu_error("1_400") == prefix + "\"1_400\" is not a decimal integer");
  CHECK(mtu_error("1400.0") == prefix + "\"1400.0\" is not a decimal integer");
  CHECK(mtu_error("01400") ==
        prefix + "\"01400\" is not a decimal integer (leading zeros are not allowed: YAML 1.1 reads them as octal)");
  CHECK(mtu_error("99999999999999999999999") == prefix + "\"99999999999999999999999\" is out of range (1280-9000)");
  CHECK(mtu_error("9223372036854775808") == prefix + "\"9223372036854775808\" is out of range (1280-9000)");
  CHECK(mtu_error("-1400") == prefix + "\"-1400\" is out of range (1280-9000)");
  CHECK(mtu_error("9001") == prefix + "\"9001\" is out of range (1280-9000)");
  CHECK(mtu_error("1280").find("unexpected: 0") == 0);
  CHECK(mtu_error("!!int 9000").find("unexpected: 0") == 0);
  CHECK(Errors(TunnelDoc("  listenPort: 99999\n")) ==
        Lines{"fleet.yaml:9:15: error: Tunnel/vps: spec.listenPort: \"99999\" is out of range (1-65535)"});
  CHECK(Errors(TunnelDoc("  listenPort: 0\n")) ==
        Lines{"fleet.yaml:9:15: error: Tunnel/vps: spec.listenPort: \"0\" is out of range (1-65535)"});
  CHECK(Errors(PeerDoc("  agent: gw\n  keepalive: -1\n")) ==
        Lines{"fleet.yaml:8:14: error: Peer/home: spec.keepalive: \"-1\" is out of range (0-65535)"});
}

TEST_CASE("Booleans are exactly true or false") {
  auto gateway_error = [](const std::string& value) {
    std::vector<std::string> errors = Errors(PeerDoc("  agent: gw\n  gateway: " + value + "\n"));
    return errors.size() == 1 ? errors[0] : "unexpected: " + std::to_string(errors.size()) + " errors";
  };
  const std::string prefix = "fleet.yaml:8:12: error: Peer/home: spec.gateway: ";
  const std::string yaml11 = " is not a boolean; write true or false (YAML 1.1 words like yes, no, on and off are not accepted)";
  for (const char* word : {"yes", "no", "on", "off", "y", "N", "True", "FALSE"}) {
    CAPTURE(word);
    CHECK(gateway_error(word) == prefix + "\"" + word + "\"" + yaml11);
  }
  CHECK(gateway_error("1") == prefix + "\"1\" is not a boolean; write true or false");
  CHECK(gateway_error("enabled") == prefix + "\"enabled\" is not a boolean; write true or false");
  CHECK(gateway_error("\"true\"") == prefix + "\"true\" is a quoted string; write true or false without quotes");
  CHECK(Load(PeerDoc("  agent: gw\n  gateway: true\n")).fleet.peers.at(0).spec.gateway);
}

TEST_CASE("Strings: plain or quoted - ports also as a plain integer - enums with a hint") {
  LoadResult result = Load(ForwardDoc("  protocol: 'udp'\n  ports: 25565\n  to: {address: \"10.77.0.2\"}\n  description: 42\n"));
  CHECK(result.diagnostics.empty());
  REQUIRE(result.fleet.forwards.size() == 1);
  CHECK(result.fleet.forwards[0].spec.ports == std::vector<PortRange>{{25565, 25565}});
  CHECK(result.fleet.forwards[0].spec.description == "42");
  CHECK(result.fleet.forwards[0].spec.protocol == Protocol::kUdp);
  CHECK(Errors(ForwardDoc("  protocol: tpc\n  ports: 80\n  to: {address: 10.77.0.2}\n")) ==
        Lines{"fleet.yaml:7:13: error: PortForward/web: spec.protocol: \"tpc\" is not one of tcp, udp or both; did you "
              "mean \"tcp\"?"});
  CHECK(Errors(ForwardDoc("  protocol: quic\n  ports: 80\n  to: {address: 10.77.0.2}\n")) ==
        Lines{"fleet.yaml:7:13: error: PortForward/web: spec.protocol: \"quic\" is not one of tcp, udp or both"});
}

TEST_CASE("Tunnel networks, endpoints and interfaces are checked per document") {
  CHECK(Errors(TunnelDoc("  publicInterface: eth0/1\n  interface: -wg0\n")) ==
        Lines{
            "fleet.yaml:9:20: error: Tunnel/vps: spec.publicInterface: \"eth0/1\" is not a valid interface name (1-15 "
            "characters: letters, digits, '_', '.', '=', '+', '-', starting with a letter, digit or '_')",
            "fleet.yaml:10:14: error: Tunnel/vps: spec.interface: \"-wg0\" must not start with '-' (it could be read as a "
            "command-line option)",
        });
  CHECK(Errors(TunnelDoc("  interface: wireguard-tunnel0\n")) ==
        Lines{"fleet.yaml:9:14: error: Tunnel/vps: spec.interface: \"wireguard-tunnel0\" is not a valid interface name "
              "(1-15 characters: letters, digits, '_', '.', '=', '+', '-', starting with a letter, digit or '_')"});
  CHECK(Errors(TunnelDoc("  interface: \"wg 0\"\n")).size() == 1);
  auto network_errors = [](const std::string& network) {
    return Errors("apiVersion: wirewarp.dev/v1\nkind: Tunnel\nmetadata: {name: vps}\nspec:\n  agent: a\n  endpoint: "
                  "1.2.3.4\n  network: " +
                  network + "\n");
  };
  CHECK(network_errors("10.77.0.1/24") ==
        Lines{"fleet.yaml:7:12: error: Tunnel/vps: spec.network: \"10.77.0.1/24\" has host bits set (did you mean "
              "10.77.0.0/24?)"});
  CHECK(network_errors("10.77.0.0/31") ==
        Lines{"fleet.yaml:7:12: error: Tunnel/vps: spec.network: \"10.77.0.0/31\" is too small for a tunnel network (the "
              "prefix must be at most /30)"});
  CHECK(network_errors("10.77.0.0") ==
        Lines{"fleet.yaml:7:12: error: Tunnel/vps: spec.network: \"10.77.0.0\" is not a CIDR (expected ADDRESS/PREFIX, "
              "e.g. 10.77.0.0/24)"});
  CHECK(network_errors("10.77.0.0/30").empty());

  auto endpoint_errors = [](const std::string& endpoint) {
    return Errors("apiVersion: wirewarp.dev/v1\nkind: Tunnel\nmetadata: {name: vps}\nspec:\n  agent: a\n  network: "
                  "10.0.0.0/8\n  endpoint: " +
                  endpoint + "\n");
  };
  for (const char* good : {"1.2.3.4", "1.2.3.4:51820", "vpn.example.com", "vpn-1.example.com:443", "localhost"}) {
    CAPTURE(good);
    CHECK(endpoint_errors(good).empty());
  }
  const std::string prefix = "fleet.yaml:7:13: error: Tunnel/vps: spec.endpoint: ";
  CHECK(endpoint_errors("vpn.example.com:99999") ==
        Lines{prefix + "in \"vpn.example.com:99999\": \"99999\" is not a port (expected 1-65535)"});
  CHECK(endpoint_errors("1.2.3.256") == Lines{prefix + "in \"1.2.3.256\": \"1.2.3.256\" is not an IPv4 address"});
  CHECK(endpoint_errors("\"-oProxyCommand=x\"") ==
        Lines{prefix + "\"-oProxyCommand=x\" must not start with '-' (it could be read as a command-line option)"});
  CHECK(endpoint_errors("\"vpn example.com\"") ==
        Lines{prefix + "\"vpn example.com\" is not HOST or HOST:PORT with HOST an IPv4 address or DNS name (e.g. "
                       "vpn.example.com:51820)"});
  CHECK(endpoint_errors("\"[::1]:51820\"").size() == 1);
  CHECK(endpoint_errors("vpn..example.com").size() == 1);
  CHECK(endpoint_errors("\":51820\"").size() == 1);
}

TEST_CASE("Peer rules that one document decides") {
  CHECK(Errors(PeerDoc("  address: 10.77.0.2\n")) ==
        Lines{"fleet.yaml:5:1: error: Peer/home: spec: set exactly one of spec.agent (a managed peer) and spec.publicKey "
              "(an unmanaged device)"});
  CHECK(Errors(PeerDoc("  agent: gw\n  publicKey: " + std::string(kKey) + "\n")) ==
        Lines{"fleet.yaml:5:1: error: Peer/home: spec: set exactly one of spec.agent (a managed peer) and spec.publicKey "
              "(an unmanaged device)"});
  CHECK(Errors(PeerDoc("  publicKey: " + std::string(kKey) + "\n  interface: wg0\n")) ==
        Lines{"fleet.yaml:8:14: error: Peer/home: spec.interface: spec.interface is only for managed peers (those with "
              "spec.agent); an unmanaged device names its own interface"});
  CHECK(Errors(PeerDoc("  publicKey: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")) ==
        Lines{"fleet.yaml:7:14: error: Peer/home: spec.publicKey: \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\" is the "
              "all-zero key, which is not a valid public key"});
  std::vector<std::string> bad_key = Errors(PeerDoc("  publicKey: not-a-key\n"));
  REQUIRE(bad_key.size() == 1);
  CHECK(bad_key[0].find("fleet.yaml:7:14: error: Peer/home: spec.publicKey: \"not-a-key\"") == 0);
  CHECK(Errors(PeerDoc("  agent: gw\n  address: 10.77.0.256\n")) ==
        Lines{"fleet.yaml:8:12: error: Peer/home: spec.address: \"10.77.0.256\" is not an IPv4 address"});
  CHECK(Errors(PeerDoc("  agent: Gateway\n")) ==
        Lines{"fleet.yaml:7:10: error: Peer/home: spec.agent: \"Gateway\" is not a valid name: character 'G' is not "
              "allowed (use lowercase letters, digits and '-')"});
}

// Issue 9: a phone's DNS servers, written only into its own wg-quick config.
TEST_CASE("Peer spec.dns: IPv4 addresses for unmanaged peers, each once, with file:line errors") {
  const std::string key = "  publicKey: " + std::string(kKey) + "\n";
  LoadResult loaded = Load(PeerDoc(key + "  dns: [192.168.50.2, 1.1.1.1]\n"));
  REQUIRE(loaded.diagnostics.empty());
  REQUIRE(loaded.fleet.peers.size() == 1);
  const Peer& phone = loaded.fleet.peers[0];
  CHECK(phone.spec.dns == std::vector<Ipv4Address>{test_support::Address("192.168.50.2"), test_support::Address("1.1.1.1")});
  CHECK(phone.origin.Find("spec.dns[1]") == At(8, 23));
  CHECK(Load(PeerDoc(key)).fleet.peers.at(0).spec.dns.empty());

  CHECK(Errors(PeerDoc(key + "  dns:\n    - 192.168.50.2\n    - 1.1.1\n")) ==
        Lines{"fleet.yaml:10:7: error: Peer/home: spec.dns[1]: \"1.1.1\" is not an IPv4 address"});
  CHECK(Errors(PeerDoc(key + "  dns: [9.9.9.9, 9.9.9.9]\n")) ==
        Lines{"fleet.yaml:8:18: error: Peer/home: spec.dns[1]: DNS server 9.9.9.9 is listed twice"});
  CHECK(Errors(PeerDoc(key + "  dns: [224.0.0.1]\n")) ==
        Lines{"fleet.yaml:8:9: error: Peer/home: spec.dns[0]: 224.0.0.1 cannot be a DNS server (unspecified, "
              "multicast or reserved address)"});
  CHECK(Errors(PeerDoc(key + "  dns: [0.0.0.0]\n")).size() == 1);
  CHECK(Errors(PeerDoc(key + "  dns: 1.1.1.1\n")) ==
        Lines{"fleet.yaml:8:8: error: Peer/home: spec.dns: expected a sequence, got a scalar \"1.1.1.1\""});
  CHECK(Errors(PeerDoc(key + "  dns: [1.1.1.1, 1.0.0.1, 8.8.8.8, 8.8.4.4, 9.9.9.9, 149.112.112.112, "
                             "208.67.222.222, 208.67.220.220, 94.140.14.14]\n")) ==
        Lines{"fleet.yaml:8:103: error: Peer/home: spec.dns[8]: at most 8 DNS servers"});
  CHECK(Errors(PeerDoc("  agent: gw\n  dns: [1.1.1.1]\n")) ==
        Lines{"fleet.yaml:8:8: error: Peer/home: spec.dns: spec.dns is only for unmanaged peers (those with "
              "spec.publicKey): it goes into the device's own config, and an agent keeps its host's resolvers"});
}

TEST_CASE("PortForward rules that one document decides") {
  const std::string to = "  to: {address: 10.77.0.2}\n";
  const std::string exactly_one =
      "fleet.yaml:5:1: error: PortForward/web: spec: set exactly one of spec.ports (with spec.protocol) and spec.template";
  CHECK(Errors(ForwardDoc(to)) == Lines{exactly_one});
  CHECK(Errors(ForwardDoc("  protocol: tcp\n" + to)) == Lines{exactly_one});
  CHECK(Errors(ForwardDoc("  protocol: tcp\n  ports: 80\n  template: web\n" + to)) == Lines{exactly_one});
  CHECK(Errors(ForwardDoc("  ports: 80\n" + to)) ==
        Lines{"fleet.yaml:5:1: error: PortForward/web: spec.protocol: missing required field \"protocol\" (required with "
              "spec.ports)"});
  CHECK(Errors(ForwardDoc("  protocol: tcp\n  template: web\n" + to)) ==
        Lines{"fleet.yaml:7:13: error: PortForward/web: spec.protocol: spec.protocol cannot be used with spec.template "
              "(the template gives the protocols)"});
  CHECK(Errors(ForwardDoc("  template: dayz\n  to: {address: 10.77.0.2, port: 2302}\n")) ==
        Lines{"fleet.yaml:8:34: error: PortForward/web: spec.to.port: spec.to.port remaps a single port; it cannot be used "
              "with spec.template"});
  CHECK(Errors(ForwardDoc("  protocol: udp\n  ports: 2302-2305\n  to: {address: 10.77.0.2, port: 2302}\n")) ==
        Lines{"fleet.yaml:9:34: error: PortForward/web: spec.to.port: spec.to.port remaps a single port, but spec.ports "
              "is \"2302-2305\""});
  CHECK(Errors(ForwardDoc("  protocol: udp\n  ports: 2305-2302\n" + to)) ==
        Lines{"fleet.yaml:8:10: error: PortForward/web: spec.ports: range \"2305-2302\" is reversed (the first port must "
              "not exceed the last)"});
  CHECK(Errors(ForwardDoc("  protocol: udp\n  ports: 70000\n" + to)) ==
        Lines{"fleet.yaml:8:10: error: PortForward/web: spec.ports: in \"70000\": \"70000\" is not a port (expected 1-65535)"});
  CHECK(Errors(ForwardDoc("  template: Web\n" + to)) ==
        Lines{"fleet.yaml:7:13: error: PortForward/web: spec.template: \"Web\" is not a valid name: character 'W' is not "
              "allowed (use lowercase letters, digits and '-')"});
}

TEST_CASE("PortForward hostPort: refuse by default, allow when written, anything else refused with the choices") {
  const std::string spec = "  template: ssh\n  to: {address: 10.77.0.2}\n";
  LoadResult plain = Load(ForwardDoc(spec));
  REQUIRE(plain.fleet.forwards.size() == 1);
  CHECK(plain.fleet.forwards[0].spec.host_port == HostPort::kRefuse);
  LoadResult allowed = Load(ForwardDoc(spec + "  hostPort: allow\n"));
  REQUIRE(allowed.fleet.forwards.size() == 1);
  CHECK(allowed.fleet.forwards[0].spec.host_port == HostPort::kAllow);
  CHECK(allowed.fleet.forwards[0].origin.Find("spec.hostPort") == Mark{9, 13});
  CHECK(Errors(ForwardDoc(spec + "  hostPort: Allow\n")) ==
        Lines{"fleet.yaml:9:13: error: PortForward/web: spec.hostPort: \"Allow\" is not one of refuse or allow; did you mean "
              "\"allow\"?"});
  CHECK(Errors(ForwardDoc(spec + "  hostPort: true\n")) ==
        Lines{"fleet.yaml:9:13: error: PortForward/web: spec.hostPort: \"true\" is not one of refuse or allow"});
  CHECK(Errors(ForwardDoc(spec + "  hostPort: [allow]\n")).size() == 1);
}

TEST_CASE("Labels: keys and values are checked") {
  std::string doc = "apiVersion: wirewarp.dev/v1\nkind: Peer\nmetadata:\n  name: home\n  labels:\n";
  std::string spec = "spec: {tunnel: vps, agent: gw}\n";
  CHECK(Errors(doc + "    -bad: x\n    ok: " + std::string(64, 'v') + "\n    list: [a]\n" + spec) ==
        Lines{
            "fleet.yaml:6:5: error: Peer/home: metadata.labels: label key \"-bad\" is not valid (1-63 letters, digits, "
            "'.', '_', '/' or '-', starting and ending with a letter or digit)",
            "fleet.yaml:7:9: error: Peer/home: metadata.labels.ok: label value \"" + std::string(64, 'v') +
                "\" is longer than 63 characters",
            "fleet.yaml:8:11: error: Peer/home: metadata.labels.list: expected a string, got a sequence",
        });
  // 63 characters of two bytes each are within the limit.
  std::string accents;
  for (int i = 0; i < 63; ++i) accents += "\xC3\xA9";
  LoadResult result = Load(doc + "    app.kubernetes.io/name: web\n    empty:\n    accents: " + accents + "\n" + spec);
  CHECK(result.diagnostics.empty());
  REQUIRE(result.fleet.peers.size() == 1);
  CHECK(result.fleet.peers[0].metadata.labels ==
        std::map<std::string, std::string>{{"app.kubernetes.io/name", "web"}, {"empty", ""}, {"accents", accents}});
  CHECK(result.fleet.peers[0].origin.Find("metadata.labels.app.kubernetes.io/name") == At(6, 29));
}

TEST_CASE("The loader's interface check follows the table's pattern") {
  // InterfaceProblem hand-codes this pattern; if the table changes, the loader must too.
  const KindInfo* tunnel = FindKind("Tunnel");
  REQUIRE(tunnel != nullptr);
  CHECK(FindField(*tunnel, "spec.interface")->pattern == "^[a-zA-Z0-9_][a-zA-Z0-9_.=+-]{0,14}$");
  CHECK(FindField(*tunnel, "metadata.name")->pattern == "^[a-z0-9][a-z0-9-]{0,62}$");
}
