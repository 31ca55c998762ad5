#pragma once
// The agent daemon's least privilege. It runs as root because it must create interfaces, write
// net.* sysctls and edit iptables; nothing else it does needs more than CAP_NET_ADMIN and
// CAP_NET_RAW. Dropping the rest from the bounding, permitted, effective, inheritable and
// ambient sets also limits every command it spawns (wg, ip, iptables, wireguard-go inherit
// only what the bounding set holds): a compromised daemon or a hostile config cannot load
// kernel modules, trace processes, mount, change file ownership or reboot.

#include <string>

#include "schema/result.h"

namespace ww::agent {

enum class CapabilityPolicy {
  kDrop,  // keep only CAP_NET_ADMIN and CAP_NET_RAW (the default of `wirewarp-agent run`)
  kKeep,  // leave the process as it was started (debugging; `run --capabilities keep`)
};

// What the process holds after DropCapabilities, as /proc/thread-self/status shows it.
struct CapabilityReport {
  unsigned long long effective = 0;
  unsigned long long permitted = 0;
  unsigned long long bounding = 0;

  friend bool operator==(const CapabilityReport&, const CapabilityReport&) = default;
};

// The bit of each capability the daemon keeps (CAP_NET_ADMIN | CAP_NET_RAW).
unsigned long long KeptCapabilityMask();

// Applies `policy` to the whole process (every thread must be started after it, since Linux
// keeps capability sets per thread: call it before the daemon starts its threads). A process
// that lacks a capability to keep (not root, or started with a smaller bounding set) keeps
// what it has of the two. Fails only when the kernel refuses a drop.
Status DropCapabilities(CapabilityPolicy policy);

// The calling thread's sets, from /proc/thread-self/status.
Result<CapabilityReport> ReadCapabilities();

// "cap_net_admin,cap_net_raw"-style names of the bits in `mask` ("none" when empty).
std::string CapabilityNames(unsigned long long mask);

}  // namespace ww::agent
