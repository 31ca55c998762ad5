// MoveGlobalFlags: the global flags before the command move behind it, everything else keeps
// its place, "--" ends the flags.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cli/commands.h"

namespace ww::cli {
namespace {

using Args = std::vector<std::string>;

TEST_CASE("MoveGlobalFlags moves --config, -o, --timeout and -v from before the command to after it") {
  CHECK(MoveGlobalFlags({"--config", "a.yaml", "get", "agents"}) == Args{"get", "agents", "--config", "a.yaml"});
  CHECK(MoveGlobalFlags({"--config=a.yaml", "-o", "json", "get", "agents", "vps"}) ==
        Args{"get", "agents", "vps", "--config=a.yaml", "-o", "json"});
  CHECK(MoveGlobalFlags({"-ojson", "--output=yaml", "-v", "--verbose", "--timeout", "5s", "status"}) ==
        Args{"status", "-ojson", "--output=yaml", "-v", "--verbose", "--timeout", "5s"});
  // Nested commands: the flags go to the end, where the innermost command parses them.
  CHECK(MoveGlobalFlags({"--config", "a.yaml", "token", "create", "--type", "client"}) ==
        Args{"token", "create", "--type", "client", "--config", "a.yaml"});
  // Before a "--", which ends the flags.
  CHECK(MoveGlobalFlags({"-v", "validate", "-f", "--", "-odd.yaml"}) == Args{"validate", "-f", "-v", "--", "-odd.yaml"});
}

TEST_CASE("MoveGlobalFlags leaves everything else where it is") {
  CHECK(MoveGlobalFlags({"get", "agents", "--config", "a.yaml"}) == Args{"get", "agents", "--config", "a.yaml"});
  // After the command, -o is the command's (here: a file name after -f is not a flag).
  CHECK(MoveGlobalFlags({"diff", "-f", "x", "-o", "json"}) == Args{"diff", "-f", "x", "-o", "json"});
  CHECK(MoveGlobalFlags({"--help"}) == Args{"--help"});
  CHECK(MoveGlobalFlags({"--version", "-v"}) == Args{"--version", "-v"});
  CHECK(MoveGlobalFlags({"--unknown", "get"}) == Args{"--unknown", "get"});
  // A value-taking flag at the very end keeps its place for CLI11 to report.
  CHECK(MoveGlobalFlags({"--config"}) == Args{"--config"});
  CHECK(MoveGlobalFlags({}).empty());
}

}  // namespace
}  // namespace ww::cli
