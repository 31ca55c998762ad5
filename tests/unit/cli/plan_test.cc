// `wwctl plan` through the real binary: text and JSON output, and every exit status with
// and without --detailed-exitcode. The expected steps are computed in-process from the
// rendered config, so these tests check the CLI, not the plan engine's choices.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "schema/plan.h"
#include "schema/wire_json.h"
#include "tests/unit/cli/wwctl_process.h"

namespace ww::test {
namespace {

namespace fs = std::filesystem;

constexpr char kFleet[] = "tests/testdata/cli/fleet";
constexpr char kKeys[] = "tests/testdata/cli/keys.yaml";
constexpr char kEmptyHost[] = "tests/testdata/cli/observed/empty.json";
constexpr char kStalePeer[] = "tests/testdata/cli/observed/stale-peer.json";

std::vector<std::string> PlanArgs(const std::string& agent, const std::string& observed) {
  return {"plan", "-f", kFleet, "--agent", agent, "--keys", kKeys, "--observed", observed};
}

std::vector<std::string> With(std::vector<std::string> args, std::initializer_list<std::string> more) {
  args.insert(args.end(), more);
  return args;
}

AgentConfig Rendered(const std::string& agent) {
  WwctlRun run = RunWwctl({"render", "-f", kFleet, "--agent", agent, "--keys", kKeys});
  REQUIRE(run.exit_code == 0);
  Result<AgentConfig> config = AgentConfigFromJson(run.out);
  REQUIRE(config.ok());
  return *config;
}

ObservedState ObservedFile(const std::string& path) {
  Result<ObservedState> state = ObservedStateFromJson(ReadText(fs::path(WW_SOURCE_DIR) / path));
  REQUIRE(state.ok());
  return *state;
}

std::string Described(const Plan& plan) {
  std::string text;
  for (const Step& step : plan.steps) text += DescribeStep(step) + "\n";
  return text;
}

TEST_CASE("plan: an empty host needs every step and --detailed-exitcode says 2") {
  Plan expected = ComputePlan(Rendered("vps"), ObservedFile(kEmptyHost));
  REQUIRE_FALSE(expected.empty());
  REQUIRE_FALSE(expected.HasDestructive());

  WwctlRun plain = RunWwctl(PlanArgs("vps", kEmptyHost));
  CHECK(plain.exit_code == 0);
  CHECK(plain.out == Described(expected));
  CHECK(plain.out.starts_with("+ interface wg0 (mtu 1420)\n"));
  CHECK(plain.err == "agent vps: " + std::to_string(expected.steps.size()) + " steps, 0 destructive\n");

  WwctlRun detailed = RunWwctl(With(PlanArgs("vps", kEmptyHost), {"--detailed-exitcode"}));
  CHECK(detailed.exit_code == 2);
  CHECK(detailed.out == plain.out);
}

TEST_CASE("plan: a stale peer on the host is destructive and --detailed-exitcode says 3") {
  Plan expected = ComputePlan(Rendered("vps"), ObservedFile(kStalePeer));
  REQUIRE(expected.HasDestructive());
  WwctlRun detailed = RunWwctl(With(PlanArgs("vps", kStalePeer), {"--detailed-exitcode"}));
  CHECK(detailed.exit_code == 3);
  CHECK(detailed.out == Described(expected));
  CHECK(detailed.out.find("- peer (2CmKENGw…=) on wg0 [destructive]\n") != std::string::npos);
  CHECK(detailed.err == "agent vps: " + std::to_string(expected.steps.size()) + " steps, 1 destructive\n");

  WwctlRun plain = RunWwctl(PlanArgs("vps", kStalePeer));
  CHECK(plain.exit_code == 0);
}

TEST_CASE("plan: a converged host prints No changes and --detailed-exitcode says 0") {
  ScratchDirectory scratch;
  fs::path observed = scratch.path() / "converged.json";
  WriteText(observed, ObservedStateToJson(ObservedFromDesired(Rendered("gw"))));
  WwctlRun run = RunWwctl(With(PlanArgs("gw", observed.string()), {"--detailed-exitcode"}));
  CHECK(run.exit_code == 0);
  CHECK(run.out == "No changes.\n");
  CHECK(run.err == "agent gw: 0 steps, 0 destructive\n");

  WwctlRun json = RunWwctl(With(PlanArgs("gw", observed.string()), {"-o", "json"}));
  CHECK(json.exit_code == 0);
  CHECK(json.out == PlanToJson(Plan{}) + (PlanToJson(Plan{}).ends_with('\n') ? "" : "\n"));
}

TEST_CASE("plan: -o json prints the Plan wire format") {
  Plan expected = ComputePlan(Rendered("gw"), ObservedFile(kEmptyHost));
  WwctlRun run = RunWwctl(With(PlanArgs("gw", kEmptyHost), {"-o", "json"}));
  CHECK(run.exit_code == 0);
  Result<Plan> printed = PlanFromJson(run.out);
  REQUIRE(printed.ok());
  CHECK(*printed == expected);
  std::string json = PlanToJson(expected);
  CHECK(run.out == json + (json.ends_with('\n') ? "" : "\n"));
}

TEST_CASE("plan: --observed - reads the observed state from standard input") {
  WwctlRun run = RunWwctl(With(PlanArgs("vps", "-"), {"--detailed-exitcode"}),
                          ReadText(fs::path(WW_SOURCE_DIR) / kStalePeer));
  CHECK(run.exit_code == 3);
  CHECK(run.out == Described(ComputePlan(Rendered("vps"), ObservedFile(kStalePeer))));
}

TEST_CASE("plan: errors exit 1 with --detailed-exitcode where 2 means changes") {
  WwctlRun bad_state = RunWwctl(With(PlanArgs("vps", "tests/testdata/cli/observed/wrong-version.json"), {"--detailed-exitcode"}));
  CHECK(bad_state.exit_code == 1);
  CHECK(bad_state.out == "");
  CHECK(bad_state.err ==
        "wwctl: error: tests/testdata/cli/observed/wrong-version.json: formatVersion: 99 is not supported (this build "
        "reads version 1)\n");

  WwctlRun missing_key = RunWwctl({"plan", "-f", kFleet, "--agent", "vps", "--observed", kEmptyHost, "--detailed-exitcode"});
  CHECK(missing_key.exit_code == 1);
  CHECK(missing_key.err == "wwctl: error: no WireGuard public key for agent \"vps\" (enroll it, or pass it in --keys)\n");

  // I/O and usage errors are 2 normally, 1 with --detailed-exitcode.
  WwctlRun unreadable = RunWwctl(PlanArgs("vps", "tests/testdata/cli/observed/nope.json"));
  CHECK(unreadable.exit_code == 2);
  CHECK(unreadable.err == "wwctl: error: cannot read \"tests/testdata/cli/observed/nope.json\": No such file or directory\n");
  WwctlRun unreadable_detailed = RunWwctl(With(PlanArgs("vps", "tests/testdata/cli/observed/nope.json"), {"--detailed-exitcode"}));
  CHECK(unreadable_detailed.exit_code == 1);

  WwctlRun stdin_twice = RunWwctl({"plan", "-f", "-", "--agent", "vps", "--keys", kKeys, "--observed", "-"}, "{}");
  CHECK(stdin_twice.exit_code == 2);
  CHECK(stdin_twice.err == "wwctl: error: standard input (\"-\") can be read only once per command\n");

  WwctlRun unknown_flag = RunWwctl(With(PlanArgs("vps", kEmptyHost), {"--detailed-exitcode", "--refresh"}));
  CHECK(unknown_flag.exit_code == 1);
  CHECK(unknown_flag.err ==
        "wwctl: error: The following argument was not expected: --refresh\nRun 'wwctl plan --help' for usage.\n");
  WwctlRun unknown_flag_plain = RunWwctl(With(PlanArgs("vps", kEmptyHost), {"--refresh"}));
  CHECK(unknown_flag_plain.exit_code == 2);

  WwctlRun no_observed = RunWwctl({"plan", "-f", kFleet, "--agent", "vps"});
  CHECK(no_observed.exit_code == 2);
  CHECK(no_observed.err == "wwctl: error: --observed is required\nRun 'wwctl plan --help' for usage.\n");
}

}  // namespace
}  // namespace ww::test
