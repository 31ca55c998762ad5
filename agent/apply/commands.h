#pragma once
// ToCommands: turns a Plan into the exact host commands that carry it out (wg, ip,
// iptables-restore, sysctl, wireguard-go), as argv vectors with optional stdin. Pure: no
// process is started here, so tests assert exact lines and --dry-run prints them. Secrets
// never appear: the private key is passed as a file path. Text from the plan is checked
// before it reaches argv or a restore script (no control characters, no option-like names).

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "agent/system/command_runner.h"
#include "schema/observed_state.h"
#include "schema/plan.h"
#include "schema/result.h"

namespace ww::agent {

struct CommandContext {
  // The file `wg set IF private-key FILE` reads: StateDir::WireguardKeyPath().
  std::string private_key_path;
  // How CreateInterface makes a device. The caller decides (kernel when `ip link add ...
  // type wireguard` works, else userspace); kUnknown is treated as kKernel.
  WireguardImplementation implementation = WireguardImplementation::kKernel;
  // Given to every command. Default: 15 s.
  std::chrono::milliseconds timeout{15000};
  // Peer endpoints the agent resolved, "vps.example.net:51820" -> "203.0.113.7:51820": `wg
  // set` gets the address. An endpoint not listed is passed as it is (wg resolves it).
  std::map<std::string, std::string> resolved_endpoints;
};

// Commands that together carry out some steps of a plan. Run the commands in order and
// stop at the first failure; the steps then count as failed (or, before the failing
// command, partly done).
struct CommandBatch {
  std::vector<size_t> steps;  // indexes into Plan::steps, ascending
  std::vector<Command> commands;
  friend bool operator==(const CommandBatch&, const CommandBatch&) = default;
};

// Batches in the order of the plan's steps (a batch sits where its first step is).
//  - Interface, route, rule and sysctl steps: one batch per step.
//  - Peers: every UpsertPeer/RemovePeer of one interface, wherever the plan puts it, goes
//    into ONE `wg set` (placed at that interface's first peer step), so a peer change never
//    restarts the interface and costs one call per apply.
//  - Firewall: a run of consecutive firewall steps becomes one `iptables-restore --noflush`
//    per table (tables in order of first appearance); each table commits atomically.
// kInvalidArgument naming the step when its text is unsafe to pass on.
Result<std::vector<CommandBatch>> ToCommandBatches(const Plan& plan, const CommandContext& context);

// ToCommandBatches' check alone: kInvalidArgument naming the first step whose text is
// unsafe to pass on, without building any command (a config's safety check before any
// command runs costs this, not a full set of restore scripts).
Status CheckPlanIsSafe(const Plan& plan, const CommandContext& context);

// The commands of ToCommandBatches, flattened.
Result<std::vector<Command>> ToCommands(const Plan& plan, const CommandContext& context);

// The command that creates WireGuard interface `name`: `ip link add NAME type wireguard`
// for the kernel, `wireguard-go NAME` (which daemonizes) for userspace. Lets the caller
// try the kernel first and fall back.
Command CreateInterfaceCommand(const std::string& name, WireguardImplementation implementation);

}  // namespace ww::agent
