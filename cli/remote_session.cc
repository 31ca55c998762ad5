#include "cli/remote_session.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <ostream>

#include "cli/cli11.h"
#include "cli/fleet_pipeline.h"
#include "cli/fleet_source.h"
#include "cli/remote_config.h"
#include "cli/remote_output.h"
#include "schema/diagnostic.h"
#include "schema/yaml_document.h"

namespace ww::cli {

void AddConfigFlag(CLI::App& command, RemoteFlags& flags) {
  command
      .add_option("--config", flags.config_path,
                  "wwctl config file (default: $WWCTL_CONFIG, else ~/" + std::string(kRemoteConfigHomePath) + ")")
      ->type_name("FILE");
}

Result<std::unique_ptr<ApiClient>> ConnectToReconciler(const RemoteFlags& flags, CommandContext& context) {
  WW_ASSIGN_OR_RETURN(ReconcilerConnection connection, ConnectWithConfig(flags, context));
  return std::move(connection.client);
}

Result<ReconcilerConnection> ConnectWithConfig(const RemoteFlags& flags, CommandContext& context) {
  WW_ASSIGN_OR_RETURN(ConfigLocation location,
                      ResolveConfigPath(flags.config_path, std::getenv(std::string(kRemoteConfigEnvironment).c_str()),
                                        std::getenv("HOME")));
  WW_ASSIGN_OR_RETURN(LoadedRemoteConfig loaded, LoadRemoteConfig(location));
  if (context.verbose) {
    context.err << "wwctl: config " << location.path << " (from " << DescribeOrigin(location.origin) << "), server "
                << loaded.config.server << '\n';
  }
  ApiClientOptions options;
  options.url = loaded.config.server;
  options.settings_source = location.path + ", from " + DescribeOrigin(location.origin);
  options.timeout_flag = "--timeout";
  if (context.request_timeout.count() > 0) {
    options.read_timeout = context.request_timeout;
    options.connect_timeout = std::min(options.connect_timeout, context.request_timeout);
  }
  if (context.verbose) {
    std::ostream* err = &context.err;
    options.trace = [err](const std::string& line) { *err << "wwctl: " << line << '\n'; };
  }
  options.ca_certificate_pem = loaded.config.ca_certificate_pem;
  options.client_certificate_pem = loaded.config.client_certificate_pem;
  options.client_key_pem = loaded.config.client_key_pem;
  Result<std::unique_ptr<ApiClient>> client = ApiClient::Create(std::move(options));
  if (!client.ok()) return client.status().WithContext(location.path);
  return ReconcilerConnection{std::move(client).value(), std::move(loaded.config)};
}

Result<std::chrono::seconds> ParseDuration(std::string_view text) {
  auto invalid = [&] {
    return Status::InvalidArgument("\"" + std::string(text.substr(0, 40)) +
                                   "\" is not a duration such as 90s, 5m, 1h30m or 2d");
  };
  if (text.empty()) return invalid();
  constexpr std::int64_t kMaxSeconds = std::int64_t{10} * 365 * 86400;
  std::int64_t total = 0;
  size_t position = 0;
  while (position < text.size()) {
    std::int64_t number = 0;
    size_t digits = 0;
    while (position < text.size() && text[position] >= '0' && text[position] <= '9') {
      number = number * 10 + (text[position] - '0');
      ++position;
      if (++digits > 9) return invalid();
    }
    if (digits == 0 || position == text.size()) return invalid();
    std::int64_t unit = 0;
    switch (text[position]) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      default: return invalid();
    }
    ++position;
    total += number * unit;
    if (total > kMaxSeconds) return Status::InvalidArgument("\"" + std::string(text) + "\" is longer than 10 years");
  }
  return std::chrono::seconds(total);
}

std::variant<std::string, int> PrepareUpload(const std::vector<std::string>& paths, UploadRequest request,
                                             CommandContext& context, int invalid_exit) {
  InputReader reader(context.in, LoadOptions{}.max_file_bytes);
  Result<std::vector<SourceFile>> files = reader.ReadFleet(paths);
  if (!files.ok()) return ReportError(context, kExitUsage, files.status().message());
  Diagnostics encoding;
  Json documents = Json::array();
  for (const SourceFile& file : *files) {
    if (std::optional<YamlError> problem = FindEncodingProblem(file.content)) {
      encoding.push_back(Diagnostic{Severity::kError, file.path, problem->mark, "", "", problem->message});
      continue;
    }
    documents.push_back(Json{{"path", file.path}, {"content", file.content}});
  }
  if (!encoding.empty()) {
    PrintDiagnostics(encoding, context.out);
    return ReportError(context, invalid_exit,
                       "the fleet is invalid: " + std::to_string(encoding.size()) +
                           (encoding.size() == 1 ? " error" : " errors"));
  }
  Json body{{"documents", std::move(documents)},
            {"dryRun", request.dry_run == DryRun::kYes},
            {"allowDestructive", request.allow_destructive == AllowDestructive::kYes},
            {"force", request.force == Force::kYes}};
  // Contents are UTF-8 (checked above); only a file name could still carry a stray byte.
  std::string text = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > kMaxUploadBytes) {
    return ReportError(context, kExitUsage,
                       "the fleet is " + std::to_string(text.size()) +
                           " bytes as JSON; the reconciler accepts at most 8 MiB");
  }
  return text;
}

int ReportAnswerError(CommandContext& context, const ApiResponse& response, int exit_code) {
  return ReportError(context, exit_code,
                     "the reconciler answered HTTP " + std::to_string(response.status) + ": " + ApiErrorMessage(response));
}

}  // namespace ww::cli
