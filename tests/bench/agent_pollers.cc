#include "tests/bench/agent_pollers.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "reconciler/client/api_client.h"
#include "schema/plan.h"
#include "schema/wire_json.h"

namespace ww::bench {

using nlohmann::json;

Result<std::string> ConvergedReport(const std::string& plan_body, const std::string& agent_name) {
  json plan = json::parse(plan_body, nullptr, false);
  if (plan.is_discarded() || !plan.is_object()) return Status::Internal("the plan is not a JSON object");
  WW_ASSIGN_OR_RETURN(AgentConfig desired, AgentConfigFromJson(plan.value("desired", json::object()).dump()));
  json observed = json::parse(ObservedStateToJson(ObservedFromDesired(desired), JsonStyle::kCompact));
  return json{{"generation", plan.value("generation", int64_t{0})},
              {"converged", true},
              {"error", ""},
              {"version", "bench"},
              {"hostname", agent_name},
              {"observed", std::move(observed)}}
      .dump();
}

AgentPollers::AgentPollers(std::string url, std::string ca_pem, const std::vector<AgentIdentity>& agents, int count,
                           ReportMode reports)
    : url_(std::move(url)), ca_pem_(std::move(ca_pem)), agents_(agents), reports_(reports),
      slots_(static_cast<std::size_t>(count)) {}

AgentPollers::~AgentPollers() {
  RequestStop();
  Join();
}

void AgentPollers::Start() {
  threads_.reserve(slots_.size());
  for (int index = 0; index < count(); ++index) threads_.emplace_back([this, index] { Poll(index); });
}

void AgentPollers::RequestStop() { stopping_ = true; }

void AgentPollers::Join() {
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

std::string AgentPollers::first_error() const {
  std::lock_guard lock(error_mutex_);
  return first_error_;
}

void AgentPollers::Poll(int index) {
  const AgentIdentity& agent = agents_[static_cast<std::size_t>(index)];
  Slot& slot = slots_[static_cast<std::size_t>(index)];
  auto count_error = [this](const std::string& what) {
    if (stopping_) return;
    ++errors_;
    std::lock_guard lock(error_mutex_);
    if (first_error_.empty()) first_error_ = what;
  };
  auto created = ApiClient::Create({url_, ca_pem_, agent.certificate_pem, agent.key_pem});
  if (!created.ok()) return count_error(agent.name + ": " + created.status().ToString());
  ApiClient& client = **created;
  int64_t generation = 0;
  const std::string plan_path = "/v1/agents/" + agent.name + "/plan?after=";
  while (!stopping_) {
    auto answer = client.Get(plan_path + std::to_string(generation) + "&wait=30", std::chrono::seconds(40));
    if (!answer.ok() || (answer->status != 200 && answer->status != 204)) {
      count_error(agent.name + " poll: " +
                  (answer.ok() ? std::to_string(answer->status) + " " + answer->body.substr(0, 200)
                               : answer.status().ToString()));
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    if (answer->status == 204) continue;
    auto received = Clock::now();
    // Only the two numbers are read here; the report (when on) parses the whole plan.
    json head = json::parse(answer->body, nullptr, false);
    if (head.is_discarded()) {
      count_error(agent.name + ": a plan that is not JSON");
      continue;
    }
    generation = head.value("generation", generation);
    slot.received_ns = received.time_since_epoch().count();
    slot.revision = head.value("revision", int64_t{0});
    if (reports_ == ReportMode::kNone) continue;
    Result<std::string> report = ConvergedReport(answer->body, agent.name);
    if (!report.ok()) {
      count_error(agent.name + ": " + report.status().ToString());
      continue;
    }
    auto reported = client.Post("/v1/agents/" + agent.name + "/report", *report);
    if (!reported.ok() || reported->status != 204) {
      count_error(agent.name + " report: " +
                  (reported.ok() ? std::to_string(reported->status) + " " + reported->body.substr(0, 200)
                                 : reported.status().ToString()));
    }
  }
}

int AgentPollers::HoldingRevision(int64_t revision) const {
  return static_cast<int>(
      std::count_if(slots_.begin(), slots_.end(), [&](const Slot& slot) { return slot.revision >= revision; }));
}

bool AgentPollers::WaitForRevision(int64_t revision, std::chrono::seconds timeout) const {
  auto deadline = Clock::now() + timeout;
  while (HoldingRevision(revision) < count()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

std::vector<double> AgentPollers::DeliveryMilliseconds(int64_t revision, Clock::time_point since) const {
  std::vector<double> latencies;
  latencies.reserve(slots_.size());
  int64_t since_ns = since.time_since_epoch().count();
  for (const Slot& slot : slots_) {
    if (slot.revision < revision) continue;
    latencies.push_back(std::max(0.0, static_cast<double>(slot.received_ns.load() - since_ns) / 1e6));
  }
  return latencies;
}

}  // namespace ww::bench
