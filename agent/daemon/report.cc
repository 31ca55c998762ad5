#include "agent/daemon/report.h"

#include <nlohmann/json.hpp>

#include "schema/wire_json.h"

namespace ww::agent {

std::vector<PeerStats> PeerStatsFrom(const ObservedState& observed) {
  std::vector<PeerStats> peers;
  for (const ObservedInterface& interface : observed.interfaces) {
    for (const ObservedPeer& peer : interface.peers) {
      peers.push_back({interface.name, peer.public_key, peer.latest_handshake, peer.rx_bytes, peer.tx_bytes});
    }
  }
  return peers;
}

std::string AgentReportToJson(const AgentReport& report) {
  nlohmann::ordered_json out;
  out["generation"] = report.generation;
  out["converged"] = report.converged;
  out["error"] = report.error;
  if (report.stale_plan == StalePlan::kYes) out["stalePlan"] = true;
  out["version"] = report.version;
  out["hostname"] = report.hostname;
  // The wire format's own writer, so the report carries exactly what `observe` prints.
  out["observed"] = nlohmann::ordered_json::parse(ObservedStateToJson(report.observed, JsonStyle::kCompact), nullptr,
                                                 /*allow_exceptions=*/false);
  nlohmann::ordered_json peers = nlohmann::ordered_json::array();
  for (const PeerStats& peer : report.peers) {
    peers.push_back({{"interface", peer.interface_name},
                     {"publicKey", peer.public_key.ToBase64()},
                     {"latestHandshake", peer.latest_handshake},
                     {"rxBytes", peer.rx_bytes},
                     {"txBytes", peer.tx_bytes}});
  }
  out["peers"] = std::move(peers);
  out["system"] = {{"cpuPercent", report.system.cpu_percent},
                   {"memoryUsedBytes", report.system.memory_used_bytes},
                   {"memoryTotalBytes", report.system.memory_total_bytes},
                   {"diskUsedBytes", report.system.disk_used_bytes},
                   {"diskTotalBytes", report.system.disk_total_bytes},
                   {"uptimeSeconds", report.system.uptime_seconds}};
  // Replace, not throw, on invalid UTF-8 (a hostname or error text from the host).
  return out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace ww::agent
