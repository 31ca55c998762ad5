// `wwctl validate` through the real binary: exit codes, the three output formats, stdin,
// directory walking and the errors scripts see for bad paths and flags.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "tests/unit/cli/wwctl_process.h"

namespace ww::test {
namespace {

constexpr char kData[] = "tests/testdata/cli";

std::string Data(const std::string& relative) { return std::string(kData) + "/" + relative; }

constexpr char kInvalidError[] =
    "PortForward/lost: spec.to.address: to.address 172.16.0.9 is not routable through Tunnel/edge: it is neither a "
    "peer's address nor inside a peer's lan";
constexpr char kGatewayWarning[] =
    "PortForward/ssh: spec.to.address: to.address 192.168.7.20 is in the lan of Peer/gw, which has gateway: false, so "
    "its client masquerades this forward and the LAN host sees the client's LAN address, not the player's; to keep "
    "real client IPs set gateway: true on Peer/gw and route the LAN host through it";

TEST_CASE("validate: a valid fleet directory exits 0 with only a summary") {
  WwctlRun run = RunWwctl({"validate", "-f", Data("fleet")});
  CHECK(run.exit_code == 0);
  CHECK(run.out == "");
  // Four resources: .hidden/broken.yaml and README.md were not read.
  CHECK(run.err == "tests/testdata/cli/fleet: 4 resources, 0 errors, 0 warnings\n");
}

TEST_CASE("validate: warnings are printed but keep exit 0") {
  WwctlRun run = RunWwctl({"validate", "-f", Data("warning/")});
  CHECK(run.exit_code == 0);
  CHECK(run.out == "tests/testdata/cli/warning/fleet.yaml:29:14: warning: " + std::string(kGatewayWarning) + "\n");
  CHECK(run.err == "tests/testdata/cli/warning/: 3 resources, 0 errors, 1 warning\n");
}

TEST_CASE("validate: an invalid fleet exits 1 with every finding in file order") {
  WwctlRun run = RunWwctl({"validate", "-f", Data("invalid/fleet.yaml")});
  CHECK(run.exit_code == 1);
  CHECK(run.out == "tests/testdata/cli/invalid/fleet.yaml:31:14: error: " + std::string(kInvalidError) + "\n" +
                       "tests/testdata/cli/invalid/fleet.yaml:41:14: warning: " + kGatewayWarning + "\n");
  CHECK(run.err == "tests/testdata/cli/invalid/fleet.yaml: 4 resources, 1 error, 1 warning\n");
}

TEST_CASE("validate: --control-server refuses a forward on the control server's port on its own VPS") {
  // The fleet's tunnel endpoint is vps.example.org; its one forward is tcp 8080.
  WwctlRun elsewhere = RunWwctl({"validate", "-f", Data("fleet"), "--control-server", "ctl.example.org:8080"});
  CHECK(elsewhere.exit_code == 0);
  CHECK(elsewhere.out.find("warning: PortForward/web: spec.ports: tcp 8080 is the port of the control server "
                           "\"ctl.example.org:8080\": if that server runs on the VPS of Tunnel/edge") != std::string::npos);
  WwctlRun same = RunWwctl({"validate", "-f", Data("fleet"), "--control-server", "https://VPS.example.org:8080/"});
  CHECK(same.exit_code == 1);
  CHECK(same.out.find("error: PortForward/web: spec.ports: tcp 8080 is the port of the control server "
                      "\"VPS.example.org:8080\", which runs on the VPS of Tunnel/edge: forwarding it would cut every "
                      "agent's control channel; use another port\n") != std::string::npos);
  WwctlRun bad = RunWwctl({"validate", "-f", Data("fleet"), "--control-server", "vps.example.org:99999"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.starts_with("wwctl: error: --control-server: "));
}

TEST_CASE("validate: a document with errors is reported once, with no phantom cross-resource findings") {
  WwctlRun run = RunWwctl({"validate", "-f", Data("broken")});
  CHECK(run.exit_code == 1);
  CHECK(run.out ==
        "tests/testdata/cli/broken/fleet.yaml:8:3: error: Peer/gw: spec.adress: unknown field \"adress\" (did you mean "
        "\"address\"?)\n");
  CHECK(run.err ==
        "tests/testdata/cli/broken: 0 resources, 1 error, 0 warnings\n");
}

TEST_CASE("validate: -o github prints workflow annotations") {
  WwctlRun run = RunWwctl({"validate", "-f", Data("invalid"), "-o", "github"});
  CHECK(run.exit_code == 1);
  CHECK(run.out == "::error file=tests/testdata/cli/invalid/fleet.yaml,line=31,col=14::" + std::string(kInvalidError) +
                       "\n::warning file=tests/testdata/cli/invalid/fleet.yaml,line=41,col=14::" + kGatewayWarning +
                       "\n");
}

TEST_CASE("validate: -o json prints one object with counts and diagnostics") {
  WwctlRun run = RunWwctl({"validate", "-f", Data("invalid"), "--output=json"});
  CHECK(run.exit_code == 1);
  CHECK(run.out == std::string("{\n"
                               "  \"valid\": false,\n"
                               "  \"errors\": 1,\n"
                               "  \"warnings\": 1,\n"
                               "  \"diagnostics\": [\n"
                               "    {\n"
                               "      \"severity\": \"error\",\n"
                               "      \"file\": \"tests/testdata/cli/invalid/fleet.yaml\",\n"
                               "      \"line\": 31,\n"
                               "      \"column\": 14,\n"
                               "      \"object\": \"PortForward/lost\",\n"
                               "      \"field\": \"spec.to.address\",\n"
                               "      \"message\": \"to.address 172.16.0.9 is not routable through Tunnel/edge: it "
                               "is neither a peer's address nor inside a peer's lan\"\n"
                               "    },\n"
                               "    {\n"
                               "      \"severity\": \"warning\",\n"
                               "      \"file\": \"tests/testdata/cli/invalid/fleet.yaml\",\n"
                               "      \"line\": 41,\n"
                               "      \"column\": 14,\n"
                               "      \"object\": \"PortForward/ssh\",\n"
                               "      \"field\": \"spec.to.address\",\n"
                               "      \"message\": \"") +
                       std::string(kGatewayWarning).substr(std::string("PortForward/ssh: spec.to.address: ").size()) +
                       "\"\n"
                       "    }\n"
                       "  ]\n"
                       "}\n");

  WwctlRun valid = RunWwctl({"validate", "-f", Data("fleet"), "-o", "json"});
  CHECK(valid.exit_code == 0);
  CHECK(valid.out == "{\n  \"valid\": true,\n  \"errors\": 0,\n  \"warnings\": 0,\n  \"diagnostics\": []\n}\n");
}

TEST_CASE("validate: -f - reads the fleet from standard input") {
  WwctlRun run = RunWwctl({"validate", "-f", "-"}, ReadText(std::filesystem::path(WW_SOURCE_DIR) / Data("invalid/fleet.yaml")));
  CHECK(run.exit_code == 1);
  CHECK(run.out == "-:31:14: error: " + std::string(kInvalidError) + "\n-:41:14: warning: " + kGatewayWarning + "\n");
  CHECK(run.err == "-: 4 resources, 1 error, 1 warning\n");

  WwctlRun mixed = RunWwctl({"validate", "-f", Data("fleet/tunnel.yaml"), "-"},
                            ReadText(std::filesystem::path(WW_SOURCE_DIR) / Data("fleet/peers/gw.yaml")));
  CHECK(mixed.exit_code == 0);
  CHECK(mixed.err == "tests/testdata/cli/fleet/tunnel.yaml -: 2 resources, 0 errors, 0 warnings\n");
}

TEST_CASE("validate: several -f arguments and repeated flags add up") {
  WwctlRun run = RunWwctl({"validate", "-f", Data("fleet/tunnel.yaml"), "-f", Data("fleet/peers")});
  CHECK(run.exit_code == 0);
  CHECK(run.err == "tests/testdata/cli/fleet/tunnel.yaml tests/testdata/cli/fleet/peers: 3 resources, 0 errors, 0 warnings\n");
}

TEST_CASE("validate: unreadable paths are I/O errors with exit 2") {
  WwctlRun missing = RunWwctl({"validate", "-f", Data("no-such-file.yaml")});
  CHECK(missing.exit_code == 2);
  CHECK(missing.out == "");
  CHECK(missing.err == "wwctl: error: cannot read \"tests/testdata/cli/no-such-file.yaml\": No such file or directory\n");

  ScratchDirectory scratch;
  WriteText(scratch.path() / "notes.txt", "no YAML here\n");
  WwctlRun empty = RunWwctl({"validate", "-f", scratch.path().string()});
  CHECK(empty.exit_code == 2);
  CHECK(empty.err == "wwctl: error: no *.yaml or *.yml files in \"" + scratch.path().string() + "\"\n");

  WwctlRun twice = RunWwctl({"validate", "-f", "-", "-"}, "kind: Tunnel\n");
  CHECK(twice.exit_code == 2);
  CHECK(twice.err == "wwctl: error: standard input (\"-\") can be read only once per command\n");
}

TEST_CASE("validate: a file over the size limit is refused unread") {
  ScratchDirectory scratch;
  std::filesystem::path big = scratch.path() / "big.yaml";
  WriteText(big, "");
  std::filesystem::resize_file(big, (std::uintmax_t{16} << 20) + 1);
  WwctlRun run = RunWwctl({"validate", "-f", big.string()});
  CHECK(run.exit_code == 2);
  CHECK(run.err == "wwctl: error: \"" + big.string() + "\" is larger than the 16 MiB limit\n");
}

TEST_CASE("validate: usage errors exit 2 and point at --help") {
  WwctlRun unknown_flag = RunWwctl({"validate", "-f", Data("fleet"), "--strict"});
  CHECK(unknown_flag.exit_code == 2);
  CHECK(unknown_flag.out == "");
  CHECK(unknown_flag.err ==
        "wwctl: error: The following argument was not expected: --strict\nRun 'wwctl validate --help' for usage.\n");

  WwctlRun no_files = RunWwctl({"validate"});
  CHECK(no_files.exit_code == 2);
  CHECK(no_files.err == "wwctl: error: --filename is required\nRun 'wwctl validate --help' for usage.\n");

  WwctlRun bad_format = RunWwctl({"validate", "-f", Data("fleet"), "-o", "sarif"});
  CHECK(bad_format.exit_code == 2);
  CHECK(bad_format.err ==
        "wwctl: error: --output: \"sarif\" is not one of text|json|github\nRun 'wwctl validate --help' for usage.\n");
}

}  // namespace
}  // namespace ww::test
