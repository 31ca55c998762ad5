// wwctl peer new | config: phones and laptops, the unmanaged peers of a tunnel.
//
// `peer new NAME --tunnel T` makes the device's X25519 key pair here, on the operator's
// machine, prints the Peer document to commit (public key and a pinned address only), writes
// the device's wg-quick config (private key included) as a 0600 file and shows it as a QR
// code. `peer config NAME --private-key-file F` builds the same config again from the current
// revision, e.g. after the server's endpoint changed. The private key is never sent anywhere:
// against the reconciler both commands only read (GET /v1/status, GET /v1/revisions/ID), and
// it goes into no document. With -f the fleet files are read instead (offline; they must be
// valid) and --keys gives the server agents' public keys.
#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "cli/cli11.h"
#include "cli/commands.h"
#include "cli/fleet_pipeline.h"
#include "cli/fleet_source.h"
#include "cli/flags.h"
#include "cli/qr_code.h"
#include "cli/remote_output.h"
#include "cli/remote_session.h"
#include "reconciler/pki/wireguard_keys.h"
#include "schema/agent_keys.h"
#include "schema/device_config.h"
#include "schema/ipam.h"
#include "schema/yaml_writer.h"

namespace ww::cli {

namespace {

namespace fs = std::filesystem;

constexpr int kPngPixelsPerModule = 8;

struct PeerFlags {
  RemoteFlags remote;
  std::vector<std::string> paths;  // -f: offline, from fleet files instead of the reconciler
  std::string keys_path;           // --keys: offline, the server agents' public keys
  std::string name;
  std::string tunnel;                    // new
  std::vector<std::string> dns;          // new
  std::string address;                   // new; "" = the next free address
  std::vector<std::string> allowed_ips;  // "" = the tunnel network and the LANs behind it
  std::string private_key_file;          // config
  std::string wg_config;                 // new: default NAME.conf; config: "" = stdout
  std::string qr_new = "ansi";           // --qr of new: ansi | utf8 | none
  std::string qr_config = "none";        // --qr of config
  std::string qr_png;
};

// The revision a device config is built from: the reconciler's current one, or fleet files.
struct FleetRevision {
  std::vector<SourceFile> files;
  Fleet fleet;
  Allocations allocations;
  std::map<std::string, WireguardKey> server_keys;  // by tunnel name; absent = not enrolled
  std::string description;                          // "revision 7", "the fleet files"
};

std::string Quoted(const std::string& text) { return "\"" + text + "\""; }

Result<std::vector<Ipv4Cidr>> ParseAllowedIps(const std::vector<std::string>& items) {
  std::vector<Ipv4Cidr> cidrs;
  for (const std::string& text : items) {  // CLI11 split "a,b" already
    Result<Ipv4Cidr> cidr = Ipv4Cidr::Parse(text, Ipv4Cidr::AllowBareAddress::kYes);
    if (!cidr.ok()) return Status::InvalidArgument("--allowed-ips: " + cidr.status().message());
    if (!cidr->IsCanonical()) {
      return Status::InvalidArgument("--allowed-ips: " + Quoted(text) + " has host bits set (did you mean " +
                                     cidr->Canonical().ToString() + "?)");
    }
    cidrs.push_back(*cidr);
  }
  return cidrs;
}

// ---- Where the revision comes from. --------------------------------------------------------

std::variant<FleetRevision, int> CheckRevision(FleetRevision revision, CommandContext& context) {
  FleetCheck check = CheckFleet(revision.files);
  if (!check.valid()) {
    PrintDiagnostics(check.diagnostics, context.err);
    return ReportError(context, kExitFailure, revision.description + " is invalid; fix it first (wwctl validate)");
  }
  revision.fleet = std::move(check.fleet);
  return revision;
}

// Offline: -f files, addresses allocated as a first apply would, keys from --keys.
std::variant<FleetRevision, int> ReadFleetRevision(const PeerFlags& flags, CommandContext& context) {
  InputReader reader(context.in, LoadOptions{}.max_file_bytes);
  FleetRevision revision;
  revision.description = "the fleet files";
  Result<std::vector<SourceFile>> files = reader.ReadFleet(flags.paths);
  if (!files.ok()) return ReportError(context, kExitUsage, files.status().message());
  revision.files = std::move(files).value();
  std::map<std::string, WireguardKey> agent_keys;
  if (!flags.keys_path.empty()) {
    Result<std::string> text = reader.ReadFile(flags.keys_path);
    if (!text.ok()) return ReportError(context, kExitUsage, text.status().message());
    Result<std::map<std::string, WireguardKey>> keys = ParseAgentKeys(*text, flags.keys_path);
    if (!keys.ok()) return ReportError(context, kExitFailure, keys.status().message());
    agent_keys = std::move(keys).value();
  }
  std::variant<FleetRevision, int> checked = CheckRevision(std::move(revision), context);
  if (int* exit_code = std::get_if<int>(&checked)) return *exit_code;
  FleetRevision& valid = std::get<FleetRevision>(checked);
  AllocationResult allocation = AllocateAddresses(valid.fleet, {});
  valid.allocations = std::move(allocation.allocations);
  for (const Tunnel& tunnel : valid.fleet.tunnels) {
    auto key = agent_keys.find(tunnel.spec.agent);
    if (key != agent_keys.end()) valid.server_keys[tunnel.metadata.name] = key->second;
  }
  return checked;
}

Result<Json> GetJson(ApiClient& client, const std::string& path) {
  WW_ASSIGN_OR_RETURN(ApiResponse response, client.Get(path));
  if (response.status != 200) {
    std::string error = "the reconciler answered HTTP " + std::to_string(response.status) + " to GET " + path;
    Result<Json> answer = ParseAnswer(response);
    if (answer.ok() && !JsonString(*answer, "error").empty()) error += ": " + JsonString(*answer, "error");
    return Status::FailedPrecondition(error);
  }
  return ParseAnswer(response);
}

// The reconciler's current revision (its documents, as stored), the addresses it allocated
// and the server agents' enrolled keys, from two GETs over mutual TLS.
std::variant<FleetRevision, int> FetchFleetRevision(const PeerFlags& flags, CommandContext& context) {
  Result<std::unique_ptr<ApiClient>> client = ConnectToReconciler(flags.remote, context);
  if (!client.ok()) return ReportError(context, kExitUsage, client.status().message());
  Result<Json> status = GetJson(**client, "/v1/status");
  if (!status.ok()) {
    return ReportError(context, status.status().code() == StatusCode::kFailedPrecondition ? kExitFailure : kExitUsage,
                       status.status().message());
  }
  std::optional<int64_t> id = status->contains("revision") && (*status)["revision"].is_object()
                                  ? JsonInteger((*status)["revision"], "id")
                                  : std::nullopt;
  if (!id) {
    return ReportError(context, kExitFailure,
                       "the reconciler has no revision yet: apply the fleet (or push it to git) first, or pass -f");
  }
  FleetRevision revision;
  revision.description = "revision " + std::to_string(*id);
  for (const Json& tunnel : JsonArray(*status, "tunnels")) {
    std::string name = JsonString(tunnel, "name");
    if (Result<WireguardKey> key = WireguardKey::Parse(JsonString(tunnel, "serverPublicKey")); key.ok()) {
      revision.server_keys[name] = *key;
    }
    for (const Json& peer : JsonArray(tunnel, "peers")) {
      Result<Ipv4Cidr> address = Ipv4Cidr::Parse(JsonString(peer, "address"), Ipv4Cidr::AllowBareAddress::kYes);
      if (address.ok()) revision.allocations.push_back({name, JsonString(peer, "name"), address->address});
    }
  }
  std::sort(revision.allocations.begin(), revision.allocations.end(), [](const Allocation& a, const Allocation& b) {
    return std::tie(a.tunnel, a.peer) < std::tie(b.tunnel, b.peer);
  });
  Result<Json> documents = GetJson(**client, "/v1/revisions/" + std::to_string(*id));
  if (!documents.ok()) {
    return ReportError(context, documents.status().code() == StatusCode::kFailedPrecondition ? kExitFailure : kExitUsage,
                       documents.status().message());
  }
  for (const Json& document : JsonArray(*documents, "documents")) {
    revision.files.push_back(SourceFile{JsonString(document, "path"), JsonString(document, "content")});
  }
  return CheckRevision(std::move(revision), context);
}

std::variant<FleetRevision, int> LoadFleetRevision(const PeerFlags& flags, CommandContext& context) {
  if (!flags.paths.empty()) return ReadFleetRevision(flags, context);
  if (!flags.keys_path.empty()) return ReportError(context, kExitUsage, "--keys goes with -f (offline)");
  return FetchFleetRevision(flags, context);
}

const Tunnel* FindTunnel(const Fleet& fleet, const std::string& name) {
  for (const Tunnel& tunnel : fleet.tunnels) {
    if (tunnel.metadata.name == name) return &tunnel;
  }
  return nullptr;
}

const Peer* FindPeer(const Fleet& fleet, const std::string& name) {
  for (const Peer& peer : fleet.peers) {
    if (peer.metadata.name == name) return &peer;
  }
  return nullptr;
}

Result<WireguardKey> ServerKey(const FleetRevision& revision, const Tunnel& tunnel) {
  auto key = revision.server_keys.find(tunnel.metadata.name);
  if (key != revision.server_keys.end()) return key->second;
  return Status::FailedPrecondition("the WireGuard public key of agent " + Quoted(tunnel.spec.agent) +
                                    " (the server of Tunnel/" + tunnel.metadata.name +
                                    ") is unknown: enroll that agent first, or offline pass it in --keys");
}

// ---- Output. ----------------------------------------------------------------------------

struct DeviceOutput {
  std::string config;
  std::string config_path;  // "" = stdout
  std::string qr;           // ansi | utf8 | none
  std::string qr_png;       // "" = none
};

// Encodes the QR code first, so a config too long for one fails before any file exists;
// then writes the files (0600: both hold the private key) and shows the code on err.
int WriteDeviceOutput(const DeviceOutput& output, CommandContext& context) {
  std::optional<QrCode> code;
  if (output.qr != "none" || !output.qr_png.empty()) {
    Result<QrCode> encoded = QrCode::Encode(output.config);
    if (!encoded.ok()) return ReportError(context, kExitFailure, "QR code: " + encoded.status().message());
    code = std::move(encoded).value();
  }
  if (!output.config_path.empty()) {
    if (Status written = WritePrivateFile(output.config_path, output.config); !written.ok()) {
      return ReportError(context, kExitUsage, written.message());
    }
  }
  if (!output.qr_png.empty()) {
    if (Status written = WritePrivateFile(output.qr_png, code->ToPng(kPngPixelsPerModule)); !written.ok()) {
      // Nothing half-done: the config file goes too.
      std::error_code ignored;
      if (!output.config_path.empty()) fs::remove(output.config_path, ignored);
      return ReportError(context, kExitUsage, written.message());
    }
  }
  if (output.config_path.empty()) context.out << output.config;
  if (output.qr != "none") {
    context.err << code->ToTerminal(output.qr == "ansi" ? QrColors::kAnsi : QrColors::kPlain);
  }
  return kExitOk;
}

// Refused before a key is made: an existing file may be another device's key.
int CheckFreePath(const std::string& path, const char* flag, CommandContext& context) {
  std::error_code error;
  if (!path.empty() && fs::symlink_status(path, error).type() != fs::file_type::not_found) {
    return ReportError(context, kExitUsage, std::string(flag) + ": " + Quoted(path) +
                                                " already exists; move it away or choose another path");
  }
  return kExitOk;
}

// ---- peer new. --------------------------------------------------------------------------

// What both subcommands check before anything else: the name, --allowed-ips, and that the
// files to write do not exist yet. Fills `allowed_ips`; returns the exit status on failure.
int CheckDeviceFlags(const PeerFlags& flags, const std::string& config_path, std::vector<Ipv4Cidr>& allowed_ips,
                     CommandContext& context) {
  if (!IsValidName(flags.name)) {
    return ReportError(context, kExitUsage,
                       Quoted(flags.name) + " is not a peer name (lowercase letters, digits and '-', at most 63)");
  }
  Result<std::vector<Ipv4Cidr>> parsed = ParseAllowedIps(flags.allowed_ips);
  if (!parsed.ok()) return ReportError(context, kExitUsage, parsed.status().message());
  allowed_ips = std::move(parsed).value();
  if (int refused = CheckFreePath(config_path, "--wg-config", context)) return refused;
  return CheckFreePath(flags.qr_png, "--qr-png", context);
}

int RunPeerNew(const PeerFlags& flags, CommandContext& context) {
  const std::string config_path = flags.wg_config.empty() ? flags.name + ".conf" : flags.wg_config;
  std::vector<Ipv4Cidr> allowed_ips;
  if (int refused = CheckDeviceFlags(flags, config_path, allowed_ips, context)) return refused;
  Peer peer;
  peer.metadata.name = flags.name;
  peer.spec.tunnel = flags.tunnel;
  for (const std::string& text : flags.dns) {
    Result<Ipv4Address> server = Ipv4Address::Parse(text);
    if (!server.ok()) return ReportError(context, kExitUsage, "--dns: " + server.status().message());
    peer.spec.dns.push_back(*server);
  }
  if (!flags.address.empty()) {
    Result<Ipv4Address> address = Ipv4Address::Parse(flags.address);
    if (!address.ok()) return ReportError(context, kExitUsage, "--address: " + address.status().message());
    peer.spec.address = *address;
  }

  std::variant<FleetRevision, int> loaded = LoadFleetRevision(flags, context);
  if (int* exit_code = std::get_if<int>(&loaded)) return *exit_code;
  const FleetRevision& revision = std::get<FleetRevision>(loaded);
  const Tunnel* tunnel = FindTunnel(revision.fleet, flags.tunnel);
  if (tunnel == nullptr) {
    std::string known;
    for (const Tunnel& candidate : revision.fleet.tunnels) known += (known.empty() ? "" : ", ") + candidate.metadata.name;
    return ReportError(context, kExitFailure, "Tunnel " + Quoted(flags.tunnel) + " is not in " + revision.description +
                                                  " (tunnels: " + (known.empty() ? "none" : known) + ")");
  }
  if (const Peer* taken = FindPeer(revision.fleet, flags.name)) {
    return ReportError(context, kExitFailure,
                       "Peer/" + flags.name + " already exists (" + taken->origin.file + ":" +
                           std::to_string(taken->origin.mark.line) + "); choose another name, or rebuild its config "
                           "with `wwctl peer config " + flags.name + " --private-key-file FILE`");
  }
  Result<WireguardKey> server_key = ServerKey(revision, *tunnel);
  if (!server_key.ok()) return ReportError(context, kExitFailure, server_key.status().message());

  Result<WireguardKeyPair> pair = GenerateWireguardKeyPair();
  if (!pair.ok()) return ReportError(context, kExitFailure, pair.status().message());
  peer.spec.public_key = pair->public_key;

  // Pinned in the document, so the address the phone is given is the one the server uses
  // whatever else changes: the lowest free one next to the revision's allocations.
  if (!peer.spec.address) {
    Fleet with_device = revision.fleet;
    with_device.peers.push_back(peer);
    AllocationResult allocation = AllocateAddresses(with_device, revision.allocations);
    for (const Allocation& candidate : allocation.allocations) {
      if (candidate.tunnel == flags.tunnel && candidate.peer == flags.name) peer.spec.address = candidate.address;
    }
    if (!peer.spec.address) {
      PrintDiagnostics(allocation.diagnostics, context.err);
      return ReportError(context, kExitFailure, "no free address in Tunnel/" + flags.tunnel + " " +
                                                    tunnel->spec.network.ToString());
    }
  }

  Fleet document;
  document.peers.push_back(peer);
  const std::string yaml = FleetToYaml(document);
  // The new document is checked with the whole revision, as the reconciler will check it.
  std::vector<SourceFile> files = revision.files;
  files.push_back(SourceFile{"Peer/" + flags.name + " (new)", yaml});
  FleetCheck check = CheckFleet(files);
  if (!check.valid()) {
    PrintDiagnostics(check.diagnostics, context.err);
    return ReportError(context, kExitFailure, "the new Peer document would make the fleet invalid; nothing written");
  }
  DeviceConfigInput input{pair->private_key, *server_key, revision.allocations, allowed_ips};
  Result<std::string> config = RenderDeviceConfig(check.fleet, flags.name, input);
  WipeWireguardKey(input.private_key);
  if (!config.ok()) return ReportError(context, kExitFailure, config.status().message());

  if (int failed = WriteDeviceOutput({*config, config_path, flags.qr_new, flags.qr_png}, context)) return failed;
  context.out << "# Peer " << flags.name << " of Tunnel/" << flags.tunnel
              << ", made by wwctl peer new: commit it to the fleet repository.\n"
              << yaml;
  context.err << "Wrote " << config_path << " (0600, holds the private key)"
              << (flags.qr_png.empty() ? "" : " and the QR code " + flags.qr_png) << ".\n"
              << "Scan the QR code with the WireGuard app, or copy " << config_path
              << " to the device. It connects once the Peer document above is in the fleet (commit it, or wwctl apply).\n";
  return kExitOk;
}

// ---- peer config. -----------------------------------------------------------------------

// The key file holds the base64 key alone (as `wg genkey` writes it) or is a wg-quick config
// with a "PrivateKey = ..." line (as `peer new` writes it). Messages never quote the file.
Result<WireguardKey> ParsePrivateKeyFile(const std::string& text, const std::string& path) {
  std::string candidate;
  size_t start = 0;
  bool found = false;
  while (start < text.size() && !found) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    size_t equals = line.find('=');
    std::string key = line.substr(0, equals);
    key.erase(key.find_last_not_of(" \t\r") + 1);
    key.erase(0, key.find_first_not_of(" \t"));
    if (equals != std::string::npos && key == "PrivateKey") {
      candidate = line.substr(equals + 1);
      found = true;
    }
    start = end + 1;
  }
  if (!found) candidate = text;
  candidate.erase(0, candidate.find_first_not_of(" \t\r\n"));
  size_t last = candidate.find_last_not_of(" \t\r\n");
  candidate.erase(last == std::string::npos ? 0 : last + 1);
  Result<WireguardKey> key = WireguardKey::Parse(candidate);
  std::fill(candidate.begin(), candidate.end(), '\0');
  if (!key.ok() || key->IsZero()) {
    return Status::InvalidArgument(Quoted(path) + " holds no WireGuard private key (expected the 44-character base64 "
                                                  "key, or a wg-quick config with a PrivateKey line)");
  }
  return key;
}

int RunPeerConfig(const PeerFlags& flags, CommandContext& context) {
  std::vector<Ipv4Cidr> allowed_ips;
  if (int refused = CheckDeviceFlags(flags, flags.wg_config, allowed_ips, context)) return refused;
  InputReader reader(context.in, 64 * 1024);
  Result<std::string> text = reader.ReadFile(flags.private_key_file);
  if (!text.ok()) return ReportError(context, kExitUsage, text.status().message());
  Result<WireguardKey> private_key = ParsePrivateKeyFile(*text, flags.private_key_file);
  std::fill(text->begin(), text->end(), '\0');
  if (!private_key.ok()) return ReportError(context, kExitUsage, private_key.status().message());
  Result<WireguardKey> public_key = WireguardPublicKeyFromPrivate(*private_key);
  if (!public_key.ok()) return ReportError(context, kExitFailure, public_key.status().message());

  std::variant<FleetRevision, int> loaded = LoadFleetRevision(flags, context);
  if (int* exit_code = std::get_if<int>(&loaded)) return *exit_code;
  const FleetRevision& revision = std::get<FleetRevision>(loaded);
  const Peer* peer = FindPeer(revision.fleet, flags.name);
  if (peer == nullptr) {
    return ReportError(context, kExitFailure, "Peer/" + flags.name + " is not in " + revision.description +
                                                  " (commit the document `wwctl peer new` printed, or wwctl apply)");
  }
  if (peer->IsManaged()) {
    return ReportError(context, kExitFailure, "Peer/" + flags.name + " is managed by agent " +
                                                  Quoted(*peer->spec.agent) + ", which configures itself");
  }
  if (peer->spec.public_key != *public_key) {
    return ReportError(context, kExitFailure,
                       "the private key in " + Quoted(flags.private_key_file) + " belongs to public key " +
                           public_key->ToBase64() + ", but Peer/" + flags.name + " has " +
                           peer->spec.public_key->ToBase64());
  }
  const Tunnel* tunnel = FindTunnel(revision.fleet, peer->spec.tunnel);
  if (tunnel == nullptr) return ReportError(context, kExitFailure, "Tunnel/" + peer->spec.tunnel + " does not exist");
  Result<WireguardKey> server_key = ServerKey(revision, *tunnel);
  if (!server_key.ok()) return ReportError(context, kExitFailure, server_key.status().message());

  DeviceConfigInput input{*private_key, *server_key, revision.allocations, allowed_ips};
  Result<std::string> config = RenderDeviceConfig(revision.fleet, flags.name, input);
  WipeWireguardKey(input.private_key);
  WipeWireguardKey(*private_key);
  if (!config.ok()) return ReportError(context, kExitFailure, config.status().message());
  if (int failed = WriteDeviceOutput({*config, flags.wg_config, flags.qr_config, flags.qr_png}, context)) return failed;
  if (!flags.wg_config.empty()) context.err << "Wrote " << flags.wg_config << " (0600, holds the private key).\n";
  return kExitOk;
}

// Flags `peer new` and `peer config` share.
void AddDeviceFlags(CLI::App& command, PeerFlags& flags) {
  command.add_option("name", flags.name, "The Peer's name (metadata.name)")->required()->type_name("NAME");
  command.add_option("--allowed-ips", flags.allowed_ips,
                     "What the device sends into the tunnel, e.g. 0.0.0.0/0 for everything (default: the tunnel "
                     "network and the LANs behind the tunnel's peers)")
      ->delimiter(',')
      ->type_name("CIDR,...");
  command.add_option("--qr-png", flags.qr_png, "Also write the QR code as a PNG file (0600: it holds the private key)")
      ->type_name("FILE");
  command.add_option("-f,--filename", flags.paths,
                     "Offline: build from these fleet files (they must be valid) instead of the reconciler's current "
                     "revision")
      ->type_name("PATH");
  command.add_option("--keys", flags.keys_path, "Offline: agent name to WireGuard public key (as wwctl render --keys)")
      ->type_name("FILE");
  AddConfigFlag(command, flags.remote);
}

void AddQrFlag(CLI::App& command, std::string& qr) {
  const std::string default_value = qr;
  command
      .add_option("--qr", qr,
                  std::string("QR code on stderr: ansi (black on white, any terminal theme), utf8 (blocks in the "
                              "terminal's colours) or none (default: ") +
                      default_value + ")")
      ->check(CLI::IsMember({"ansi", "utf8", "none"}).description(""))
      ->type_name("ansi|utf8|none");
}

}  // namespace

CommandRun RegisterPeer(CLI::App& command) {
  auto flags = std::make_shared<PeerFlags>();
  command.require_subcommand(1);
  command.footer(
      "Phones and laptops are unmanaged peers: WireGuard runs in their own app, with a config made here.\n"
      "\n"
      "Example:\n"
      "  wwctl peer new phone --tunnel vps --dns 192.168.50.2 > fleet/peers/phone.yaml\n"
      "  wwctl peer config phone --private-key-file phone.conf --qr ansi\n"
      "  wwctl peer new --help");

  CLI::App* create = command.add_subcommand(
      "new", "Make a device's key pair, print its Peer document and write its wg-quick config and QR code");
  AddDeviceFlags(*create, *flags);
  create->add_option("--tunnel", flags->tunnel, "The Tunnel the device joins")->required()->type_name("TUNNEL");
  create->add_option("--dns", flags->dns, "DNS servers for the device (spec.dns), e.g. a Pi-hole on the LAN")
      ->delimiter(',')
      ->type_name("IP,...");
  create->add_option("--address", flags->address, "Its tunnel address (default: the lowest free one)")
      ->type_name("IP");
  create->add_option("--wg-config", flags->wg_config, "Where to write the wg-quick config (default: NAME.conf)")
      ->type_name("FILE");
  AddQrFlag(*create, flags->qr_new);
  create->footer(
      "The key pair is made here (OpenSSL X25519). stdout: the Peer document to commit, with the public key and\n"
      "a pinned address only. The private key goes into the --wg-config file (0600), the QR code (stderr) and\n"
      "--qr-png, never to the reconciler or git. Endpoint, server key and MTU come from the current revision\n"
      "(or -f files and --keys offline).\n"
      "\n"
      "Exit status:\n"
      "  0  done\n"
      "  1  the fleet refuses it (unknown tunnel, taken name, full network) or the server agent is not enrolled\n"
      "  2  usage or config error, an existing output file, or the reconciler could not be reached\n"
      "\n"
      "Example:\n"
      "  wwctl peer new phone --tunnel vps --dns 192.168.50.2 > fleet/peers/phone.yaml\n"
      "  wwctl peer new laptop --tunnel vps --allowed-ips 0.0.0.0/0 --qr none --qr-png laptop.png");

  CLI::App* config = command.add_subcommand(
      "config", "Build an existing device's wg-quick config again from the current revision and its private key");
  AddDeviceFlags(*config, *flags);
  config->add_option("--private-key-file", flags->private_key_file,
                     "The device's private key: the key alone, or the wg-quick config peer new wrote; - reads stdin")
      ->required()
      ->type_name("FILE");
  config->add_option("--wg-config", flags->wg_config, "Write the config to this file (0600) instead of stdout")
      ->type_name("FILE");
  AddQrFlag(*config, flags->qr_config);
  config->footer(
      "The key must belong to the Peer's publicKey. Use the same --allowed-ips as for peer new, if any.\n"
      "\n"
      "Exit status:\n"
      "  0  done\n"
      "  1  no such unmanaged Peer, a key of another device, or the server agent is not enrolled\n"
      "  2  usage or config error, an unreadable key file, or the reconciler could not be reached\n"
      "\n"
      "Example:\n"
      "  wwctl peer config phone --private-key-file phone.conf --qr ansi\n"
      "  wwctl peer config phone -f fleet/ --keys keys.yaml --private-key-file phone.key > phone.conf");

  return [flags, create](CommandContext& context) {
    return create->parsed() ? RunPeerNew(*flags, context) : RunPeerConfig(*flags, context);
  };
}

}  // namespace ww::cli
