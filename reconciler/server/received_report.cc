#include "reconciler/server/received_report.h"

#include <nlohmann/json.hpp>

#include <utility>

#include "reconciler/server/http_json.h"
#include "reconciler/status/snapshot_json_pieces.h"
#include "schema/wire_json.h"

namespace ww {
namespace {

using Json = nlohmann::json;

constexpr std::size_t kMaxKeyInMessage = 64;

std::string Field(std::string_view path) { return "field \"" + std::string(path) + "\""; }

// The path below `value` of its first string or key longer than kReportMaxString ("" for
// `value` itself), or nullopt. Built only on the way back from a find, so a long clean
// report costs no path strings.
std::optional<std::string> LongStringPath(const Json& value) {
  if (value.is_string()) {
    return value.get_ref<const std::string&>().size() > kReportMaxString ? std::optional<std::string>("") : std::nullopt;
  }
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) {
      std::string shown = key.size() > kMaxKeyInMessage ? key.substr(0, kMaxKeyInMessage) + "..." : key;
      if (key.size() > kReportMaxString) return "." + shown;
      if (std::optional<std::string> inner = LongStringPath(item)) return "." + shown + *inner;
    }
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (std::optional<std::string> inner = LongStringPath(value[i])) return "[" + std::to_string(i) + "]" + *inner;
    }
  }
  return std::nullopt;
}

// nullptr when absent or null.
const Json* Find(const Json& object, const char* key) {
  auto found = object.find(key);
  return found == object.end() || found->is_null() ? nullptr : &*found;
}

// A non-negative integer at most `max`.
Result<std::uint64_t> OptionalCount(const Json& object, const char* key, const std::string& path, std::uint64_t max) {
  const Json* value = Find(object, key);
  if (value == nullptr) return std::uint64_t{0};
  bool count = value->is_number_unsigned() || (value->is_number_integer() && value->get<std::int64_t>() >= 0);
  if (!count || value->get<std::uint64_t>() > max) {
    return Status::InvalidArgument(Field(path) + " must be an integer from 0 to " + std::to_string(max));
  }
  return value->get<std::uint64_t>();
}

Result<std::optional<std::uint64_t>> SystemCount(const Json& system, const char* key, std::uint64_t max) {
  if (Find(system, key) == nullptr) return std::optional<std::uint64_t>();
  WW_ASSIGN_OR_RETURN(std::uint64_t count, OptionalCount(system, key, std::string("system.") + key, max));
  return std::optional<std::uint64_t>(count);
}

Result<std::optional<SystemFigures>> ReadSystem(const Json& body) {
  const Json* system = Find(body, "system");
  if (system == nullptr) return std::optional<SystemFigures>();
  if (!system->is_object()) return Status::InvalidArgument(Field("system") + " must be an object");
  SystemFigures figures;
  if (const Json* cpu = Find(*system, "cpuPercent"); cpu != nullptr) {
    if (!cpu->is_number() || !(cpu->get<double>() >= 0 && cpu->get<double>() <= kReportMaxCpuPercent)) {
      return Status::InvalidArgument(Field("system.cpuPercent") + " must be a number from 0 to 100");
    }
    figures.cpu_percent = cpu->get<double>();
  }
  WW_ASSIGN_OR_RETURN(figures.memory_used_bytes, SystemCount(*system, "memoryUsedBytes", kReportMaxBytes));
  WW_ASSIGN_OR_RETURN(figures.memory_total_bytes, SystemCount(*system, "memoryTotalBytes", kReportMaxBytes));
  WW_ASSIGN_OR_RETURN(figures.disk_used_bytes, SystemCount(*system, "diskUsedBytes", kReportMaxBytes));
  WW_ASSIGN_OR_RETURN(figures.disk_total_bytes, SystemCount(*system, "diskTotalBytes", kReportMaxBytes));
  WW_ASSIGN_OR_RETURN(figures.uptime_seconds, SystemCount(*system, "uptimeSeconds", kReportMaxUptimeSeconds));
  return std::optional<SystemFigures>(figures);
}

Result<std::vector<ReportedPeer>> ReadPeers(const Json& body) {
  std::vector<ReportedPeer> peers;
  const Json* list = Find(body, "peers");
  if (list == nullptr) return peers;
  if (!list->is_array()) return Status::InvalidArgument(Field("peers") + " must be a list of peer counters");
  peers.reserve(list->size());
  for (std::size_t i = 0; i < list->size(); ++i) {
    const Json& item = (*list)[i];
    const std::string path = "peers[" + std::to_string(i) + "]";
    if (!item.is_object()) return Status::InvalidArgument(Field(path) + " must be an object");
    ReportedPeer peer;
    WW_ASSIGN_OR_RETURN(peer.interface_name, OptionalText(item, "interface", path + ".interface"));
    WW_ASSIGN_OR_RETURN(peer.public_key, OptionalText(item, "publicKey", path + ".publicKey"));
    WW_ASSIGN_OR_RETURN(std::uint64_t handshake,
                        OptionalCount(item, "latestHandshake", path + ".latestHandshake", INT64_MAX));
    peer.latest_handshake = static_cast<std::int64_t>(handshake);
    WW_ASSIGN_OR_RETURN(peer.rx_bytes, OptionalCount(item, "rxBytes", path + ".rxBytes", UINT64_MAX));
    WW_ASSIGN_OR_RETURN(peer.tx_bytes, OptionalCount(item, "txBytes", path + ".txBytes", UINT64_MAX));
    peers.push_back(std::move(peer));
  }
  return peers;
}

}  // namespace

Result<ReceivedReport> ParseReceivedReport(const std::string& body_text) {
  WW_ASSIGN_OR_RETURN(Json body, ParseJsonObject(body_text, kReportMaxDepth));
  if (std::optional<std::string> path = LongStringPath(body)) {
    return Status::InvalidArgument(Field(path->substr(1)) + " is longer than " + std::to_string(kReportMaxString) +
                                   " bytes");
  }
  ReceivedReport report;
  const Json* generation = Find(body, "generation");
  if (generation == nullptr || !generation->is_number_integer() || generation->get<std::int64_t>() < 0 ||
      (generation->is_number_unsigned() && generation->get<std::uint64_t>() > INT64_MAX)) {
    return Status::InvalidArgument(Field("generation") + " must be a non-negative integer");
  }
  report.generation = generation->get<std::int64_t>();
  const Json* converged = Find(body, "converged");
  if (converged == nullptr || !converged->is_boolean()) {
    return Status::InvalidArgument(Field("converged") + " must be true or false");
  }
  report.converged = converged->get<bool>();
  WW_ASSIGN_OR_RETURN(report.error, OptionalText(body, "error"));
  if (const Json* stale = Find(body, "stalePlan"); stale != nullptr) {
    if (!stale->is_boolean()) return Status::InvalidArgument(Field("stalePlan") + " must be true or false");
    if (stale->get<bool>()) report.plan_outcome = LatestPlanOutcome::kStale;
  }
  WW_ASSIGN_OR_RETURN(report.version, OptionalText(body, "version"));
  WW_ASSIGN_OR_RETURN(report.hostname, OptionalText(body, "hostname"));
  const Json* observed = Find(body, "observed");
  if (observed == nullptr || !observed->is_object()) {
    return Status::InvalidArgument(Field("observed") + " must be an ObservedState object");
  }
  report.observed_json = observed->dump(-1, ' ', false, Json::error_handler_t::replace);
  Result<ObservedState> observed_state = ObservedStateFromJson(report.observed_json);
  if (!observed_state.ok()) return Status::InvalidArgument(Field("observed") + ": " + observed_state.status().message());
  report.observed = std::move(observed_state).value();
  WW_ASSIGN_OR_RETURN(report.peers, ReadPeers(body));
  WW_ASSIGN_OR_RETURN(report.system, ReadSystem(body));
  return report;
}

std::string ReportMetricsJson(const ReceivedReport& report) {
  Json peers = Json::array();
  for (const ReportedPeer& peer : report.peers) {
    peers.push_back(Json{{"interface", peer.interface_name},
                         {"publicKey", peer.public_key},
                         {"latestHandshake", peer.latest_handshake},
                         {"rxBytes", peer.rx_bytes},
                         {"txBytes", peer.tx_bytes}});
  }
  Json metrics{{"converged", report.converged}, {"error", report.error},       {"version", report.version},
               {"hostname", report.hostname},   {"peers", std::move(peers)}, {"system", SystemFiguresJson(report.system)}};
  return metrics.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace ww
