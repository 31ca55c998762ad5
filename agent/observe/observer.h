#pragma once
// Observe: reads what WireWarp owns on this host into an ObservedState, through a
// CommandRunner and the pure parsers of parsers.h. Read-only: every command it runs is
// Effect::kReadOnly, so --dry-run and "a no-op apply mutates nothing" can be checked on the
// runner. Not thread-safe beyond what the runner allows.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/system/command_runner.h"
#include "schema/agent_config.h"
#include "schema/observed_state.h"
#include "schema/result.h"

namespace ww::agent {

// Where wireguard-go (and other userspace implementations) put their control sockets; one
// directory for all network namespaces.
inline constexpr std::string_view kUserspaceSocketDirectory = "/var/run/wireguard";

struct ObserveRequest {
  std::vector<std::string> interfaces;   // WireGuard interfaces the agent owns, by name
  std::vector<std::string> sysctl_keys;  // "net.ipv4.ip_forward", ...
};

// The interfaces and sysctl keys `config` names. To also see what a previous config left
// behind, append that config's names too (Observe drops duplicates).
ObserveRequest ObserveRequestFor(const AgentConfig& config);

// Starts, in this order (names and keys sorted, duplicates dropped), at once where the
// runner can overlap commands (iptables-save dominates; the rest runs meanwhile):
//   ip -4 -N -j route show table all proto 87
//   ip -4 -N -j rule show
//   iptables-save                                        (all tables; filter, nat and mangle are read)
//   per key:        sysctl -n KEY
// then runs, one after the other:
//   per interface:  ip -d -j address show dev IF
//                   test -S /var/run/wireguard/IF.sock   (skipped when the device is a tun)
//                   wg show IF dump
// A missing interface or sysctl key is absent from the state, not an error. Fails with the
// command's argv and stderr when a tool fails otherwise (an existing device `wg` cannot
// read, iptables-save exiting non-zero) or prints what the parsers refuse. The private key
// in `wg show dump` output is wiped from memory once parsed.
Result<ObservedState> Observe(CommandRunner& runner, const ObserveRequest& request);

// Observe in two halves, so a caller can do its own work while the host's tools run:
// StartObserve starts the commands whose argv is fixed (ip route, ip rule, iptables-save:
// nothing of a config reaches them, so they may run before a config is checked), and
// FinishObserve runs the rest for `request` and collects everything. Destroying a pending
// observation unfinished waits for its commands.
struct PendingObservation {
  struct Started {
    Command command;
    std::unique_ptr<RunningCommand> running;
  };
  Started routes;
  Started rules;
  Started firewall;
};
PendingObservation StartObserve(CommandRunner& runner);
Result<ObservedState> FinishObserve(CommandRunner& runner, PendingObservation pending, const ObserveRequest& request);

}  // namespace ww::agent
