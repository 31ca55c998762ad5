#include "cli/fleet_pipeline.h"

#include <ostream>

#include "cli/cli11.h"
#include "cli/flags.h"
#include "schema/agent_keys.h"
#include "schema/ipam.h"
#include "schema/render.h"
#include "schema/validate.h"

namespace ww::cli {

FleetCheck CheckFleet(const std::vector<SourceFile>& files, const ValidationContext& validation) {
  // Loader and cross-document findings of one run, all reported at once. Validation knows
  // which documents failed to load, so it reports no phantoms about them.
  LoadResult checked = LoadAndValidateFleet(files, {}, validation);
  return FleetCheck{std::move(checked.fleet), std::move(checked.diagnostics)};
}

size_t ResourceCount(const Fleet& fleet) {
  return fleet.tunnels.size() + fleet.peers.size() + fleet.forwards.size() + fleet.templates.size();
}

void PrintDiagnostics(const Diagnostics& diagnostics, std::ostream& out) {
  for (const Diagnostic& diagnostic : diagnostics) out << FormatDiagnostic(diagnostic) << '\n';
}

void AddRenderFlags(CLI::App& command, RenderFlags& flags) {
  AddFleetFlag(command, flags.paths);
  command.add_option("--agent", flags.agent, "The agent to render (a Tunnel's spec.agent or a Peer's spec.agent)")
      ->required()
      ->type_name("NAME");
  command.add_option("--keys", flags.keys_path,
                     "YAML or JSON map of agent name to WireGuard public key. Effectively required: the agent "
                     "and every managed agent it peers with need a key")
      ->type_name("FILE");
  command.add_option("--control-address", flags.control_address,
                     "The control server's IPv4 address, kept off the tunnel in gateway mode")
      ->type_name("IP");
}

std::variant<AgentConfig, int> RenderFromFlags(const RenderFlags& flags, InputReader& reader, CommandContext& context) {
  RenderInput input;
  if (!flags.control_address.empty()) {
    Result<Ipv4Address> address = Ipv4Address::Parse(flags.control_address);
    if (!address.ok()) return ReportError(context, kExitUsage, "--control-address: " + address.status().message());
    input.control_address = *address;
  }

  Result<std::vector<SourceFile>> sources = reader.ReadFleet(flags.paths);
  if (!sources.ok()) return ReportError(context, kExitUsage, sources.status().message());
  if (!flags.keys_path.empty()) {
    Result<std::string> text = reader.ReadFile(flags.keys_path);
    if (!text.ok()) return ReportError(context, kExitUsage, text.status().message());
    Result<std::map<std::string, WireguardKey>> keys = ParseAgentKeys(*text, flags.keys_path);
    if (!keys.ok()) return ReportError(context, kExitFailure, keys.status().message());
    input.agent_public_keys = std::move(keys).value();
  }

  FleetCheck check = CheckFleet(*sources);
  PrintDiagnostics(check.diagnostics, context.err);  // warnings too: they never reach stdout
  if (!check.valid()) return ReportError(context, kExitFailure, "the fleet is invalid; nothing rendered");

  AllocationResult allocation = AllocateAddresses(check.fleet, {});
  PrintDiagnostics(allocation.diagnostics, context.err);
  if (HasErrors(allocation.diagnostics)) return ReportError(context, kExitFailure, "address allocation failed");
  input.allocations = std::move(allocation.allocations);

  Result<AgentConfig> config = RenderAgent(check.fleet, input, flags.agent);
  if (!config.ok()) return ReportError(context, kExitFailure, config.status().message());
  return std::move(config).value();
}

}  // namespace ww::cli
