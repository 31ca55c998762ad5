// The fleet snapshot of GET /v1/status and the status page's /status.json (API.md, "Fleet
// snapshot"): built from FleetService's in-memory views plus the store's recent revisions
// and events.

#include <algorithm>
#include <exception>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "reconciler/server/fleet_json.h"
#include "reconciler/server/fleet_service.h"
#include "schema/templates.h"

namespace ww {

using Json = nlohmann::json;

namespace {

std::string_view RevisionSourceText(RevisionSource source) {
  switch (source) {
    case RevisionSource::kGit: return "git";
    case RevisionSource::kApply: return "apply";
    case RevisionSource::kRollback: return "rollback";
  }
  return "apply";
}

}  // namespace

Json RevisionSummaryJson(const RevisionRecord& revision) {
  return Json{{"id", revision.id},
              {"source", RevisionSourceText(revision.source)},
              {"commit", revision.commit_sha},
              {"author", revision.author},
              {"message", revision.message},
              {"appliedBy", revision.applied_by},
              {"createdAt", revision.created_at},
              {"contentSha256", revision.content_sha256}};
}

namespace {

Json NullableTime(int64_t seconds) { return seconds > 0 ? Json(seconds) : Json(nullptr); }

// The report's metrics JSON (converged, error, version, hostname, peers, system), or {}.
Json ReportMetrics(const std::optional<ReportRecord>& report) {
  if (!report) return Json::object();
  try {
    Json metrics = Json::parse(report->metrics_json);
    return metrics.is_object() ? metrics : Json::object();
  } catch (const std::exception&) {
    return Json::object();
  }
}

std::string MetricText(const Json& metrics, const char* field, const std::string& fallback) {
  auto found = metrics.find(field);
  if (found != metrics.end() && found->is_string() && !found->get<std::string>().empty()) return found->get<std::string>();
  return fallback;
}

// "applied" when the forward's server agent holds the current revision, "failed" when it
// cannot get it, else "pending".
std::string ForwardState(const std::string& phase) {
  if (phase == "converged") return "applied";
  if (phase == "degraded" || phase == "render-failed") return "failed";
  return "pending";
}

}  // namespace

std::vector<std::string> FleetService::TokenWarnings(TokenType type, const std::string& name) {
  std::lock_guard lock(mutex_);
  if (name.empty() || !current_) return {};
  const std::string revision = "revision " + std::to_string(current_->record.id);
  if (!current_->fleet_agents.contains(name)) {
    return {"agent \"" + name + "\" is not in the fleet (" + revision +
            " names it in no Tunnel.spec.agent or Peer.spec.agent): it can enroll but gets an empty config"};
  }
  // A tunnel server needs the server role; an agent that only joins tunnels is a client.
  const bool server = ExpectedRoleLocked(name) == AgentRole::kServer;
  if (type == (server ? TokenType::kServer : TokenType::kClient)) return {};
  const char* wanted = server ? "server" : "client";
  const char* given = type == TokenType::kServer ? "server" : "client";
  std::string use = server ? "runs a Tunnel" : "is a Peer's agent";
  return {"agent \"" + name + "\" " + use + " in " + revision + ", so it enrolls with --mode " + wanted +
          "; this token is for a " + given + " agent (create it with --type " + wanted + ")"};
}

Result<std::string> FleetService::StatusJson() {
  std::lock_guard lock(mutex_);
  return StatusJsonLocked(options_.now());
}

Result<std::string> FleetService::StatusJsonLocked(int64_t now) {
  Json snapshot;
  snapshot["version"] = status_version_;
  snapshot["now"] = now;
  snapshot["revision"] = current_ ? RevisionSummaryJson(current_->record) : Json(nullptr);
  // "diverged from git at COMMIT (override by NAME at TIME)" until the next commit.
  if (current_ && current_->diverged_from) {
    const RevisionRecord& record = current_->record;
    snapshot["divergence"] = Json{{"commit", current_->diverged_from->commit_sha},
                                  {"gitRevision", current_->diverged_from->revision_id},
                                  {"revision", record.id},
                                  {"source", RevisionSourceText(record.source)},
                                  {"by", record.applied_by},
                                  {"at", record.created_at}};
  } else {
    snapshot["divergence"] = nullptr;
  }
  // The current revision's errors under this version's rules (see CurrentRevision).
  snapshot["revisionErrors"] = current_ ? Json(current_->stale_findings) : Json::array();
  WW_ASSIGN_OR_RETURN(std::optional<RejectedCommitRecord> rejected, store_.LatestRejectedCommit());
  snapshot["rejected"] = rejected ? Json{{"commit", rejected->commit_sha}, {"at", rejected->at}, {"errors", rejected->errors}}
                                  : Json(nullptr);

  bool converged = current_.has_value();
  Json agents = Json::array();
  for (const auto& [name, view] : agents_) {
    const bool in_fleet = current_ && current_->fleet_agents.count(name) != 0;
    // A deleted agent the fleet no longer names needs nothing more: its history is in the store.
    if (!view.record && !in_fleet) continue;
    const bool connected = view.last_seen > 0 && now - view.last_seen <= kDisconnectedAfterSeconds;
    const std::string phase = view.phase.empty() ? "unknown" : view.phase;
    if (in_fleet && !(connected && phase == "converged")) converged = false;
    Json metrics = ReportMetrics(view.report);
    const AgentRole role = view.record ? view.record->role : ExpectedRoleLocked(name);
    const std::string mode = role == AgentRole::kServer ? "server" : "client";
    const std::string enroll_command = view.record ? "" : EnrollCommandLocked(name);
    agents.push_back(Json{
        {"name", name},
        {"mode", mode},
        {"enrolled", view.record.has_value()},
        {"deleted", view.deleted.has_value()},
        {"deletedAt", view.deleted && view.deleted->deleted_at ? Json(*view.deleted->deleted_at) : Json(nullptr)},
        {"enrollCommand", enroll_command.empty() ? Json(nullptr) : Json(enroll_command)},
        {"warnings", view.warnings},
        {"connected", connected},
        {"lastSeen", NullableTime(view.last_seen)},
        {"version", MetricText(metrics, "version", view.record ? view.record->version : "")},
        {"hostname", MetricText(metrics, "hostname", view.record ? view.record->hostname : "")},
        {"generation", view.latest_plan ? view.latest_plan->generation : 0},
        {"appliedGeneration", view.report ? view.report->generation : 0},
        {"phase", phase},
        {"drift", view.report ? Json(view.steps) : Json::array()},
        {"lastError", view.health.last_error},
        {"consecutiveFailures", view.health.consecutive_failures},
        {"retryAt", view.retry_at ? Json(*view.retry_at) : Json(nullptr)},
        {"message", view.message},
        {"system", metrics.value("system", Json(nullptr))}});
  }
  snapshot["converged"] = converged;
  snapshot["agents"] = std::move(agents);

  Json tunnels = Json::array();
  Json forwards = Json::array();
  if (current_) {
    const Fleet& fleet = current_->fleet;
    std::map<std::pair<std::string, std::string>, Ipv4Address> allocated;
    for (const Allocation& allocation : current_->allocations) {
      allocated[{allocation.tunnel, allocation.peer}] = allocation.address;
    }
    std::map<std::string, std::string> server_of;
    for (const Tunnel& tunnel : fleet.tunnels) {
      server_of[tunnel.metadata.name] = tunnel.spec.agent;
      auto server = agents_.find(tunnel.spec.agent);
      const ObservedInterface* observed_interface = nullptr;
      if (server != agents_.end() && server->second.observed) {
        for (const ObservedInterface& candidate : server->second.observed->interfaces) {
          if (candidate.name == tunnel.spec.interface) observed_interface = &candidate;
        }
      }
      Json peers = Json::array();
      for (const Peer& peer : fleet.peers) {
        if (peer.spec.tunnel != tunnel.metadata.name) continue;
        std::optional<Ipv4Address> address = peer.spec.address;
        if (!address) {
          auto found = allocated.find({tunnel.metadata.name, peer.metadata.name});
          if (found != allocated.end()) address = found->second;
        }
        std::optional<WireguardKey> key = peer.spec.public_key;
        if (peer.spec.agent) {
          auto agent = agents_.find(*peer.spec.agent);
          if (agent != agents_.end() && agent->second.record) key = agent->second.record->wireguard_public_key;
        }
        const ObservedPeer* observed_peer = nullptr;
        if (observed_interface != nullptr && key) {
          for (const ObservedPeer& candidate : observed_interface->peers) {
            if (candidate.public_key == *key) observed_peer = &candidate;
          }
        }
        Json handshake_age = Json(nullptr);
        if (observed_peer != nullptr && observed_peer->latest_handshake > 0) {
          handshake_age = std::max<int64_t>(0, now - observed_peer->latest_handshake);
        }
        // An unmanaged device (a phone, a laptop) has no agent and no reports: the page and
        // wwctl show it apart from the agents' peers.
        peers.push_back(Json{{"name", peer.metadata.name},
                             {"agent", peer.spec.agent ? Json(*peer.spec.agent) : Json(nullptr)},
                             {"managed", peer.IsManaged()},
                             {"address", address ? Json(address->ToString() + "/32") : Json(nullptr)},
                             {"handshakeAgeSeconds", handshake_age},
                             {"rxBytes", observed_peer != nullptr ? observed_peer->rx_bytes : 0},
                             {"txBytes", observed_peer != nullptr ? observed_peer->tx_bytes : 0}});
      }
      // The server's enrolled WireGuard key: what `wwctl peer new/config` puts in a device's
      // config (public, like the endpoint).
      Json server_key = Json(nullptr);
      if (server != agents_.end() && server->second.record) {
        server_key = server->second.record->wireguard_public_key.ToBase64();
      }
      tunnels.push_back(Json{{"name", tunnel.metadata.name},
                             {"server", tunnel.spec.agent},
                             {"serverPublicKey", server_key},
                             {"interface", tunnel.spec.interface},
                             {"selfHeal", tunnel.spec.self_heal},
                             {"peers", std::move(peers)}});
    }

    TemplateIndex templates(fleet);
    for (const PortForward& forward : fleet.forwards) {
      std::vector<PortSet> sets = ForwardPortSets(templates, forward);
      PortSummary summary = SummarizePortSets(sets);
      std::string to = forward.spec.to.address.ToString();
      if (forward.spec.to.port) {
        to += ":" + std::to_string(*forward.spec.to.port);
      } else if (sets.size() == 1 && sets.front().ranges.size() == 1 && sets.front().ranges.front().IsSingle()) {
        to += ":" + std::to_string(sets.front().ranges.front().first);
      }
      const std::string& agent = server_of[forward.spec.tunnel];
      auto server = agents_.find(agent);
      std::string phase = server != agents_.end() ? server->second.phase : "";
      forwards.push_back(Json{{"name", forward.metadata.name},
                              {"tunnel", forward.spec.tunnel},
                              {"agent", agent},
                              {"protocol", summary.protocol},
                              {"ports", summary.ports},
                              {"template", forward.spec.template_name ? Json(*forward.spec.template_name) : Json(nullptr)},
                              {"to", to},
                              {"description", forward.spec.description},
                              {"state", ForwardState(phase)}});
    }
  }
  snapshot["tunnels"] = std::move(tunnels);
  snapshot["forwards"] = std::move(forwards);

  WW_ASSIGN_OR_RETURN(std::vector<RevisionRecord> revisions, store_.ListRevisions(kStatusRevisionCount));
  Json revision_list = Json::array();
  for (const RevisionRecord& revision : revisions) revision_list.push_back(RevisionSummaryJson(revision));
  snapshot["revisions"] = std::move(revision_list);

  WW_ASSIGN_OR_RETURN(std::vector<EventRecord> events, store_.RecentEvents(kStatusEventCount));
  Json event_list = Json::array();
  for (const EventRecord& event : events) {
    Json agent = Json(nullptr);
    // An agent id is its name, or "NAME.N" for a later enrollment (a name has no dot).
    if (event.agent_id) agent = event.agent_id->substr(0, event.agent_id->find('.'));
    event_list.push_back(
        Json{{"id", event.id}, {"at", event.at}, {"agent", agent}, {"kind", event.kind}, {"message", event.message}});
  }
  snapshot["events"] = std::move(event_list);
  return snapshot.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace ww
