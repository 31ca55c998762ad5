// The surface every script meets first: --help of every command (with an example and exit
// 0), version, schema, and what happens without a command or with an unknown one.
#include <doctest/doctest.h>

#include <string>

#include "cli/commands.h"
#include "schema/json_schema.h"
#include "tests/unit/cli/wwctl_process.h"

namespace ww::test {
namespace {

TEST_CASE("--help of wwctl and of every command exits 0 and shows an example") {
  WwctlRun top = RunWwctl({"--help"});
  CHECK(top.exit_code == 0);
  CHECK(top.err == "");
  CHECK(top.out.find("Example:\n  wwctl validate -f examples/homelab\n") != std::string::npos);
  for (const cli::CommandInfo& command : cli::Commands()) {
    std::string name(command.name);
    CAPTURE(name);
    CHECK(top.out.find("  " + name + " ") != std::string::npos);  // listed with its one-line help
    CHECK(top.out.find(std::string(command.help)) != std::string::npos);
    WwctlRun help = RunWwctl({name, "--help"});
    CHECK(help.exit_code == 0);
    CHECK(help.err == "");
    // CLI11 2.1 appends positionals or SUBCOMMAND after [OPTIONS] for some commands.
    CHECK(help.out.starts_with(std::string(command.help) + "\nUsage: wwctl " + name + " [OPTIONS]"));
    CHECK(help.out.find("\nExample:\n  wwctl " + name) != std::string::npos);
  }
}

TEST_CASE("version prints the release and the wire format version") {
  WwctlRun run = RunWwctl({"version"});
  CHECK(run.exit_code == 0);
  CHECK(run.out == "wwctl 0.1.0 (wire format 1)\n");
  CHECK(run.err == "");
  WwctlRun flag = RunWwctl({"--version"});
  CHECK(flag.exit_code == 0);
  CHECK(flag.out == "wwctl 0.1.0 (wire format 1)\n");
}

TEST_CASE("schema prints FleetJsonSchema()") {
  WwctlRun run = RunWwctl({"schema"});
  CHECK(run.exit_code == 0);
  CHECK(run.err == "");
  CHECK(run.out == FleetJsonSchema());
}

TEST_CASE("no command or an unknown command or an extra argument exits 2") {
  WwctlRun none = RunWwctl({});
  CHECK(none.exit_code == 2);
  CHECK(none.out == "");
  CHECK(none.err == "wwctl: error: A subcommand is required\nRun 'wwctl --help' for usage.\n");

  WwctlRun unknown = RunWwctl({"aply", "-f", "x"});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err ==
        "wwctl: error: unknown command \"aply\" (commands: validate render plan schema version apply diff get status "
        "wait token agent history rollback sync)\n"
        "Run 'wwctl --help' for usage.\n");

  WwctlRun extra = RunWwctl({"version", "now"});
  CHECK(extra.exit_code == 2);
  CHECK(extra.err == "wwctl: error: The following argument was not expected: now\nRun 'wwctl version --help' for usage.\n");
}

}  // namespace
}  // namespace ww::test
