#pragma once
// The steps wwctl's commands share: load + validate a fleet (validate, render, plan), and
// render one agent from -f/--agent/--keys/--control-address (render, plan). Each step that
// fails prints its findings or error to the context's err stream and yields the exit
// status to end with, so every command reports failures the same way.

#include <cstddef>
#include <string>
#include <variant>
#include <vector>

#include "cli/commands.h"
#include "cli/fleet_source.h"
#include "schema/agent_config.h"
#include "schema/diagnostic.h"
#include "schema/loader.h"
#include "schema/model.h"
#include "schema/validate.h"

namespace ww::cli {

struct FleetCheck {
  Fleet fleet;
  Diagnostics diagnostics;  // loader and validation findings, sorted
  bool valid() const { return !HasErrors(diagnostics); }
};

// LoadAndValidateFleet: every loader and cross-document finding of one run. Documents that
// failed to load are known to validation, so it reports no phantoms about them.
FleetCheck CheckFleet(const std::vector<SourceFile>& files, const ValidationContext& validation = {});
size_t ResourceCount(const Fleet& fleet);

struct RenderFlags {
  std::vector<std::string> paths;  // -f
  std::string agent;               // --agent
  std::string keys_path;           // --keys; "" = none
  std::string control_address;     // --control-address; "" = none
};

// Declares -f, --agent, --keys and --control-address on `command`.
void AddRenderFlags(CLI::App& command, RenderFlags& flags);

// Read, check, allocate addresses (no previous allocations) and render `flags.agent`.
// Invalid fleet, bad keys file or a missing key: findings on err, kExitFailure. Unreadable
// files or a bad --control-address: kExitUsage.
std::variant<AgentConfig, int> RenderFromFlags(const RenderFlags& flags, InputReader& reader, CommandContext& context);

// Prints diagnostics as FormatDiagnostic lines.
void PrintDiagnostics(const Diagnostics& diagnostics, std::ostream& out);

}  // namespace ww::cli
