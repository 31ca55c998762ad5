// `wwctl render` through the real binary: the homelab golden files, and every way it
// refuses (missing key, unknown agent, invalid fleet, bad keys file, bad flags).
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "schema/wire_json.h"
#include "tests/unit/cli/wwctl_process.h"

namespace ww::test {
namespace {

namespace fs = std::filesystem;

constexpr char kFleet[] = "tests/testdata/cli/fleet";
constexpr char kKeys[] = "tests/testdata/cli/keys.yaml";

TEST_CASE("render: examples/homelab renders every agent exactly as its golden file") {
  fs::path rendered = fs::path(WW_SOURCE_DIR) / "examples" / "homelab" / "rendered";
  int agents = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(rendered)) {
    if (entry.path().extension() != ".json") continue;
    std::string agent = entry.path().stem().string();
    CAPTURE(agent);
    WwctlRun run = RunWwctl({"render", "-f", "examples/homelab", "--agent", agent, "--keys", "examples/homelab-keys.yaml"});
    CHECK(run.exit_code == 0);
    CHECK(run.err == "");
    CHECK(run.out == ReadText(entry.path()));
    ++agents;
  }
  CHECK(agents == 2);  // vps and home-gw
}

TEST_CASE("render: prints the AgentConfig wire format for the agent") {
  WwctlRun run = RunWwctl({"render", "-f", kFleet, "--agent", "gw", "--keys", kKeys, "--control-address", "198.51.100.4"});
  CHECK(run.exit_code == 0);
  CHECK(run.err == "");
  Result<AgentConfig> config = AgentConfigFromJson(run.out);
  REQUIRE(config.ok());
  CHECK(config->agent == "gw");
  REQUIRE(config->interfaces.size() == 1);
  CHECK(config->interfaces[0].address.ToString() == "10.80.0.2/24");
  CHECK(run.out.ends_with("}\n"));
  // The control address is kept on the main table in gateway mode: it shows up in a rule.
  CHECK(run.out.find("198.51.100.4/32") != std::string::npos);
}

TEST_CASE("render: a missing key is an error naming the agent") {
  WwctlRun without_gw = RunWwctl({"render", "-f", kFleet, "--agent", "vps", "--keys", "tests/testdata/cli/keys-without-gw.json"});
  CHECK(without_gw.exit_code == 1);
  CHECK(without_gw.out == "");
  CHECK(without_gw.err == "wwctl: error: no WireGuard public key for agent \"gw\" (enroll it, or pass it in --keys)\n");

  WwctlRun no_keys = RunWwctl({"render", "-f", kFleet, "--agent", "vps"});
  CHECK(no_keys.exit_code == 1);
  CHECK(no_keys.err == "wwctl: error: no WireGuard public key for agent \"vps\" (enroll it, or pass it in --keys)\n");
}

TEST_CASE("render: an agent the fleet does not name is an error") {
  WwctlRun run = RunWwctl({"render", "-f", kFleet, "--agent", "laptop", "--keys", kKeys});
  CHECK(run.exit_code == 1);
  CHECK(run.out == "");
  CHECK(run.err == "wwctl: error: agent \"laptop\" is not part of the fleet (no Tunnel or Peer names it)\n");
}

TEST_CASE("render: an invalid fleet renders nothing and shows the findings on stderr") {
  WwctlRun run = RunWwctl({"render", "-f", "tests/testdata/cli/broken", "--agent", "gw", "--keys", kKeys});
  CHECK(run.exit_code == 1);
  CHECK(run.out == "");
  CHECK(run.err ==
        "tests/testdata/cli/broken/fleet.yaml:8:3: error: Peer/gw: spec.adress: unknown field \"adress\" (did you mean "
        "\"address\"?)\n"
        "wwctl: error: the fleet is invalid; nothing rendered\n");
}

TEST_CASE("render: a bad keys file is an error with its line and an unreadable one exits 2") {
  ScratchDirectory scratch;
  WriteText(scratch.path() / "keys.yaml", "vps: not-a-key\n");
  std::string keys = (scratch.path() / "keys.yaml").string();
  WwctlRun bad = RunWwctl({"render", "-f", kFleet, "--agent", "vps", "--keys", keys});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err == "wwctl: error: " + keys +
                       ":1:6: agent \"vps\": \"not-a-key\" is not a WireGuard public key (expected 44 characters of "
                       "base64 encoding 32 bytes)\n");

  WwctlRun missing = RunWwctl({"render", "-f", kFleet, "--agent", "vps", "--keys", "tests/testdata/cli/nope.yaml"});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err == "wwctl: error: cannot read \"tests/testdata/cli/nope.yaml\": No such file or directory\n");

  // Keys from standard input, the fleet from files.
  WwctlRun from_stdin = RunWwctl({"render", "-f", kFleet, "--agent", "vps", "--keys", "-"},
                                 ReadText(fs::path(WW_SOURCE_DIR) / kKeys));
  CHECK(from_stdin.exit_code == 0);
}

TEST_CASE("render: usage errors exit 2") {
  WwctlRun no_agent = RunWwctl({"render", "-f", kFleet});
  CHECK(no_agent.exit_code == 2);
  CHECK(no_agent.err == "wwctl: error: --agent is required\nRun 'wwctl render --help' for usage.\n");

  WwctlRun bad_address = RunWwctl({"render", "-f", kFleet, "--agent", "vps", "--keys", kKeys, "--control-address", "10.0.0"});
  CHECK(bad_address.exit_code == 2);
  CHECK(bad_address.err == "wwctl: error: --control-address: \"10.0.0\" is not an IPv4 address\n");
}

}  // namespace
}  // namespace ww::test
