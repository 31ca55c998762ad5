#pragma once
// One wirewarp-reconciler run by the bench as a separate process, with what the bench reads
// of it from /proc (RSS, peak RSS, threads, CPU time). The process is registered with
// BenchCleanup and dies with the bench (PR_SET_PDEATHSIG), so an interrupted or failed run
// leaves no reconciler behind. Not thread-safe except Sample().

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "schema/result.h"

namespace ww::bench {

struct ReconcilerLaunch {
  std::string binary;
  std::string data_dir;
  int port = 0;                     // the API on 127.0.0.1
  std::optional<int> status_port;   // the status listener on 127.0.0.1; none: --status-listen off
  std::vector<std::string> flags;   // more flags, e.g. {"--worker-threads", "1100"}
  std::string log_path;             // its stdout and stderr
};

// What admin.wwctl.yaml of the data directory holds, for the bench's own API clients.
struct AdminAccess {
  std::string url;  // https://127.0.0.1:PORT
  std::string ca_pem;
  std::string ca_pin;
  std::string certificate_pem;
  std::string key_pem;
};

struct ProcessSample {
  long rss_kb = 0;
  long peak_rss_kb = 0;  // since the start or the last ResetPeak()
  long threads = 0;
  double cpu_seconds = 0;  // user + system
};

class ReconcilerProcess {
 public:
  // Starts the reconciler and waits (up to `timeout`) until GET /v1/status answers 200 with
  // the admin certificate of its data directory. REQUIRES: called on the main thread (the
  // process is killed when the thread that started it ends).
  static Result<std::unique_ptr<ReconcilerProcess>> Start(ReconcilerLaunch launch,
                                                          std::chrono::seconds timeout = std::chrono::seconds(120));
  ~ReconcilerProcess();  // Stop()s
  ReconcilerProcess(const ReconcilerProcess&) = delete;
  ReconcilerProcess& operator=(const ReconcilerProcess&) = delete;

  // SIGTERM, then SIGKILL after `grace`. Idempotent. kInternal when it had to be killed or
  // exited non-zero (with the log's tail).
  Status Stop(std::chrono::seconds grace = std::chrono::seconds(30));

  pid_t pid() const { return pid_; }
  const AdminAccess& admin() const { return admin_; }
  const ReconcilerLaunch& launch() const { return launch_; }
  // The last lines of its log, for error messages.
  std::string LogTail(std::size_t max_bytes = 2000) const;

  ProcessSample Sample() const;
  // Resets the peak RSS to the current RSS (/proc/PID/clear_refs), so that the peak of what
  // follows can be read. kUnavailable where the kernel does not allow it.
  Status ResetPeak() const;

 private:
  ReconcilerProcess() = default;
  ReconcilerLaunch launch_;
  pid_t pid_ = -1;
  AdminAccess admin_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreeLocalPort();

// `BINARY --help`: the reconciler's flags, so the bench passes only flags it knows (the
// front end's flags changed with issue 10).
std::string ReconcilerHelp(const std::string& binary);

}  // namespace ww::bench
