// wwctl get: list agents, tunnels, peers, forwards or revisions from the reconciler, as a
// table aligned like kubectl's or as the reconciler's own data (-o json|yaml).
#include <algorithm>
#include <memory>
#include <ostream>

#include "cli/cli11.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/remote_output.h"
#include "cli/remote_session.h"
#include "cli/status_watch.h"
#include "schema/resource_fields.h"
#include "schema/yaml_document.h"

namespace ww::cli {

namespace {

struct GetFlags {
  RemoteFlags remote;
  std::string resource;  // canonical: agents, tunnels, peers, forwards or revisions
  std::string name;      // "" = all
  std::string format = "table";
  bool watch = false;
  std::string watch_timeout;  // "" = until interrupted
};

struct ResourceName {
  std::string_view name;
  std::vector<std::string_view> aliases;  // singular and short forms, as kubectl accepts
};

const std::vector<ResourceName>& Resources() {
  static const std::vector<ResourceName> resources = {
      {"agents", {"agent", "ag"}},
      {"tunnels", {"tunnel", "tun"}},
      {"peers", {"peer"}},
      {"forwards", {"forward", "fw", "portforwards", "portforward", "pf"}},
      {"revisions", {"revision", "rev", "revs"}},
  };
  return resources;
}

// The canonical resource for `text` (any accepted spelling, any case), else an error with
// the closest name.
std::string ResolveResource(std::string& text) {
  std::string lower = text;
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  std::vector<std::string_view> spellings;
  for (const ResourceName& resource : Resources()) {
    spellings.push_back(resource.name);
    spellings.insert(spellings.end(), resource.aliases.begin(), resource.aliases.end());
    if (lower == resource.name || std::find(resource.aliases.begin(), resource.aliases.end(), lower) != resource.aliases.end()) {
      text = std::string(resource.name);
      return "";
    }
  }
  std::string message = "unknown resource " + QuoteForMessage(text);
  std::string_view closest = ClosestName(lower, spellings);
  for (const ResourceName& resource : Resources()) {
    if (closest == resource.name || std::find(resource.aliases.begin(), resource.aliases.end(), closest) != resource.aliases.end()) {
      message += "; did you mean \"" + std::string(resource.name) + "\"?";
    }
  }
  return message + " (resources: agents, tunnels, peers, forwards, revisions)";
}

// The one item called `name` (a revision by id), or kNotFound naming the closest.
Result<Json> FindItem(const Json& items, const std::string& resource, const std::string& name) {
  std::vector<std::string> names;
  for (const Json& item : items) {
    std::string item_name = JsonString(item, "name");
    if (item_name == name) return item;
    names.push_back(item_name);
  }
  std::string singular = resource.substr(0, resource.size() - 1);
  std::string message = "no " + singular + " " + QuoteForMessage(name);
  std::vector<std::string_view> candidates(names.begin(), names.end());
  std::string_view closest = ClosestName(name, candidates);
  if (!closest.empty()) message += "; did you mean \"" + std::string(closest) + "\"?";
  return Status::NotFound(message + " (see 'wwctl get " + resource + "')");
}

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

// Under the table, on stderr so the table stays parseable: what to run for agents that are
// deleted or not enrolled, and what an agent's config leaves out.
void PrintAgentHints(const Json& status, std::ostream& err) {
  for (const Json& agent : JsonArray(status, "agents")) {
    std::string name = JsonString(agent, "name");
    std::string enroll = JsonString(agent, "enrollCommand");
    if (!enroll.empty()) {
      err << name << ": " << (JsonBool(agent, "deleted") ? "deleted; to enroll it again" : "not enrolled yet; to enroll it")
          << ": " << enroll << '\n';
    }
    for (const Json& warning : JsonArray(agent, "warnings")) {
      if (warning.is_string()) err << name << ": warning: " << warning.get<std::string>() << '\n';
    }
  }
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
    // A phone or laptop has no agent: say so rather than leave a dash.
    const bool unmanaged = peer.is_object() && peer.contains("managed") && peer["managed"] == false;
    table.AddRow({JsonString(peer, "name"), JsonString(peer, "tunnel"),
                  unmanaged ? "(unmanaged)" : OrDash(JsonString(peer, "agent")),
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

// Prints the resource out of `response` (the status snapshot, or the revision list).
int PrintResource(const GetFlags& flags, CommandContext& context, const ApiResponse& response) {
  const bool revisions = flags.resource == "revisions";
  Result<Json> answer = ParseAnswer(response);
  if (!answer.ok()) return ReportError(context, kExitFailure, answer.status().message());

  Json items = flags.resource == "peers" ? FlattenPeers(*answer) : JsonArray(*answer, flags.resource);
  if (!flags.name.empty()) {
    // One item: -o json|yaml prints the object itself, the table one row.
    Result<Json> item = revisions ? Result<Json>(*answer) : FindItem(items, flags.resource, flags.name);
    if (!item.ok()) return ReportError(context, kExitFailure, item.status().message());
    if (flags.format != "table") {
      PrintData(*item, flags.format, context.out);
      return kExitOk;
    }
    items = Json::array({*item});
    if (flags.resource != "peers" && !revisions) (*answer)[flags.resource] = items;
  }
  if (flags.format != "table") {
    PrintData(Json{{flags.resource, std::move(items)}}, flags.format, context.out);
    return kExitOk;
  }
  if (items.empty()) {
    context.err << "No " << flags.resource << " found.\n";
    return kExitOk;
  }
  if (flags.resource == "agents") {
    PrintAgents(*answer, context.out);
    PrintAgentHints(*answer, context.err);
  }
  if (flags.resource == "tunnels") PrintTunnels(*answer, context.out);
  if (flags.resource == "peers") PrintPeers(items, context.out);
  if (flags.resource == "forwards") PrintForwards(*answer, context.out);
  if (revisions) PrintRevisionTable(items, context.out);
  return kExitOk;
}

int RunGet(const GetFlags& flags, CommandContext& context) {
  const bool revisions = flags.resource == "revisions";
  if (revisions && !flags.name.empty() &&
      (flags.name.size() > 18 || flags.name.find_first_not_of("0123456789") != std::string::npos)) {
    return ReportError(context, kExitUsage, QuoteForMessage(flags.name) + " is not a revision id; see 'wwctl history'");
  }
  Result<std::unique_ptr<ApiClient>> client = ConnectToReconciler(flags.remote, context);
  if (!client.ok()) return ReportError(context, kExitUsage, client.status().message());
  const std::string revisions_path = flags.name.empty() ? "/v1/revisions" : "/v1/revisions/" + flags.name;
  // Revisions have no long-poll of their own: a new revision changes the snapshot.
  auto fetch_and_print = [&](const std::string& status_body) -> int {
    if (!revisions) return PrintResource(flags, context, ApiResponse{200, status_body});
    Result<ApiResponse> response = (*client)->Get(revisions_path);
    if (!response.ok()) return ReportError(context, kExitUsage, response.status().message());
    if (response->status != 200) return ReportAnswerError(context, *response, kExitFailure);
    return PrintResource(flags, context, *response);
  };
  if (flags.watch) return WatchStatus(**client, context, flags.watch_timeout, fetch_and_print);
  Result<ApiResponse> response = (*client)->Get(revisions ? revisions_path : "/v1/status");
  if (!response.ok()) return ReportError(context, kExitUsage, response.status().message());
  if (response->status != 200) return ReportAnswerError(context, *response, kExitFailure);
  return PrintResource(flags, context, *response);
}

}  // namespace

CommandRun RegisterGet(CLI::App& command) {
  auto flags = std::make_shared<GetFlags>();
  command.add_option("resource", flags->resource, "What to list; singular and short names work too (agent, fw)")
      ->required()
      ->transform(CLI::Validator(ResolveResource, ""))
      ->type_name("agents|tunnels|peers|forwards|revisions");
  command.add_option("name", flags->name, "Show only this one (a revision by its id)")->type_name("NAME");
  AddConfigFlag(command, flags->remote);
  AddOutputFlag(command, flags->format, {"table", "json", "yaml"},
                "table: aligned columns; json, yaml: {RESOURCE: [...]} as the reconciler reports them");
  AddWatchFlags(command, flags->watch, flags->watch_timeout);
  command.footer(
      "Agents, tunnels, peers and forwards come from the fleet snapshot (GET /v1/status);\n"
      "revisions from the revision history (GET /v1/revisions), newest first. Resources may be\n"
      "named singular or short: agent/ag, tunnel/tun, peer, forward/fw/pf, revision/rev. With\n"
      "NAME, only that one is shown; -o json|yaml then prints the object itself.\n"
      "\n"
      "Exit status:\n"
      "  0  listed\n"
      "  1  the reconciler answered with an error, or NAME does not exist\n"
      "  2  usage or config error, or the reconciler could not be reached\n"
      "\n"
      "Example:\n"
      "  wwctl get agents\n"
      "  wwctl get agent vps -o yaml\n"
      "  wwctl get forwards -o json\n"
      "  wwctl get agents --watch        # print again on every change, until Ctrl-C");
  return [flags](CommandContext& context) { return RunGet(*flags, context); };
}

}  // namespace ww::cli
