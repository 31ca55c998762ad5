// wwctl version: the release and the wire format version (schema/agent_config.h), which
// must match between wwctl, the reconciler and agents.

#include <ostream>

#include "cli/cli11.h"
#include "cli/commands.h"
#include "schema/agent_config.h"

namespace ww::cli {

std::string VersionText() {
  return std::string("wwctl ") + WIREWARP_VERSION + " (wire format " + std::to_string(kWireFormatVersion) + ")";
}

CommandRun RegisterVersion(CLI::App& command) {
  command.footer(
      "Example:\n"
      "  wwctl version\n"
      "  wwctl 0.1.0 (wire format 1)");
  return [](CommandContext& context) {
    context.out << VersionText() << '\n';
    return kExitOk;
  };
}

}  // namespace ww::cli
