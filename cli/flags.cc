#include "cli/flags.h"

#include <algorithm>

#include "cli/cli11.h"

namespace ww::cli {

void AddFleetFlag(CLI::App& command, std::vector<std::string>& paths) {
  command.add_option("-f,--filename", paths, "Fleet files or directories (*.yaml, *.yml, read recursively); - reads stdin")
      ->required()
      ->type_name("PATH");
}

void AddOutputFlag(CLI::App& command, std::string& format, const std::vector<std::string>& formats,
                   std::string_view help) {
  std::string choices;
  for (const std::string& name : formats) choices += (choices.empty() ? "" : "|") + name;
  CLI::Validator one_of(
      [formats, choices](std::string& value) -> std::string {
        if (std::find(formats.begin(), formats.end(), value) != formats.end()) return "";
        return "\"" + value + "\" is not one of " + choices;
      },
      "");
  command.add_option("-o,--output", format, std::string(help) + " (default: " + format + ")")
      ->check(one_of)
      ->type_name(choices);
}

}  // namespace ww::cli
