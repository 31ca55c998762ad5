#include "agent/daemon/daemon.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <nlohmann/json.hpp>

#include "reconciler/client/enroll_client.h"
#include "reconciler/client/log_line.h"
#include "schema/wire_json.h"

namespace ww::agent {
namespace {

// How much longer than the long-poll's own wait a poll may take before it counts as lost.
constexpr std::chrono::seconds kPollMargin{15};
constexpr std::chrono::seconds kReportTimeout{15};

// key=value with the value quoted when it holds spaces, quotes, '=' or control characters.
std::string LogValue(std::string_view value) {
  bool plain = !value.empty();
  for (char c : value) plain = plain && c != ' ' && c != '"' && c != '=' && c != '\\' && static_cast<unsigned char>(c) >= 0x20;
  if (plain) return std::string(value);
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
  }
  return quoted + "\"";
}

std::string Describe(const ApplyReport& report) { return report.converged ? "converged" : "not-converged"; }

}  // namespace

int DaemonExitCode(DaemonExit exit) {
  switch (exit) {
    case DaemonExit::kStopped: return 0;
    case DaemonExit::kRevoked: return 3;
    case DaemonExit::kFailed: return 1;
  }
  return 1;
}

AgentDaemon::AgentDaemon(DaemonOptions options, DaemonEnvironment environment)
    : options_(std::move(options)),
      environment_(std::move(environment)),
      backoff_(options_.backoff, environment_.random) {}

AgentDaemon::~AgentDaemon() {
  Stop();
  if (reporter_.joinable()) reporter_.join();
}

void AgentDaemon::Stop() {
  {
    std::lock_guard<std::mutex> lock(signal_mutex_);
    stopping_ = true;
  }
  signal_.notify_all();
}

std::unique_lock<std::mutex> AgentDaemon::PauseHostChanges() { return std::unique_lock<std::mutex>(host_mutex_); }

namespace {

// An event's level: what stops the daemon or loses a plan is an error, a failed call that is
// retried a warning, the rest information.
LogLevel EventLevel(std::string_view event, const std::vector<std::pair<std::string_view, std::string>>& fields) {
  for (std::string_view fatal : {"start-failed", "client-failed", "revoked", "plan-invalid"}) {
    if (event == fatal) return LogLevel::kError;
  }
  for (const auto& [key, value] : fields) {
    if (key == "outcome" && value == "failed") return LogLevel::kError;
  }
  if (event.ends_with("-failed") || event.ends_with("-refused")) return LogLevel::kWarning;
  return LogLevel::kInfo;
}

}  // namespace

void AgentDaemon::LogEvent(std::string_view event, std::vector<std::pair<std::string_view, std::string>> fields) {
  std::string line = "wirewarp-agent event=" + std::string(event);
  for (const auto& [key, value] : fields) line += " " + std::string(key) + "=" + LogValue(value);
  line = FormatLogLine(std::chrono::system_clock::now(), EventLevel(event, fields), line);
  std::lock_guard<std::mutex> lock(log_mutex_);
  *environment_.log << line << "\n" << std::flush;
}

void AgentDaemon::Sleep(std::chrono::milliseconds delay) {
  if (environment_.sleep) {
    environment_.sleep(delay);
    return;
  }
  std::unique_lock<std::mutex> lock(signal_mutex_);
  signal_.wait_for(lock, delay, [this] { return stopping(); });
}

DaemonExit AgentDaemon::Run() {
  {
    std::lock_guard<std::mutex> host(host_mutex_);
    // Held for the daemon's life: a manual `wirewarp-agent apply` cannot race it.
    Status locked = environment_.state->Lock();
    if (!locked.ok()) {
      LogEvent("start-failed", {{"error", locked.message()}});
      return DaemonExit::kFailed;
    }
  }
  LogEvent("start", {{"agent", options_.agent_name}, {"version", options_.version}});
  Restore();  // resolves endpoint names too
  next_endpoint_check_ = environment_.now() + options_.resolve_interval.count();
  if (options_.report_delivery == ReportDelivery::kBackgroundThread) {
    reporter_ = std::thread([this] { ReporterLoop(); });
  }
  DaemonExit exit = PollLoop();
  Stop();
  if (reporter_.joinable()) reporter_.join();
  LogEvent("exit", {{"reason", exit == DaemonExit::kStopped   ? "stopped"
                               : exit == DaemonExit::kRevoked ? "revoked"
                                                              : "failed"}});
  return exit;
}

void AgentDaemon::Restore() {
  std::lock_guard<std::mutex> host(host_mutex_);
  Result<ApplyReport> report = RestoreLastApplied(*environment_.runner, *environment_.state, options_.apply);
  if (report.status().code() == StatusCode::kNotFound) {
    LogEvent("restore", {{"outcome", "nothing-applied-yet"}});
    return;
  }
  std::lock_guard<std::mutex> status(status_mutex_);
  if (!report.ok()) {
    converged_ = false;
    last_error_ = report.status().message();
    LogEvent("restore", {{"outcome", "failed"}, {"error", last_error_}});
    return;
  }
  converged_ = report->converged;
  last_error_ = report->error;
  if (report->converged) {
    LogEvent("restore", {{"outcome", "converged"}, {"steps", std::to_string(report->steps.size())}});
  } else {
    LogEvent("restore", {{"outcome", "not-converged"}, {"error", report->error}});
  }
}

Result<std::unique_ptr<ControlPlaneClient>> AgentDaemon::MakeClient() {
  std::lock_guard<std::mutex> lock(credentials_mutex_);
  return environment_.make_client();
}

DaemonExit AgentDaemon::PollLoop() {
  const std::string path = "/v1/agents/" + options_.agent_name + "/plan";
  while (!stopping()) {
    MaybeRenewCertificate();
    MaybeRefreshEndpoints();
    if (!poll_client_) {
      Result<std::unique_ptr<ControlPlaneClient>> client = MakeClient();
      if (!client.ok()) {
        LogEvent("client-failed", {{"error", client.status().message()}});
        if (client.status().code() == StatusCode::kFailedPrecondition) return DaemonExit::kFailed;
        Sleep(backoff_.Next());
        continue;
      }
      poll_client_ = std::move(client).value();
    }
    std::string query = path + "?after=" + std::to_string(after_generation_) +
                        "&wait=" + std::to_string(options_.poll_wait.count());
    Result<ApiResponse> response = poll_client_->Get(query, options_.poll_wait + kPollMargin);
    if (stopping()) break;
    if (!response.ok()) {
      std::chrono::milliseconds delay = backoff_.Next();
      LogEvent("poll-failed", {{"error", response.status().message()}, {"retry_ms", std::to_string(delay.count())}});
      Sleep(delay);
      continue;
    }
    switch (response->status) {
      case 200:
        backoff_.Reset();
        ApplyPlan(response->body);
        break;
      case 204:
        backoff_.Reset();
        break;
      case 401:
        LogEvent("revoked", {{"message", "the reconciler refused this agent's certificate (agent deleted or "
                                         "certificate revoked); the tunnel is left as it is"},
                             {"error", ApiErrorMessage(*response)}});
        return DaemonExit::kRevoked;
      default: {
        std::chrono::milliseconds delay = backoff_.Next();
        LogEvent("poll-refused", {{"status", std::to_string(response->status)},
                                  {"error", ApiErrorMessage(*response)},
                                  {"retry_ms", std::to_string(delay.count())}});
        Sleep(delay);
      }
    }
  }
  return DaemonExit::kStopped;
}

void AgentDaemon::ApplyPlan(const std::string& body) {
  uint64_t generation = 0;
  std::string desired_json;
  std::string plan_json;  // empty: a reconciler that does not push plans
  try {
    nlohmann::json parsed = nlohmann::json::parse(body);
    generation = parsed.at("generation").get<uint64_t>();
    desired_json = parsed.at("desired").dump();
    if (auto plan = parsed.find("plan"); plan != parsed.end() && !plan->is_null()) plan_json = plan->dump();
  } catch (const std::exception&) {
    std::chrono::milliseconds delay = backoff_.Next();
    LogEvent("plan-invalid", {{"error", "the plan answer is not {generation, desired}"}, {"retry_ms", std::to_string(delay.count())}});
    Sleep(delay);
    return;
  }
  // Never ask for this generation again, also when it cannot be applied: the reconciler
  // answers a failure with a newer generation (a retry or a newer revision). An answer below
  // what was asked comes from a server that numbers anew (restored from a backup, a new data
  // directory): follow its numbering, or every later poll would wait for a number it never reaches.
  after_generation_ = generation;
  Result<ApplyReport> report = [&]() -> Result<ApplyReport> {
    WW_ASSIGN_OR_RETURN(AgentConfig desired, AgentConfigFromJson(desired_json));
    // The pushed plan is what ran in previews and the status; it runs only if this host's
    // fresh observation plans the same (ApplyConfig), so what runs is what was shown.
    std::optional<Plan> pushed;
    if (!plan_json.empty()) {
      Result<Plan> plan = PlanFromJson(plan_json);
      if (!plan.ok()) return plan.status().WithContext("the pushed plan of generation " + std::to_string(generation));
      pushed = std::move(plan).value();
    }
    std::lock_guard<std::mutex> host(host_mutex_);
    latest_desired_ = desired;
    return ApplyConfig(*environment_.runner, *environment_.state, desired, options_.apply, desired_json,
                       pushed ? &*pushed : nullptr);
  }();
  {
    std::lock_guard<std::mutex> status(status_mutex_);
    applied_generation_ = generation;
    converged_ = report.ok() && report->converged;
    last_error_ = report.ok() ? report->error : report.status().message();
    stale_plan_ = report.ok() && report->plan_source == PlanSource::kPushedStale && !report->converged;
    if (report.ok()) {
      LogEvent("apply", {{"generation", std::to_string(generation)},
                         {"outcome", stale_plan_ ? "stale-plan" : Describe(*report)},
                         {"commands", std::to_string(report->commands.size())},
                         {"error", report->error}});
    } else {
      LogEvent("apply", {{"generation", std::to_string(generation)}, {"outcome", "failed"}, {"error", last_error_}});
    }
  }
  RequestReport();
}

void AgentDaemon::MaybeRenewCertificate() {
  std::lock_guard<std::mutex> lock(credentials_mutex_);
  Result<std::optional<std::string>> certificate = environment_.state->ReadFile(kAgentTlsCertificateFile, 64 * 1024);
  if (!certificate.ok() || !*certificate) return;  // the client factory reports missing files
  Result<CertificateValidity> validity = ReadCertificateValidity(**certificate);
  const int64_t now = environment_.now();
  if (!validity.ok() || !RenewalDue(*validity, now) || now < next_renewal_attempt_) return;
  if (!poll_client_) {
    Result<std::unique_ptr<ControlPlaneClient>> client = environment_.make_client();
    if (!client.ok()) return;
    poll_client_ = std::move(client).value();
  }
  Result<RenewalOutcome> renewed = RenewCertificate(*poll_client_, *environment_.state, options_.agent_name);
  if (!renewed.ok()) {
    next_renewal_attempt_ = now + kRenewalRetryDelay.count();
    LogEvent("renew-failed",
             {{"error", renewed.status().message()}, {"retry_s", std::to_string(kRenewalRetryDelay.count())}});
    return;
  }
  if (renewed->verdict == RenewalVerdict::kRateLimited) {
    // The current certificate keeps working; ask again when the reconciler said.
    next_renewal_attempt_ = now + renewed->retry_after.count();
    LogEvent("renew-deferred", {{"retry_s", std::to_string(renewed->retry_after.count())}});
    return;
  }
  poll_client_.reset();  // the next call dials with the new certificate
  ++credentials_epoch_;
  LogEvent("renewed", {{"expired_at", std::to_string(validity->not_after)}});
}

// The VPS's address may change under its name: when a name of the last applied config now
// resolves to another address than the one set, the config is applied again (ApplyConfig
// sets the moved peers; it resolves the names once more itself).
void AgentDaemon::MaybeRefreshEndpoints() {
  EndpointResolver* resolver = options_.apply.resolver;
  if (resolver == nullptr) return;
  const int64_t now = environment_.now();
  if (now < next_endpoint_check_) return;
  next_endpoint_check_ = now + options_.resolve_interval.count();
  Result<ApplyReport> report = Status::Internal("not applied");
  {
    std::lock_guard<std::mutex> host(host_mutex_);
    Result<std::optional<AgentConfig>> last = environment_.state->LoadLastApplied();
    if (!last.ok() || !*last) return;
    std::vector<std::string> warnings;
    std::vector<std::string> moved = MovedEndpoints(*resolver, *environment_.state, **last, warnings);
    for (const std::string& warning : warnings) LogEvent("resolve-failed", {{"error", warning}});
    if (moved.empty()) return;
    for (const std::string& endpoint : moved) LogEvent("endpoint-moved", {{"endpoint", endpoint}});
    report = ApplyConfig(*environment_.runner, *environment_.state, **last, options_.apply);
  }
  {
    std::lock_guard<std::mutex> status(status_mutex_);
    converged_ = report.ok() && report->converged;
    last_error_ = report.ok() ? report->error : report.status().message();
    LogEvent("endpoint-refresh", {{"outcome", report.ok() ? Describe(*report) : "failed"},
                                  {"commands", report.ok() ? std::to_string(report->commands.size()) : "0"},
                                  {"error", last_error_}});
  }
  RequestReport();
}

void AgentDaemon::RequestReport() {
  if (options_.report_delivery == ReportDelivery::kInline) {
    SendReport();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(signal_mutex_);
    report_requested_ = true;
  }
  signal_.notify_all();
}

AgentReport AgentDaemon::BuildReport() {
  AgentReport report;
  report.version = options_.version;
  report.hostname = options_.hostname;
  std::string observe_error;
  {
    std::lock_guard<std::mutex> host(host_mutex_);
    Result<ObservedState> observed =
        ObserveOwned(*environment_.runner, *environment_.state, latest_desired_ ? &*latest_desired_ : nullptr);
    if (observed.ok()) {
      report.observed = std::move(observed).value();
    } else {
      observe_error = "observing the host failed: " + observed.status().message();
    }
  }
  report.peers = PeerStatsFrom(report.observed);
  Result<SystemMetrics> system = environment_.sample_system();
  if (system.ok()) report.system = *system;
  std::lock_guard<std::mutex> status(status_mutex_);
  report.generation = applied_generation_;
  report.converged = converged_ && observe_error.empty();
  report.error = last_error_.empty() ? observe_error : last_error_;
  report.stale_plan = stale_plan_ ? StalePlan::kYes : StalePlan::kNo;
  return report;
}

void AgentDaemon::SendReport() {
  uint64_t epoch = credentials_epoch_.load();
  if (!report_client_ || report_client_epoch_ != epoch) {
    Result<std::unique_ptr<ControlPlaneClient>> client = MakeClient();
    if (!client.ok()) {
      LogEvent("report-failed", {{"error", client.status().message()}});
      return;
    }
    report_client_ = std::move(client).value();
    report_client_epoch_ = epoch;
  }
  AgentReport report = BuildReport();
  Result<ApiResponse> response =
      report_client_->Post("/v1/agents/" + options_.agent_name + "/report", AgentReportToJson(report), kReportTimeout);
  if (!response.ok()) {
    LogEvent("report-failed", {{"error", response.status().message()}});
  } else if (response->status != 204 && response->status != 200) {
    LogEvent("report-refused", {{"status", std::to_string(response->status)}, {"error", ApiErrorMessage(*response)}});
  } else {
    LogEvent("reported", {{"generation", std::to_string(report.generation)},
                          {"converged", report.converged ? "true" : "false"}});
  }
}

void AgentDaemon::ReporterLoop() {
  // The first report goes out at once: it tells the reconciler what was restored from disk.
  // After that, a request (an apply) and the interval passing both mean: report now.
  while (!stopping()) {
    SendReport();
    std::unique_lock<std::mutex> lock(signal_mutex_);
    signal_.wait_for(lock, options_.report_interval, [this] { return stopping() || report_requested_; });
    report_requested_ = false;
  }
}

}  // namespace ww::agent
