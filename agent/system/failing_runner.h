#pragma once
// FailingRunner: a decorator for tests that fails the Nth mutating command (1-based) instead
// of running it, so a test can check that apply stops at that step, reports it, and that the
// next apply converges. Read-only commands and the other mutating commands pass through.
// Not thread-safe.

#include "agent/system/command_runner.h"

namespace ww::agent {

enum class InjectedFailure {
  kExitCode,     // the command "runs" and exits 1 with a message on stderr
  kUnavailable,  // the command cannot be run at all (like a timeout)
};

class FailingRunner : public CommandRunner {
 public:
  // REQUIRES: fail_at >= 1.
  FailingRunner(CommandRunner& inner, int fail_at, InjectedFailure failure = InjectedFailure::kExitCode)
      : inner_(inner), fail_at_(fail_at), failure_(failure) {}

  Result<CommandOutput> Run(const Command& command) override;
  // Read-only commands start on the wrapped runner; mutating ones run at once (counted).
  std::unique_ptr<RunningCommand> Start(const Command& command) override;
  FirewallGeneration* firewall_generation() override { return inner_.firewall_generation(); }

  // Mutating commands seen so far, the failed one included.
  int mutating_count() const { return mutating_count_; }

 private:
  CommandRunner& inner_;
  int fail_at_;
  InjectedFailure failure_;
  int mutating_count_ = 0;
};

}  // namespace ww::agent
