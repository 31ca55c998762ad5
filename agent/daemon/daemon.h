#pragma once
// `wirewarp-agent run`: restore the last applied config from disk (the tunnel is up before
// any network call), then long-poll the reconciler for plans and apply each one, report
// after every apply and every 30 s, back off 1 s .. 60 s with +-25 % jitter when the
// reconciler is unreachable, renew the client certificate when a third of its life is left
// (after a failed try, again in 5 min; after a 429, when its Retry-After says),
// resolve endpoint host names again every resolve_interval (re-applying the last config
// when one moved, also while the reconciler is down), and exit 3 on 401 (deleted or revoked) without touching the tunnel. Every outside piece
// (HTTP clients, command runner, sleeping, randomness, clock, host figures) is injected, so
// tests drive the loop without waiting. Run() on one thread; Stop() from any thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "agent/agent.h"
#include "agent/daemon/backoff.h"
#include "agent/daemon/control_plane.h"
#include "agent/daemon/report.h"
#include "agent/daemon/system_metrics.h"
#include "agent/state/state_dir.h"
#include "agent/system/command_runner.h"

namespace ww::agent {

inline constexpr std::string_view kAgentVersion = "0.1.0";

// Where reports are sent from. kInline sends them on the polling thread right after each
// apply and skips the periodic ones (deterministic tests); kBackgroundThread is the daemon.
enum class ReportDelivery { kBackgroundThread, kInline };

enum class DaemonExit {
  kStopped,  // Stop() was called
  kRevoked,  // the reconciler answered 401: agent deleted or certificate revoked
  kFailed,   // cannot run at all (state directory locked, no credentials)
};

// 0, 3 and 1: the process exit code for each outcome.
int DaemonExitCode(DaemonExit exit);

struct DaemonOptions {
  std::string agent_name;
  std::string version{kAgentVersion};
  std::string hostname;
  std::chrono::seconds poll_wait{25};        // Default: 25 s (the reconciler caps it at 30)
  std::chrono::seconds report_interval{30};  // Default: 30 s
  // How often peer endpoints given by host name are resolved again (with apply.resolver);
  // a new address re-applies the last config. 4 min, so a long-poll in flight never
  // stretches it past 5.
  std::chrono::seconds resolve_interval{240};
  BackoffPolicy backoff;
  AgentOptions apply;
  ReportDelivery report_delivery = ReportDelivery::kBackgroundThread;
};

struct DaemonEnvironment {
  CommandRunner* runner = nullptr;  // the daemon never uses it from two threads at once
  StateDir* state = nullptr;
  ControlPlaneClientFactory make_client;           // called once per thread and after renewal
  std::function<double()> random;                  // uniform in [0, 1), for jitter
  // Waits `delay`; empty: waits on the daemon's stop signal (Stop() cuts it short).
  std::function<void(std::chrono::milliseconds)> sleep;
  std::function<int64_t()> now;                    // unix seconds, for renewal
  std::function<Result<SystemMetrics>()> sample_system;
  std::ostream* log = nullptr;                     // one key=value line per event
};

class AgentDaemon {
 public:
  // REQUIRES: every member of `environment` but `sleep` is set and outlives the daemon.
  AgentDaemon(DaemonOptions options, DaemonEnvironment environment);
  ~AgentDaemon();
  AgentDaemon(const AgentDaemon&) = delete;
  AgentDaemon& operator=(const AgentDaemon&) = delete;

  DaemonExit Run();
  // Ends Run() at the next step; a poll in flight finishes (or is abandoned by the caller).
  void Stop();
  // Holds off applies and observations until the lock is released: the caller may then
  // exit the process without leaving a pass half done.
  std::unique_lock<std::mutex> PauseHostChanges();

  // The body of the next report (observes the host). Public for tests.
  AgentReport BuildReport();

 private:
  void LogEvent(std::string_view event, std::vector<std::pair<std::string_view, std::string>> fields);
  void Sleep(std::chrono::milliseconds delay);
  void Restore();
  DaemonExit PollLoop();
  void ApplyPlan(const std::string& body);
  void MaybeRenewCertificate();
  void MaybeRefreshEndpoints();
  void RequestReport();
  void SendReport();
  void ReporterLoop();
  Result<std::unique_ptr<ControlPlaneClient>> MakeClient();
  bool stopping() const { return stopping_.load(); }

  DaemonOptions options_;
  DaemonEnvironment environment_;
  Backoff backoff_;

  std::mutex host_mutex_;         // runner and state: applies, observations
  std::mutex credentials_mutex_;  // TLS files: client creation and renewal
  std::mutex log_mutex_;
  std::mutex status_mutex_;
  uint64_t applied_generation_ = 0;  // GUARDED_BY(status_mutex_)
  bool converged_ = false;           // GUARDED_BY(status_mutex_)
  std::string last_error_;           // GUARDED_BY(status_mutex_)
  bool stale_plan_ = false;          // GUARDED_BY(status_mutex_); the applied generation's plan was stale
  // The config of the latest plan answer: reports observe its scope (ObserveOwned).
  std::optional<AgentConfig> latest_desired_;  // GUARDED_BY(host_mutex_)

  std::mutex signal_mutex_;
  std::condition_variable signal_;
  bool report_requested_ = false;  // GUARDED_BY(signal_mutex_)
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> credentials_epoch_{0};  // bumped by each renewal

  uint64_t after_generation_ = 0;                    // polling thread only
  int64_t next_endpoint_check_ = 0;                  // polling thread only; unix seconds
  int64_t next_renewal_attempt_ = 0;                 // polling thread only; unix seconds
  std::unique_ptr<ControlPlaneClient> poll_client_;  // polling thread only
  std::unique_ptr<ControlPlaneClient> report_client_;  // reporting thread only
  uint64_t report_client_epoch_ = 0;                   // reporting thread only
  std::thread reporter_;
};

}  // namespace ww::agent
