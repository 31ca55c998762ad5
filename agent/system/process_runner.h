#pragma once
// ProcessRunner: the real CommandRunner. Spawns argv directly (posix_spawn, never a shell)
// with a clean environment (PATH and LC_ALL=C only, so tool output is parseable), pipes
// for stdin/stdout/stderr driven by poll() (no deadlock on multi-megabyte outputs), and a
// timeout that kills the process group (SIGTERM, then SIGKILL). Start() spawns and drives
// each process from a thread of its own, so several run at once. One runner may be used from
// one thread at a time; separate runners may run concurrently.

#include <chrono>
#include <string>

#include "agent/system/command_runner.h"

namespace ww::agent {

inline constexpr const char* kDefaultSearchPath = "/usr/sbin:/usr/bin:/sbin:/bin";

struct ProcessRunnerOptions {
  // Where a bare argv[0] is looked up; also the child's PATH. Default: kDefaultSearchPath.
  std::string search_path = kDefaultSearchPath;
  // How long a timed-out process gets between SIGTERM and SIGKILL. Default: 1 s.
  std::chrono::milliseconds kill_grace{1000};
};

class ProcessRunner : public CommandRunner {
 public:
  explicit ProcessRunner(ProcessRunnerOptions options = {});

  // kUnavailable naming argv[0] when the program is missing, cannot be started or times
  // out (it is then killed and its partial output dropped). Exit code 128+N when the
  // process died of signal N.
  Result<CommandOutput> Run(const Command& command) override;
  // Returns at once; a thread spawns the process and collects its output until Wait().
  std::unique_ptr<RunningCommand> Start(const Command& command) override;
  // The kernel's, over netlink (for the namespace this process runs in).
  FirewallGeneration* firewall_generation() override { return &firewall_generation_; }

 private:
  ProcessRunnerOptions options_;
  NetlinkFirewallGeneration firewall_generation_{options_.search_path};
};

}  // namespace ww::agent
