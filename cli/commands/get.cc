// wwctl get: list agents, tunnels, peers, forwards or revisions from the reconciler, as a
// table aligned like kubectl's or as the reconciler's own data (-o json|yaml).
#include <memory>
#include <ostream>

#include "cli/cli11.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/remote_output.h"
#include "cli/remote_session.h"

namespace ww::cli {

namespace {

struct GetFlags {
  RemoteFlags remote;
  std::string resource;
  std::string format = "table";
};

std::string OrDash(const std::string& text) { return text.empty() ? "-" : text; }

std::string IntegerOrDash(const Json& object, std::string_view key) {
  std::optional<std::int64_t> value = JsonInteger(object, key);
  return value ? std::to_string(*value) : "-";
}

void PrintAgents(const Json& status, std::ostream& out) {
  std::optional<std::int64_t> now = JsonInteger(status, "now");
  Table table({"NAME", "MODE", "PHASE", "CONNECTED", "LAST SEEN", "GENERATION", "VERSION"});
  for (const Json& agent : JsonArray(status, "agents")) {
    std::optional<std::int64_t> last_seen = JsonInteger(agent, "lastSeen");
    std::string seen = !last_seen ? "never" : now ? Age(*now - *last_seen) : UtcTime(last_seen);
    table.AddRow({JsonString(agent, "name"), OrDash(JsonString(agent, "mode")), OrDash(JsonString(agent, "phase")),
                  JsonBool(agent, "connected") ? "yes" : "no", seen,
                  IntegerOrDash(agent, "appliedGeneration") + "/" + IntegerOrDash(agent, "generation"),
                  OrDash(JsonString(agent, "version"))});
  }
  table.Print(out);
}

void PrintTunnels(const Json& status, std::ostream& out) {
  Table table({"NAME", "SERVER", "INTERFACE", "PEERS", "SELF-HEAL"});
  for (const Json& tunnel : JsonArray(status, "tunnels")) {
    table.AddRow({JsonString(tunnel, "name"), OrDash(JsonString(tunnel, "server")),
                  OrDash(JsonString(tunnel, "interface")), std::to_string(JsonArray(tunnel, "peers").size()),
                  JsonBool(tunnel, "selfHeal") ? "yes" : "no"});
  }
  table.Print(out);
}

// Peers live inside their tunnels in the snapshot; listed flat, each names its tunnel.
Json FlattenPeers(const Json& status) {
  Json peers = Json::array();
  for (const Json& tunnel : JsonArray(status, "tunnels")) {
    for (const Json& peer : JsonArray(tunnel, "peers")) {
      Json flat{{"tunnel", JsonString(tunnel, "name")}};
      if (peer.is_object()) {
        for (auto it = peer.begin(); it != peer.end(); ++it) flat[it.key()] = it.value();
      }
      peers.push_back(std::move(flat));
    }
  }
  return peers;
}

void PrintPeers(const Json& peers, std::ostream& out) {
  Table table({"NAME", "TUNNEL", "AGENT", "ADDRESS", "HANDSHAKE", "RX", "TX"});
  for (const Json& peer : peers) {
    std::optional<std::int64_t> handshake = JsonInteger(peer, "handshakeAgeSeconds");
    std::optional<std::int64_t> rx = JsonInteger(peer, "rxBytes");
    std::optional<std::int64_t> tx = JsonInteger(peer, "txBytes");
    table.AddRow({JsonString(peer, "name"), JsonString(peer, "tunnel"), OrDash(JsonString(peer, "agent")),
                  OrDash(JsonString(peer, "address")), handshake ? Age(*handshake) + " ago" : "never",
                  rx ? ByteCount(*rx) : "-", tx ? ByteCount(*tx) : "-"});
  }
  table.Print(out);
}

void PrintForwards(const Json& status, std::ostream& out) {
  Table table({"NAME", "TUNNEL", "AGENT", "PROTOCOL", "PORTS", "TO", "STATE"});
  for (const Json& forward : JsonArray(status, "forwards")) {
    table.AddRow({JsonString(forward, "name"), OrDash(JsonString(forward, "tunnel")),
                  OrDash(JsonString(forward, "agent")), OrDash(JsonString(forward, "protocol")),
                  OrDash(JsonString(forward, "ports")), OrDash(JsonString(forward, "to")),
                  OrDash(JsonString(forward, "state"))});
  }
  table.Print(out);
}

int RunGet(const GetFlags& flags, CommandContext& context) {
  Result<std::unique_ptr<ApiClient>> client = ConnectToReconciler(flags.remote, context);
  if (!client.ok()) return ReportError(context, kExitUsage, client.status().message());
  const bool revisions = flags.resource == "revisions";
  Result<ApiResponse> response = (*client)->Get(revisions ? "/v1/revisions" : "/v1/status");
  if (!response.ok()) return ReportError(context, kExitUsage, response.status().message());
  if (response->status != 200) return ReportAnswerError(context, *response, kExitFailure);
  Result<Json> answer = ParseAnswer(*response);
  if (!answer.ok()) return ReportError(context, kExitFailure, answer.status().message());

  Json items = flags.resource == "peers" ? FlattenPeers(*answer) : JsonArray(*answer, flags.resource);
  if (flags.format != "table") {
    PrintData(Json{{flags.resource, std::move(items)}}, flags.format, context.out);
    return kExitOk;
  }
  if (items.empty()) {
    context.err << "No " << flags.resource << " found.\n";
    return kExitOk;
  }
  if (flags.resource == "agents") PrintAgents(*answer, context.out);
  if (flags.resource == "tunnels") PrintTunnels(*answer, context.out);
  if (flags.resource == "peers") PrintPeers(items, context.out);
  if (flags.resource == "forwards") PrintForwards(*answer, context.out);
  if (revisions) PrintRevisionTable(items, context.out);
  return kExitOk;
}

}  // namespace

CommandRun RegisterGet(CLI::App& command) {
  auto flags = std::make_shared<GetFlags>();
  command.add_option("resource", flags->resource, "What to list")
      ->required()
      ->check(CLI::IsMember({"agents", "tunnels", "peers", "forwards", "revisions"}).description(""))
      ->type_name("agents|tunnels|peers|forwards|revisions");
  AddConfigFlag(command, flags->remote);
  AddOutputFlag(command, flags->format, {"table", "json", "yaml"},
                "table: aligned columns; json, yaml: {RESOURCE: [...]} as the reconciler reports them");
  command.footer(
      "Agents, tunnels, peers and forwards come from the fleet snapshot (GET /v1/status);\n"
      "revisions from the revision history (GET /v1/revisions), newest first.\n"
      "\n"
      "Exit status:\n"
      "  0  listed\n"
      "  1  the reconciler answered with an error\n"
      "  2  usage or config error, or the reconciler could not be reached\n"
      "\n"
      "Example:\n"
      "  wwctl get agents\n"
      "  wwctl get forwards -o json");
  return [flags](CommandContext& context) { return RunGet(*flags, context); };
}

}  // namespace ww::cli
