// wwctl validate: load and check fleet files offline, as CI does on every pull request.
// Findings go to stdout in the chosen format, a one-line summary to stderr.
#include <nlohmann/json.hpp>

#include <memory>
#include <ostream>

#include "cli/cli11.h"
#include "cli/commands.h"
#include "cli/fleet_pipeline.h"
#include "cli/fleet_source.h"
#include "cli/flags.h"
#include "reconciler/client/https_url.h"
#include "schema/validate.h"

namespace ww::cli {

namespace {

struct ValidateFlags {
  std::vector<std::string> paths;
  std::string format = "text";  // text, json or github
  std::string control_server;   // --control-server; "" = the control-port check is skipped
};

std::string Plural(size_t count, std::string_view noun) {
  return std::to_string(count) + " " + std::string(noun) + (count == 1 ? "" : "s");
}

std::string DiagnosticsJson(const Diagnostics& diagnostics, size_t errors, size_t warnings) {
  using Json = nlohmann::ordered_json;
  Json list = Json::array();
  for (const Diagnostic& diagnostic : diagnostics) {
    list.push_back(Json{{"severity", diagnostic.severity == Severity::kError ? "error" : "warning"},
                        {"file", diagnostic.file},
                        {"line", diagnostic.mark.line},
                        {"column", diagnostic.mark.column},
                        {"object", diagnostic.object},
                        {"field", diagnostic.field},
                        {"message", diagnostic.message}});
  }
  Json result{{"valid", errors == 0}, {"errors", errors}, {"warnings", warnings}, {"diagnostics", std::move(list)}};
  // Messages quote user input: never let a stray byte turn into an exception.
  return result.dump(2, ' ', false, Json::error_handler_t::replace);
}

int RunValidate(const ValidateFlags& flags, CommandContext& context) {
  ValidationContext validation;
  if (!flags.control_server.empty()) {
    // The reconciler's --advertise form; "HOST:PORT" alone is read as https://HOST:PORT.
    std::string url = flags.control_server.starts_with("https://") ? flags.control_server
                                                                   : "https://" + flags.control_server;
    Result<HttpsUrl> parsed = ParseHttpsUrl(url);
    if (!parsed.ok()) return ReportError(context, kExitUsage, "--control-server: " + parsed.status().message());
    validation.control = ControlServer{parsed->host, static_cast<uint16_t>(parsed->port)};
  }
  InputReader reader(context.in, LoadOptions{}.max_file_bytes);
  Result<std::vector<SourceFile>> sources = reader.ReadFleet(flags.paths);
  if (!sources.ok()) return ReportError(context, kExitUsage, sources.status().message());

  FleetCheck check = CheckFleet(*sources, validation);
  size_t errors = 0;
  for (const Diagnostic& diagnostic : check.diagnostics) errors += diagnostic.severity == Severity::kError ? 1 : 0;
  size_t warnings = check.diagnostics.size() - errors;

  if (flags.format == "json") {
    context.out << DiagnosticsJson(check.diagnostics, errors, warnings) << '\n';
  } else if (flags.format == "github") {
    for (const Diagnostic& diagnostic : check.diagnostics) context.out << FormatGithubAnnotation(diagnostic) << '\n';
  } else {
    PrintDiagnostics(check.diagnostics, context.out);
  }

  std::string label;
  for (const std::string& path : flags.paths) label += (label.empty() ? "" : " ") + path;
  context.err << label << ": " << Plural(ResourceCount(check.fleet), "resource") << ", " << Plural(errors, "error")
              << ", " << Plural(warnings, "warning") << '\n';
  return errors == 0 ? kExitOk : kExitFailure;
}

}  // namespace

CommandRun RegisterValidate(CLI::App& command) {
  auto flags = std::make_shared<ValidateFlags>();
  AddFleetFlag(command, flags->paths);
  AddOutputFlag(command, flags->format, {"text", "json", "github"},
                "text: FILE:LINE:COL: error: ... lines; json: one object; github: workflow annotations");
  command.add_option("--control-server", flags->control_server,
                     "The reconciler's address as agents dial it (its --advertise URL, or HOST:PORT): forwards "
                     "on its port on its own VPS are refused. Without it that check is skipped")
      ->type_name("HOST:PORT");
  command.footer(
      "Loads every document (*.yaml and *.yml, directories recursively) and checks its fields,\n"
      "then, once every document loads cleanly, the cross-resource rules. Every finding is\n"
      "printed, warnings included; a summary line goes to stderr.\n"
      "\n"
      "Exit status:\n"
      "  0  valid (warnings allowed)\n"
      "  1  invalid: at least one error\n"
      "  2  usage or I/O error (unreadable path, bad flag)\n"
      "\n"
      "Example:\n"
      "  wwctl validate -f examples/homelab\n"
      "  wwctl validate -f fleet/ --control-server ctl.example.net:8443\n"
      "  wwctl validate -f fleet/ -o github      # annotations on a GitHub pull request\n"
      "  cat tunnel.yaml | wwctl validate -f - -o json");
  return [flags](CommandContext& context) { return RunValidate(*flags, context); };
}

}  // namespace ww::cli
