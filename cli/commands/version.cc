// wwctl version: the release and wire format version (schema/agent_config.h) of wwctl and,
// from GET /v1/version, of the reconciler it is configured for: the wire format must match
// between wwctl, the reconciler and agents. --client stays offline.

#include <memory>
#include <ostream>

#include "cli/cli11.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/remote_output.h"
#include "cli/remote_session.h"
#include "schema/agent_config.h"

namespace ww::cli {

namespace {

struct VersionFlags {
  RemoteFlags remote;
  bool client_only = false;
  std::string format = "text";
};

int RunVersion(const VersionFlags& flags, CommandContext& context) {
  Json data{{"client", {{"version", WIREWARP_VERSION}, {"wireFormat", kWireFormatVersion}}}};
  auto finish = [&](int exit_status) {
    if (flags.format != "text") PrintData(data, flags.format, context.out);
    return exit_status;
  };
  if (flags.format == "text") context.out << "Client: " << VersionText() << '\n';
  if (flags.client_only) return finish(kExitOk);

  Result<std::unique_ptr<ApiClient>> client = ConnectToReconciler(flags.remote, context);
  if (!client.ok()) return finish(ReportError(context, kExitUsage, client.status().message()));
  Result<ApiResponse> response = (*client)->Get("/v1/version");
  if (!response.ok()) return finish(ReportError(context, kExitUsage, response.status().message()));
  if (response->status != 200) return finish(ReportAnswerError(context, *response, kExitFailure));
  Result<Json> answer = ParseAnswer(*response);
  if (!answer.ok()) return finish(ReportError(context, kExitFailure, answer.status().message()));

  std::string version = JsonString(*answer, "version");
  std::optional<std::int64_t> wire_format = JsonInteger(*answer, "wireFormat");
  data["server"] = Json{{"version", version}, {"wireFormat", wire_format ? Json(*wire_format) : Json(nullptr)},
                        {"url", (*client)->url()}};
  if (flags.format == "text") {
    context.out << "Server: wirewarp-reconciler " << (version.empty() ? "?" : version) << " (wire format "
                << (wire_format ? std::to_string(*wire_format) : std::string("?")) << ") at " << (*client)->url()
                << '\n';
  }
  if (wire_format && *wire_format != kWireFormatVersion) {
    context.err << "wwctl: warning: the reconciler speaks wire format " << *wire_format << " and wwctl "
                << kWireFormatVersion << ": upgrade the older one\n";
  }
  return finish(kExitOk);
}

}  // namespace

std::string VersionText() {
  return std::string("wwctl ") + WIREWARP_VERSION + " (wire format " + std::to_string(kWireFormatVersion) + ")";
}

CommandRun RegisterVersion(CLI::App& command) {
  auto flags = std::make_shared<VersionFlags>();
  command.add_flag("--client", flags->client_only, "Only wwctl's own version; do not contact the reconciler");
  AddConfigFlag(command, flags->remote);
  AddOutputFlag(command, flags->format, {"text", "json", "yaml"},
                "text: one line each; json, yaml: {client: {version, wireFormat}, server: {version, wireFormat, url}}");
  command.footer(
      "Exit status: 0 both versions printed, 1 the reconciler answered with an error,\n"
      "2 usage or config error, or the reconciler could not be reached (the client line is\n"
      "printed first). 'wwctl --version' prints wwctl's line alone.\n"
      "\n"
      "Example:\n"
      "  wwctl version\n"
      "  Client: wwctl 0.1.0 (wire format 1)\n"
      "  Server: wirewarp-reconciler 0.1.0 (wire format 1) at https://ctl.example.net:8443\n"
      "  wwctl version --client");
  return [flags](CommandContext& context) { return RunVersion(*flags, context); };
}

}  // namespace ww::cli
