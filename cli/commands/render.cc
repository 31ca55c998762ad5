// wwctl render: the AgentConfig one agent would be given, as the wire-format JSON the
// reconciler sends. Offline: public keys come from --keys instead of enrollment records.

#include <memory>
#include <ostream>

#include "cli/cli11.h"
#include "cli/commands.h"
#include "cli/fleet_pipeline.h"
#include "schema/wire_json.h"

namespace ww::cli {

CommandRun RegisterRender(CLI::App& command) {
  auto flags = std::make_shared<RenderFlags>();
  AddRenderFlags(command, *flags);
  command.footer(
      "Validates the fleet first (findings go to stderr; an invalid fleet renders nothing),\n"
      "allocates tunnel addresses as a fresh reconciler would, and prints the agent's\n"
      "AgentConfig. Rendering needs the WireGuard public key of the agent and of every managed\n"
      "agent it peers with, so pass --keys: a map of agent name to public key.\n"
      "\n"
      "Exit status:\n"
      "  0  rendered\n"
      "  1  invalid fleet or keys file, missing key, or unknown agent\n"
      "  2  usage or I/O error\n"
      "\n"
      "Example:\n"
      "  wwctl render -f examples/homelab --agent vps --keys examples/homelab-keys.yaml\n"
      "\n"
      "  examples/homelab-keys.yaml:\n"
      "    vps: PbSK/Kg/maYUE1U0WBEwpINugfslGFR+2uHLWgigiks=\n"
      "    home-gw: jBBZRYNjm427kz+vJYp6mBWXMnUoSRqX1CEhl3qtgGk=");
  return [flags](CommandContext& context) {
    InputReader reader(context.in, LoadOptions{}.max_file_bytes);
    std::variant<AgentConfig, int> rendered = RenderFromFlags(*flags, reader, context);
    if (const int* exit_status = std::get_if<int>(&rendered)) return *exit_status;
    std::string json = AgentConfigToJson(std::get<AgentConfig>(rendered));
    context.out << json << (json.ends_with('\n') ? "" : "\n");
    return kExitOk;
  };
}

}  // namespace ww::cli
