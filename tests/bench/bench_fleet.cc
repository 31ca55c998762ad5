#include "tests/bench/bench_fleet.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/bench/bench_support.h"

namespace ww::bench {

using nlohmann::json;

std::string AgentName(int index) {
  char name[32];
  std::snprintf(name, sizeof name, "agent-%05d", index);
  return name;
}

std::string FleetYaml(int agents, int mtu) {
  std::ostringstream out;
  out << "apiVersion: wirewarp.dev/v1\nkind: Tunnel\nmetadata:\n  name: bench\nspec:\n  agent: " << AgentName(0)
      << "\n  endpoint: 203.0.113.1:51820\n  network: 10.64.0.0/16\n  mtu: " << mtu << "\n";
  for (int i = 1; i < agents; ++i) {
    out << "---\napiVersion: wirewarp.dev/v1\nkind: Peer\nmetadata:\n  name: " << AgentName(i)
        << "\nspec:\n  tunnel: bench\n  agent: " << AgentName(i) << "\n";
  }
  return out.str();
}

Result<UploadResult> UploadFleet(ApiClient& admin, int agents, int mtu) {
  json body{{"documents", json::array({json{{"path", "bench/fleet.yaml"}, {"content", FleetYaml(agents, mtu)}}})}};
  std::string text = body.dump();
  auto started = Clock::now();
  auto answer = admin.Post("/v1/revisions", text, std::chrono::seconds(300));
  double milliseconds = MillisecondsSince(started);
  if (!answer.ok()) return answer.status();
  json parsed = json::parse(answer->body, nullptr, false);
  if (answer->status != 200 || parsed.is_discarded() || !parsed.value("revision", json()).is_number_integer()) {
    return Status::Internal("upload of " + std::to_string(agents) + " agents answered " +
                            std::to_string(answer->status) + ": " + answer->body.substr(0, 300));
  }
  return UploadResult{parsed["revision"].get<int64_t>(), milliseconds};
}

}  // namespace ww::bench
