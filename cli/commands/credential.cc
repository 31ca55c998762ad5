// wwctl credential create | list | revoke: certificates for people and CI jobs, by name and
// role (admin, viewer, ci). create makes the private key here, sends only the CSR and writes a
// complete wwctl config file (0600) for the new credential; revoke refuses the credential's
// next request, also on a connection already open.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <ostream>

#include "cli/cli11.h"
#include "cli/commands.h"
#include "cli/fleet_source.h"
#include "cli/flags.h"
#include "cli/remote_output.h"
#include "cli/remote_session.h"
#include "reconciler/client/wwctl_config_text.h"
#include "reconciler/pki/certificate_authority.h"
#include "schema/model.h"

namespace ww::cli {

namespace {

struct CredentialFlags {
  RemoteFlags remote;
  std::string role;
  std::string name;
  std::string ttl;          // "" = the reconciler's default (90d)
  std::string output_path;  // create: "" = NAME.wwctl.yaml
  bool force = false;
  std::string format = "text";  // list
  std::string serial;           // revoke --serial
};

// "90d" for whole days, else "36h", "2h30m", ...: a lifetime as --ttl takes it.
std::string DurationText(std::chrono::seconds duration) {
  std::int64_t seconds = duration.count();
  if (seconds % 86400 == 0) return std::to_string(seconds / 86400) + "d";
  return std::to_string(seconds / 3600) + "h";
}

Result<std::chrono::seconds> ParseLifetime(const std::string& text) {
  WW_ASSIGN_OR_RETURN(std::chrono::seconds ttl, ParseDuration(text));
  if (ttl < kMinCredentialLifetime || ttl > kMaxCredentialLifetime) {
    return Status::InvalidArgument("\"" + text + "\" is outside " + DurationText(kMinCredentialLifetime) + ".." +
                                   DurationText(kMaxCredentialLifetime));
  }
  return ttl;
}

// Writes `content` to `path` with mode 0600; an existing file is replaced only with `force`
// (through a new file renamed over it, so a failed write leaves the old one).
Status WriteConfigFile(const std::string& path, const std::string& content, bool force) {
  if (!force) return WritePrivateFile(path, content);
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) return Status::InvalidArgument("\"" + path + "\" is a directory");
  std::string temporary = path + ".new-" + std::to_string(::getpid());
  WW_RETURN_IF_ERROR(WritePrivateFile(temporary, content));
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    return Status::InvalidArgument("cannot replace \"" + path + "\"");
  }
  return Status::Ok();
}

int RunCredentialCreate(const CredentialFlags& flags, CommandContext& context) {
  if (!IsValidName(flags.name)) {
    return ReportError(context, kExitUsage,
                       "--name: \"" + flags.name + "\" is not a name (lowercase letters, digits and '-', at most 63)");
  }
  Json body{{"name", flags.name}, {"role", flags.role}};
  if (!flags.ttl.empty()) {
    Result<std::chrono::seconds> ttl = ParseLifetime(flags.ttl);
    if (!ttl.ok()) return ReportError(context, kExitUsage, "--ttl: " + ttl.status().message());
    body["ttlSeconds"] = ttl->count();
  }
  const std::string path = flags.output_path.empty() ? flags.name + ".wwctl.yaml" : flags.output_path;
  // Before the reconciler issues anything: a credential nobody can use helps no one.
  std::error_code exists_error;
  if (!flags.force && std::filesystem::exists(std::filesystem::symlink_status(path, exists_error))) {
    return ReportError(context, kExitUsage,
                       "-o: \"" + path + "\" already exists; choose another path, or add --force to replace it");
  }
  Result<std::string> key = GenerateP256Key();
  if (!key.ok()) return ReportError(context, kExitUsage, key.status().message());
  Result<std::string> csr = MakeCsr(*key, flags.name);
  if (!csr.ok()) return ReportError(context, kExitUsage, csr.status().message());
  body["csr"] = *csr;

  Result<ReconcilerConnection> connection = ConnectWithConfig(flags.remote, context);
  if (!connection.ok()) return ReportError(context, kExitUsage, connection.status().message());
  Result<ApiResponse> response = connection->client->Post("/v1/credentials", body.dump());
  if (!response.ok()) return ReportError(context, kExitUsage, response.status().message());
  if (response->status != 200) return ReportAnswerError(context, *response, kExitFailure);
  Result<Json> answer = ParseAnswer(*response);
  if (!answer.ok()) return ReportError(context, kExitFailure, answer.status().message());
  std::string certificate = JsonString(*answer, "certificate");
  if (certificate.empty()) return ReportError(context, kExitFailure, "the reconciler's answer lacks certificate");

  const RemoteConfig& current = connection->config;
  std::string identity = JsonString(*answer, "identity");
  std::string text = FormatWwctlConfig(
      WwctlConfigText{current.server, current.ca_pin, current.ca_certificate_pem, certificate, *key},
      identity.empty() ? "credential " + flags.name : identity);
  if (Status written = WriteConfigFile(path, text, flags.force); !written.ok()) {
    return ReportError(context, kExitUsage,
                       written.message() + "\nthe credential was created; revoke it with: wwctl credential revoke " +
                           flags.name);
  }
  context.err << "Wrote " << path << " (0600, holds the private key): credential " << flags.name << ", role "
              << flags.role << ", valid until " << UtcTime(JsonInteger(*answer, "notAfter")) << ".\n"
              << "Use it with: wwctl --config " << path << " COMMAND, or WWCTL_CONFIG=" << path << ".\n";
  return kExitOk;
}

int RunCredentialList(const CredentialFlags& flags, CommandContext& context) {
  Result<std::unique_ptr<ApiClient>> client = ConnectToReconciler(flags.remote, context);
  if (!client.ok()) return ReportError(context, kExitUsage, client.status().message());
  Result<ApiResponse> response = (*client)->Get("/v1/credentials");
  if (!response.ok()) return ReportError(context, kExitUsage, response.status().message());
  if (response->status != 200) return ReportAnswerError(context, *response, kExitFailure);
  Result<Json> answer = ParseAnswer(*response);
  if (!answer.ok()) return ReportError(context, kExitFailure, answer.status().message());
  const Json& credentials = JsonArray(*answer, "credentials");
  if (flags.format != "text") {
    PrintData(credentials, flags.format, context.out);
    return kExitOk;
  }
  if (credentials.empty()) {
    context.err << "No credentials.\n";
    return kExitOk;
  }
  Table table({"NAME", "ROLE", "STATE", "SERIAL", "EXPIRES", "LAST USED", "CREATED BY"});
  for (const Json& credential : credentials) {
    std::string created_by = JsonString(credential, "createdBy");
    table.AddRow({JsonString(credential, "name"), JsonString(credential, "role"), JsonString(credential, "state"),
                  JsonString(credential, "serial"), UtcTime(JsonInteger(credential, "notAfter")),
                  UtcTime(JsonInteger(credential, "lastUsed")), created_by.empty() ? "-" : created_by});
  }
  table.Print(context.out);
  return kExitOk;
}

bool IsSerial(const std::string& serial) {
  if (serial.empty() || serial.size() > 64) return false;
  return serial.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
}

int RunCredentialRevoke(const CredentialFlags& flags, CommandContext& context) {
  const bool by_serial = !flags.serial.empty();
  if (by_serial == !flags.name.empty()) {
    return ReportError(context, kExitUsage, "give a credential NAME or --serial SERIAL, not both or neither");
  }
  if (by_serial && !IsSerial(flags.serial)) {
    return ReportError(context, kExitUsage, "--serial: \"" + flags.serial + "\" is not a certificate serial (hex)");
  }
  if (!by_serial && !IsValidName(flags.name)) {
    return ReportError(context, kExitUsage, "\"" + flags.name + "\" is not a credential name");
  }
  Result<std::unique_ptr<ApiClient>> client = ConnectToReconciler(flags.remote, context);
  if (!client.ok()) return ReportError(context, kExitUsage, client.status().message());
  Result<ApiResponse> response = by_serial ? (*client)->Post("/v1/certificates/" + flags.serial + "/revoke", "{}")
                                           : (*client)->Delete("/v1/credentials/" + flags.name);
  if (!response.ok()) return ReportError(context, kExitUsage, response.status().message());
  if (response->status != 200) return ReportAnswerError(context, *response, kExitFailure);
  if (by_serial) {
    context.out << "Certificate " << flags.serial << " revoked; it is refused from its next request.\n";
    return kExitOk;
  }
  Result<Json> answer = ParseAnswer(*response);
  std::string serials;
  if (answer.ok()) {
    for (const Json& serial : JsonArray(*answer, "serials")) {
      if (serial.is_string()) serials += (serials.empty() ? "" : ", ") + serial.get<std::string>();
    }
  }
  context.out << "Credential " << flags.name << " revoked"
              << (serials.empty() ? " (it was already)" : " (certificate " + serials + ")")
              << "; it is refused from its next request.\n";
  return kExitOk;
}

}  // namespace

CommandRun RegisterCredential(CLI::App& command) {
  auto flags = std::make_shared<CredentialFlags>();
  command.require_subcommand(1);
  command.footer(
      "Roles: viewer reads everything; ci also runs diff, apply --dry-run and wait, never a\n"
      "real apply, rollback, delete or token; admin does all.\n"
      "\n"
      "Example:\n"
      "  wwctl credential create --role ci --name github-ci -o ci.wwctl.yaml\n"
      "  wwctl credential list\n"
      "  wwctl credential revoke github-ci\n"
      "  wwctl credential create --help");

  CLI::App* create =
      command.add_subcommand("create", "Issue a certificate for a person or CI job and write its config file");
  create->add_option("--role", flags->role, "What it may do: admin, viewer or ci")
      ->required()
      ->check(CLI::IsMember({"admin", "viewer", "ci"}).description(""))
      ->type_name("admin|viewer|ci");
  create->add_option("--name", flags->name, "Its name, unique among active credentials")->required()->type_name("NAME");
  create->add_option("--ttl", flags->ttl,
                     "How long its certificate is valid, " + DurationText(kMinCredentialLifetime) + " to " +
                         DurationText(kMaxCredentialLifetime) + " (default: " +
                         DurationText(kDefaultCredentialLifetime) + ")")
      ->type_name("DURATION");
  create
      ->add_option("-o,--output", flags->output_path, "The config file to write, mode 0600 (default: NAME.wwctl.yaml)")
      ->type_name("FILE");
  create->add_flag("--force", flags->force, "Replace the file if it exists");
  AddConfigFlag(*create, flags->remote);
  create->footer(
      "The private key is made here and never sent: the reconciler signs a CSR. The file is a\n"
      "complete wwctl config (the server and CA of the current one), e.g. for a CI secret.\n"
      "\n"
      "Exit status:\n"
      "  0  created and written\n"
      "  1  the reconciler refused (a taken name: HTTP 409; not an admin: HTTP 403)\n"
      "  2  usage or config error, the file exists, or the reconciler could not be reached\n"
      "\n"
      "Example:\n"
      "  wwctl credential create --role ci --name github-ci -o ci.wwctl.yaml\n"
      "  wwctl credential create --role admin --name alice --ttl 30d");

  CLI::App* list = command.add_subcommand("list", "List credentials, revoked and expired ones too");
  AddConfigFlag(*list, flags->remote);
  AddOutputFlag(*list, flags->format, {"text", "json", "yaml"}, "text: a table; json, yaml: the reconciler's answer");
  list->footer(
      "STATE is active, revoked or expired. LAST USED is the credential's latest request.\n"
      "\n"
      "Example:\n"
      "  wwctl credential list -o yaml");

  CLI::App* revoke = command.add_subcommand("revoke", "Revoke a credential by name, or any one certificate by serial");
  revoke->add_option("name", flags->name, "The credential's name, as `wwctl credential list` shows it")
      ->type_name("NAME");
  revoke->add_option("--serial", flags->serial, "Revoke this one certificate instead (a person's or an agent's)")
      ->type_name("SERIAL");
  AddConfigFlag(*revoke, flags->remote);
  revoke->footer(
      "Revocation holds from the credential's next request, also on connections already open.\n"
      "The last valid admin cannot be revoked: another admin must remain.\n"
      "\n"
      "Exit status:\n"
      "  0  revoked (revoking twice is fine)\n"
      "  1  the reconciler refused (unknown: HTTP 404; the last admin: HTTP 409)\n"
      "  2  usage or config error, or the reconciler could not be reached\n"
      "\n"
      "Example:\n"
      "  wwctl credential revoke github-ci\n"
      "  wwctl credential revoke --serial 3f2a9c...");

  return [flags, create, list](CommandContext& context) {
    if (create->parsed()) return RunCredentialCreate(*flags, context);
    if (list->parsed()) return RunCredentialList(*flags, context);
    return RunCredentialRevoke(*flags, context);
  };
}

}  // namespace ww::cli
