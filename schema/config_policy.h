#pragma once
// The agent's policy: a config is accepted only if render (render.h) of this version could
// have produced it. The agent runs it on every config before planning, whether the config
// came from the reconciler or from its own disk, so a compromised or tampered server cannot
// make it set an arbitrary sysctl (kernel.core_pattern runs a program as root), route the
// host's default traffic into a tunnel, write into the kernel's local table, open INPUT or
// DNAT the host's own outgoing connections. What it checks:
//  - sysctls: net.ipv4.ip_forward=1 and net.ipv4.conf.IF.rp_filter=2 of its client interfaces;
//  - interfaces: MTU 1280-9000, fwmark 0 on servers and in WireWarp's mark range on clients;
//  - routes: no gateway; in the main table only a server interface's peer LANs (prefix /8 or
//    longer, never a default route); in a client table (52000-52999) only its default route;
//  - ip rules: only at render's priorities, each with the shape render gives it;
//  - firewall: only the owned chains of kOwnedChains, every rule in the closed grammar of
//    firewall_rule.h and printing back to the same text, each chain only with its targets;
//    DNAT only from outside the tunnel to its tunnel addresses and peer LANs; INPUT accepts
//    only udp to a server interface's listen port; jumps only as kOwnedChains lists them.
// Pure: no I/O.

#include "schema/agent_config.h"
#include "schema/result.h"

namespace ww {

// Lans (and so main-table routes and rule selectors) are /8 or longer (validate.h).
inline constexpr int kMinLanPrefix = 8;

// kInvalidArgument naming the field ("sysctls[0].key"),
// quoting the value and saying why, for the first violation found.
Status CheckConfigPolicy(const AgentConfig& config);

}  // namespace ww
