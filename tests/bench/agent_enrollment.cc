#include "tests/bench/agent_enrollment.h"

#include <openssl/rand.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "reconciler/client/api_client.h"
#include "reconciler/client/enroll_client.h"
#include "tests/bench/bench_fleet.h"
#include "tests/bench/bench_support.h"

namespace ww::bench {

using nlohmann::json;

Result<EnrollmentRun> EnrollAgents(const AdminAccess& admin, int first, int count, int threads,
                                   const std::filesystem::path& scratch) {
  EnrollmentRun run;
  run.agents.resize(static_cast<std::size_t>(count));
  std::atomic<int> next{0};
  std::mutex failure_mutex;
  Status failure;  // GUARDED_BY(failure_mutex); the first one
  std::atomic<bool> failed{false};
  auto fail = [&](Status status) {
    std::lock_guard lock(failure_mutex);
    if (!failed.exchange(true)) failure = std::move(status);
  };

  auto enroller = [&](int thread_index) {
    ApiClientOptions client_options{admin.url, admin.ca_pem, admin.certificate_pem, admin.key_pem};
    client_options.read_timeout = std::chrono::seconds(120);  // a loaded reconciler may take long
    auto created = ApiClient::Create(std::move(client_options));
    if (!created.ok()) return fail(created.status());
    ApiClient& client = **created;
    std::string state_dir = (scratch / ("enroll-" + std::to_string(thread_index))).string();
    std::filesystem::create_directories(state_dir);
    for (int offset = next++; offset < count && !failed; offset = next++) {
      AgentIdentity& agent = run.agents[static_cast<std::size_t>(offset)];
      int index = first + offset;
      agent.name = AgentName(index);
      std::string type = index == 0 ? "server" : "client";
      auto token = client.Post("/v1/tokens", json{{"type", type}, {"name", agent.name}}.dump());
      if (!token.ok() || token->status != 200) {
        return fail(Status::Internal("token for " + agent.name + ": " +
                                     (token.ok() ? ApiErrorMessage(*token) : token.status().ToString())));
      }
      EnrollRequest request;
      request.url = admin.url;
      request.token = json::parse(token->body).at("token").get<std::string>();
      request.ca_pins = {admin.ca_pin};
      request.mode = type;
      request.name = agent.name;
      request.hostname = agent.name;
      request.version = "bench";
      RAND_bytes(request.wireguard_public_key.bytes.data(), static_cast<int>(request.wireguard_public_key.bytes.size()));
      request.state_dir = state_dir;
      request.timeout = std::chrono::seconds(120);
      request.write_file = [&](std::string_view name, std::string_view contents) -> Status {
        if (name == kAgentTlsKeyFile) agent.key_pem = std::string(contents);
        if (name == kAgentCaCertificateFile) std::ofstream(state_dir + "/" + std::string(name)) << contents;
        return Status::Ok();
      };
      auto enrolled = Enroll(request);
      if (!enrolled.ok()) return fail(enrolled.status().WithContext("enrolling " + agent.name));
      agent.certificate_pem = enrolled->certificate_pem;
    }
  };

  auto started = Clock::now();
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) workers.emplace_back(enroller, i);
  for (std::thread& worker : workers) worker.join();
  run.seconds = SecondsSince(started);
  std::filesystem::remove_all(scratch);
  if (failed) return failure;
  return run;
}

}  // namespace ww::bench
