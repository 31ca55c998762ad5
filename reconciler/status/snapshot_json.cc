#include "reconciler/status/snapshot_json.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <utility>

#include "reconciler/status/snapshot_json_pieces.h"

namespace ww {
namespace {

using Json = nlohmann::json;

// ---------------------------------------------------------------------------------------
// Writing

template <typename Value>
Json Nullable(const std::optional<Value>& value) {
  return value ? Json(*value) : Json(nullptr);
}

Json AgentJson(const FleetSnapshot::Agent& agent) {
  return Json{{"name", agent.name},
              {"mode", agent.mode},
              {"enrolled", agent.enrolled},
              {"deleted", agent.deleted},
              {"deletedAt", Nullable(agent.deleted_at)},
              {"enrollCommand", Nullable(agent.enroll_command)},
              {"warnings", agent.warnings},
              {"connected", agent.connected},
              {"lastSeen", Nullable(agent.last_seen)},
              {"version", agent.version},
              {"hostname", agent.hostname},
              {"generation", agent.generation},
              {"appliedGeneration", agent.applied_generation},
              {"phase", agent.phase},
              {"drift", agent.drift},
              {"driftCount", agent.drift_count},
              {"lastError", agent.last_error},
              {"consecutiveFailures", agent.consecutive_failures},
              {"retryAt", Nullable(agent.retry_at)},
              {"message", agent.message},
              {"system", SystemFiguresJson(agent.system)}};
}

Json TunnelJson(const FleetSnapshot::Tunnel& tunnel) {
  Json peers = Json::array();
  for (const FleetSnapshot::Peer& peer : tunnel.peers) {
    peers.push_back(Json{{"name", peer.name},
                         {"agent", Nullable(peer.agent)},
                         {"managed", peer.managed},
                         {"address", Nullable(peer.address)},
                         {"handshakeAgeSeconds", Nullable(peer.handshake_age_seconds)},
                         {"rxBytes", peer.rx_bytes},
                         {"txBytes", peer.tx_bytes}});
  }
  return Json{{"name", tunnel.name},
              {"server", tunnel.server},
              {"serverPublicKey", Nullable(tunnel.server_public_key)},
              {"interface", tunnel.interface},
              {"selfHeal", tunnel.self_heal},
              {"peers", std::move(peers)}};
}

Json ForwardJson(const FleetSnapshot::Forward& forward) {
  return Json{{"name", forward.name},
              {"tunnel", forward.tunnel},
              {"agent", forward.agent},
              {"protocol", forward.protocol},
              {"ports", forward.ports},
              {"template", Nullable(forward.template_name)},
              {"to", forward.to},
              {"description", forward.description},
              {"state", forward.state}};
}

// ---------------------------------------------------------------------------------------
// Reading

// Thrown and caught within this file only: a field with the wrong type, by path.
struct FieldError {
  std::string message;
};

std::string Path(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : std::string(parent) + "." + std::string(key);
}

std::string Describe(const Json& value) {
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

// nullptr when the field is missing or null.
const Json* Field(const Json& object, std::string_view key) {
  auto found = object.find(key);
  if (found == object.end() || found->is_null()) return nullptr;
  return &*found;
}

const Json* OptionalObject(const Json& object, std::string_view parent, std::string_view key) {
  const Json* value = Field(object, key);
  if (value != nullptr && !value->is_object()) {
    throw FieldError{Path(parent, key) + ": " + Describe(*value) + " is not an object"};
  }
  return value;
}

std::optional<std::string> OptionalString(const Json& object, std::string_view parent, std::string_view key) {
  const Json* value = Field(object, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) throw FieldError{Path(parent, key) + ": " + Describe(*value) + " is not a string"};
  return value->get<std::string>();
}

std::string String(const Json& object, std::string_view parent, std::string_view key) {
  return OptionalString(object, parent, key).value_or("");
}

bool Boolean(const Json& object, std::string_view parent, std::string_view key, bool fallback = false) {
  const Json* value = Field(object, key);
  if (value == nullptr) return fallback;
  if (!value->is_boolean()) throw FieldError{Path(parent, key) + ": " + Describe(*value) + " is not true or false"};
  return value->get<bool>();
}

std::optional<std::int64_t> OptionalInteger(const Json& object, std::string_view parent, std::string_view key) {
  const Json* value = Field(object, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number_integer() || (value->is_number_unsigned() && value->get<std::uint64_t>() > INT64_MAX)) {
    throw FieldError{Path(parent, key) + ": " + Describe(*value) + " is not an integer"};
  }
  return value->get<std::int64_t>();
}

std::int64_t Integer(const Json& object, std::string_view parent, std::string_view key) {
  return OptionalInteger(object, parent, key).value_or(0);
}

std::optional<std::uint64_t> OptionalCounter(const Json& object, std::string_view parent, std::string_view key) {
  const Json* value = Field(object, key);
  if (value == nullptr) return std::nullopt;
  // A writer may store a count as signed (json(int64_t)); any integer of 0 or more is fine.
  bool counter = value->is_number_unsigned() || (value->is_number_integer() && value->get<std::int64_t>() >= 0);
  if (!counter) throw FieldError{Path(parent, key) + ": " + Describe(*value) + " is not a non-negative integer"};
  return value->get<std::uint64_t>();
}

std::uint64_t Counter(const Json& object, std::string_view parent, std::string_view key) {
  return OptionalCounter(object, parent, key).value_or(0);
}

std::optional<double> OptionalNumber(const Json& object, std::string_view parent, std::string_view key) {
  const Json* value = Field(object, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number()) throw FieldError{Path(parent, key) + ": " + Describe(*value) + " is not a number"};
  return value->get<double>();
}

const Json* Array(const Json& object, std::string_view parent, std::string_view key) {
  const Json* value = Field(object, key);
  if (value != nullptr && !value->is_array()) {
    throw FieldError{Path(parent, key) + ": " + Describe(*value) + " is not an array"};
  }
  return value;
}

std::string Indexed(std::string_view key, std::size_t index) { return std::string(key) + "[" + std::to_string(index) + "]"; }

// The array at `key` (empty when missing or null); every element must be an object.
std::vector<const Json*> Objects(const Json& object, std::string_view parent, std::string_view key) {
  std::vector<const Json*> result;
  const Json* value = Array(object, parent, key);
  if (value == nullptr) return result;
  for (std::size_t i = 0; i < value->size(); ++i) {
    const Json& element = (*value)[i];
    if (!element.is_object()) throw FieldError{Path(parent, Indexed(key, i)) + ": " + Describe(element) + " is not an object"};
    result.push_back(&element);
  }
  return result;
}

std::vector<std::string> Strings(const Json& object, std::string_view parent, std::string_view key) {
  std::vector<std::string> result;
  const Json* value = Array(object, parent, key);
  if (value == nullptr) return result;
  for (std::size_t i = 0; i < value->size(); ++i) {
    const Json& element = (*value)[i];
    if (!element.is_string()) throw FieldError{Path(parent, Indexed(key, i)) + ": " + Describe(element) + " is not a string"};
    result.push_back(element.get<std::string>());
  }
  return result;
}

RevisionSummary ReadRevision(const Json& revision, std::string_view path) {
  return RevisionSummary{Integer(revision, path, "id"),         String(revision, path, "source"),
                         String(revision, path, "commit"),      String(revision, path, "author"),
                         String(revision, path, "message"),     String(revision, path, "appliedBy"),
                         Integer(revision, path, "createdAt"), String(revision, path, "contentSha256")};
}

FleetSnapshot::Agent ReadAgent(const Json& agent, const std::string& path) {
  FleetSnapshot::Agent entry;
  entry.name = String(agent, path, "name");
  entry.mode = String(agent, path, "mode");
  entry.enrolled = Boolean(agent, path, "enrolled", true);
  entry.deleted = Boolean(agent, path, "deleted");
  entry.deleted_at = OptionalInteger(agent, path, "deletedAt");
  entry.enroll_command = OptionalString(agent, path, "enrollCommand");
  entry.warnings = Strings(agent, path, "warnings");
  entry.connected = Boolean(agent, path, "connected");
  entry.last_seen = OptionalInteger(agent, path, "lastSeen");
  entry.version = String(agent, path, "version");
  entry.hostname = String(agent, path, "hostname");
  entry.generation = Integer(agent, path, "generation");
  entry.applied_generation = Integer(agent, path, "appliedGeneration");
  entry.phase = String(agent, path, "phase");
  entry.drift = Strings(agent, path, "drift");
  entry.drift_count = OptionalCounter(agent, path, "driftCount").value_or(entry.drift.size());
  entry.last_error = String(agent, path, "lastError");
  entry.consecutive_failures = Integer(agent, path, "consecutiveFailures");
  entry.retry_at = OptionalInteger(agent, path, "retryAt");
  entry.message = String(agent, path, "message");
  if (const Json* system = OptionalObject(agent, path, "system"); system != nullptr) {
    std::string system_path = Path(path, "system");
    entry.system = SystemFigures{OptionalNumber(*system, system_path, "cpuPercent"),
                                 OptionalCounter(*system, system_path, "memoryUsedBytes"),
                                 OptionalCounter(*system, system_path, "memoryTotalBytes"),
                                 OptionalCounter(*system, system_path, "diskUsedBytes"),
                                 OptionalCounter(*system, system_path, "diskTotalBytes"),
                                 OptionalCounter(*system, system_path, "uptimeSeconds")};
  }
  return entry;
}

FleetSnapshot::Tunnel ReadTunnel(const Json& tunnel, const std::string& path) {
  FleetSnapshot::Tunnel entry;
  entry.name = String(tunnel, path, "name");
  entry.server = String(tunnel, path, "server");
  entry.server_public_key = OptionalString(tunnel, path, "serverPublicKey");
  entry.interface = String(tunnel, path, "interface");
  entry.self_heal = Boolean(tunnel, path, "selfHeal", true);
  std::vector<const Json*> peers = Objects(tunnel, path, "peers");
  for (std::size_t i = 0; i < peers.size(); ++i) {
    const Json& peer = *peers[i];
    std::string peer_path = path + "." + Indexed("peers", i);
    entry.peers.push_back(FleetSnapshot::Peer{
        String(peer, peer_path, "name"), OptionalString(peer, peer_path, "agent"), Boolean(peer, peer_path, "managed"),
        OptionalString(peer, peer_path, "address"), OptionalInteger(peer, peer_path, "handshakeAgeSeconds"),
        Counter(peer, peer_path, "rxBytes"), Counter(peer, peer_path, "txBytes")});
  }
  return entry;
}

FleetSnapshot ReadSnapshot(const Json& root) {
  if (!root.is_object()) throw FieldError{Describe(root) + " is not an object"};
  FleetSnapshot snapshot;
  snapshot.version = Counter(root, "", "version");
  snapshot.now = Integer(root, "", "now");
  if (const Json* revision = OptionalObject(root, "", "revision"); revision != nullptr) {
    snapshot.revision = ReadRevision(*revision, "revision");
  }
  if (const Json* divergence = OptionalObject(root, "", "divergence"); divergence != nullptr) {
    snapshot.divergence = FleetSnapshot::Divergence{
        String(*divergence, "divergence", "commit"), Integer(*divergence, "divergence", "gitRevision"),
        Integer(*divergence, "divergence", "revision"), String(*divergence, "divergence", "source"),
        String(*divergence, "divergence", "by"),        Integer(*divergence, "divergence", "at")};
  }
  snapshot.revision_errors = Strings(root, "", "revisionErrors");
  if (const Json* rejected = OptionalObject(root, "", "rejected"); rejected != nullptr) {
    snapshot.rejected = FleetSnapshot::RejectedCommit{String(*rejected, "rejected", "commit"),
                                                      Integer(*rejected, "rejected", "at"),
                                                      Strings(*rejected, "rejected", "errors")};
  }
  snapshot.converged = Boolean(root, "", "converged");

  std::vector<const Json*> agents = Objects(root, "", "agents");
  for (std::size_t i = 0; i < agents.size(); ++i) snapshot.agents.push_back(ReadAgent(*agents[i], Indexed("agents", i)));
  std::vector<const Json*> tunnels = Objects(root, "", "tunnels");
  for (std::size_t i = 0; i < tunnels.size(); ++i) {
    snapshot.tunnels.push_back(ReadTunnel(*tunnels[i], Indexed("tunnels", i)));
  }
  std::vector<const Json*> forwards = Objects(root, "", "forwards");
  for (std::size_t i = 0; i < forwards.size(); ++i) {
    const Json& forward = *forwards[i];
    std::string path = Indexed("forwards", i);
    snapshot.forwards.push_back(FleetSnapshot::Forward{
        String(forward, path, "name"), String(forward, path, "tunnel"), String(forward, path, "agent"),
        String(forward, path, "protocol"), String(forward, path, "ports"), OptionalString(forward, path, "template"),
        String(forward, path, "to"), String(forward, path, "description"), String(forward, path, "state")});
  }
  std::vector<const Json*> revisions = Objects(root, "", "revisions");
  for (std::size_t i = 0; i < revisions.size(); ++i) {
    snapshot.revisions.push_back(ReadRevision(*revisions[i], Indexed("revisions", i)));
  }
  std::vector<const Json*> events = Objects(root, "", "events");
  for (std::size_t i = 0; i < events.size(); ++i) {
    const Json& event = *events[i];
    std::string path = Indexed("events", i);
    snapshot.events.push_back(FleetSnapshot::Event{Integer(event, path, "id"), Integer(event, path, "at"),
                                                   OptionalString(event, path, "agent"), String(event, path, "kind"),
                                                   String(event, path, "message")});
  }
  return snapshot;
}

}  // namespace

Json RevisionSummaryJson(const RevisionSummary& revision) {
  return Json{{"id", revision.id},
              {"source", revision.source},
              {"commit", revision.commit},
              {"author", revision.author},
              {"message", revision.message},
              {"appliedBy", revision.applied_by},
              {"createdAt", revision.created_at},
              {"contentSha256", revision.content_sha256}};
}

Json SystemFiguresJson(const std::optional<SystemFigures>& system) {
  if (!system) return nullptr;
  Json out = Json::object();
  if (system->cpu_percent) out["cpuPercent"] = *system->cpu_percent;
  if (system->memory_used_bytes) out["memoryUsedBytes"] = *system->memory_used_bytes;
  if (system->memory_total_bytes) out["memoryTotalBytes"] = *system->memory_total_bytes;
  if (system->disk_used_bytes) out["diskUsedBytes"] = *system->disk_used_bytes;
  if (system->disk_total_bytes) out["diskTotalBytes"] = *system->disk_total_bytes;
  if (system->uptime_seconds) out["uptimeSeconds"] = *system->uptime_seconds;
  return out;
}

std::string FleetSnapshotToJson(const FleetSnapshot& snapshot) {
  Json out;
  out["version"] = snapshot.version;
  out["now"] = snapshot.now;
  out["revision"] = snapshot.revision ? RevisionSummaryJson(*snapshot.revision) : Json(nullptr);
  if (snapshot.divergence) {
    const FleetSnapshot::Divergence& divergence = *snapshot.divergence;
    out["divergence"] = Json{{"commit", divergence.commit}, {"gitRevision", divergence.git_revision},
                             {"revision", divergence.revision}, {"source", divergence.source},
                             {"by", divergence.by},            {"at", divergence.at}};
  } else {
    out["divergence"] = nullptr;
  }
  out["revisionErrors"] = snapshot.revision_errors;
  out["rejected"] = snapshot.rejected ? Json{{"commit", snapshot.rejected->commit},
                                             {"at", snapshot.rejected->at},
                                             {"errors", snapshot.rejected->errors}}
                                      : Json(nullptr);
  out["converged"] = snapshot.converged;
  Json agents = Json::array();
  for (const FleetSnapshot::Agent& agent : snapshot.agents) agents.push_back(AgentJson(agent));
  out["agents"] = std::move(agents);
  Json tunnels = Json::array();
  for (const FleetSnapshot::Tunnel& tunnel : snapshot.tunnels) tunnels.push_back(TunnelJson(tunnel));
  out["tunnels"] = std::move(tunnels);
  Json forwards = Json::array();
  for (const FleetSnapshot::Forward& forward : snapshot.forwards) forwards.push_back(ForwardJson(forward));
  out["forwards"] = std::move(forwards);
  Json revisions = Json::array();
  for (const RevisionSummary& revision : snapshot.revisions) revisions.push_back(RevisionSummaryJson(revision));
  out["revisions"] = std::move(revisions);
  Json events = Json::array();
  for (const FleetSnapshot::Event& event : snapshot.events) {
    events.push_back(Json{{"id", event.id},
                          {"at", event.at},
                          {"agent", Nullable(event.agent)},
                          {"kind", event.kind},
                          {"message", event.message}});
  }
  out["events"] = std::move(events);
  return out.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::shared_ptr<const PublishedSnapshot> PublishSnapshot(FleetSnapshot snapshot) {
  auto published = std::make_shared<PublishedSnapshot>();
  published->json = FleetSnapshotToJson(snapshot);
  published->snapshot = std::move(snapshot);
  return published;
}

Result<FleetSnapshot> FleetSnapshotFromJson(std::string_view snapshot_json) {
  Json root;
  try {
    root = Json::parse(snapshot_json);
  } catch (const Json::exception& error) {
    return Status::InvalidArgument(std::string("the snapshot is not JSON: ") + error.what());
  }
  try {
    return ReadSnapshot(root);
  } catch (const FieldError& error) {
    return Status::InvalidArgument("snapshot " + error.message);
  } catch (const Json::exception& error) {
    return Status::InvalidArgument(std::string("snapshot: ") + error.what());
  }
}

}  // namespace ww
