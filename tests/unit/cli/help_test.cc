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

TEST_CASE("version --client and --version print the release and the wire format version offline") {
  WwctlRun run = RunWwctl({"version", "--client"});
  CHECK(run.exit_code == 0);
  CHECK(run.out == "Client: wwctl 0.1.0 (wire format 1)\n");
  CHECK(run.err == "");
  WwctlRun json = RunWwctl({"-o", "json", "version", "--client"});
  CHECK(json.exit_code == 0);
  CHECK(json.out == "{\n  \"client\": {\n    \"version\": \"0.1.0\",\n    \"wireFormat\": 1\n  }\n}\n");
  WwctlRun flag = RunWwctl({"--version"});
  CHECK(flag.exit_code == 0);
  CHECK(flag.out == "wwctl 0.1.0 (wire format 1)\n");
  // Without a config the server's version cannot be asked: the client line, then why.
  WwctlRun no_config = RunWwctl({"version", "--config", "/nonexistent/wwctl.yaml"});
  CHECK(no_config.exit_code == 2);
  CHECK(no_config.out == "Client: wwctl 0.1.0 (wire format 1)\n");
  CHECK(no_config.err == "wwctl: error: cannot read \"/nonexistent/wwctl.yaml\": No such file or directory (from --config)\n");
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
        "wwctl: error: unknown command \"aply\"; did you mean \"apply\"? (commands: validate render plan schema "
        "version apply diff get status wait token credential agent history rollback sync peer)\n"
        "Run 'wwctl --help' for usage.\n");
  // After global flags too, and without a hint when nothing is close.
  WwctlRun after_flags = RunWwctl({"--config", "x.yaml", "-o", "json", "stauts"});
  CHECK(after_flags.exit_code == 2);
  CHECK(after_flags.err.starts_with("wwctl: error: unknown command \"stauts\"; did you mean \"status\"? (commands: "));
  WwctlRun far = RunWwctl({"frobnicate"});
  CHECK(far.err.starts_with("wwctl: error: unknown command \"frobnicate\" (commands: "));

  WwctlRun extra = RunWwctl({"version", "now"});
  CHECK(extra.exit_code == 2);
  CHECK(extra.err == "wwctl: error: The following argument was not expected: now\nRun 'wwctl version --help' for usage.\n");
}

}  // namespace
}  // namespace ww::test
