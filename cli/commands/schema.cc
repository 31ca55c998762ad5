// wwctl schema: the JSON Schema of fleet documents (schema/json_schema.h). The checked-in
// schema/wirewarp.schema.json is this output.

#include <ostream>

#include "cli/cli11.h"
#include "cli/commands.h"
#include "schema/json_schema.h"

namespace ww::cli {

CommandRun RegisterSchema(CLI::App& command) {
  command.footer(
      "Editors that speak the YAML language server check and complete fleet files with it:\n"
      "  # yaml-language-server: $schema=../../schema/wirewarp.schema.json\n"
      "\n"
      "Example:\n"
      "  wwctl schema > schema/wirewarp.schema.json");
  return [](CommandContext& context) {
    context.out << FleetJsonSchema();
    return kExitOk;
  };
}

}  // namespace ww::cli
