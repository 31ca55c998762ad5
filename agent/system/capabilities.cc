#include "agent/system/capabilities.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ww::agent {
namespace {

// Names of the capabilities Linux 6.x knows, indexed by number (capability(7)).
constexpr const char* kCapabilityNames[] = {
    "cap_chown",          "cap_dac_override",    "cap_dac_read_search", "cap_fowner",
    "cap_fsetid",         "cap_kill",            "cap_setgid",          "cap_setuid",
    "cap_setpcap",        "cap_linux_immutable", "cap_net_bind_service", "cap_net_broadcast",
    "cap_net_admin",      "cap_net_raw",         "cap_ipc_lock",        "cap_ipc_owner",
    "cap_sys_module",     "cap_sys_rawio",       "cap_sys_chroot",      "cap_sys_ptrace",
    "cap_sys_pacct",      "cap_sys_admin",       "cap_sys_boot",        "cap_sys_nice",
    "cap_sys_resource",   "cap_sys_time",        "cap_sys_tty_config",  "cap_mknod",
    "cap_lease",          "cap_audit_write",     "cap_audit_control",   "cap_setfcap",
    "cap_mac_override",   "cap_mac_admin",       "cap_syslog",          "cap_wake_alarm",
    "cap_block_suspend",  "cap_audit_read",      "cap_perfmon",         "cap_bpf",
    "cap_checkpoint_restore"};
constexpr int kKnownCapabilities = sizeof(kCapabilityNames) / sizeof(kCapabilityNames[0]);

// The highest capability number this kernel has (/proc/sys/kernel/cap_last_cap).
int LastCapability() {
  std::ifstream file("/proc/sys/kernel/cap_last_cap");
  int last = CAP_LAST_CAP;
  if (file >> last && last >= 0 && last < 64) return last;
  return CAP_LAST_CAP;
}

Status Errno(const std::string& what) {
  return Status::Internal(what + ": " + std::strerror(errno));
}

}  // namespace

unsigned long long KeptCapabilityMask() {
  return (1ULL << CAP_NET_ADMIN) | (1ULL << CAP_NET_RAW);
}

Status DropCapabilities(CapabilityPolicy policy) {
  if (policy == CapabilityPolicy::kKeep) return Status::Ok();
  const unsigned long long keep = KeptCapabilityMask();
  // The bounding set first: dropping from it needs CAP_SETPCAP, which goes with the capset below.
  for (int capability = 0; capability <= LastCapability(); ++capability) {
    if (keep & (1ULL << capability)) continue;
    if (prctl(PR_CAPBSET_READ, capability, 0, 0, 0) != 1) continue;
    if (prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0) {
      if (errno == EPERM) break;  // no CAP_SETPCAP: not root, the bounding set is not ours to narrow
      return Errno("dropping capability " + std::to_string(capability) + " from the bounding set");
    }
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return Errno("clearing the ambient capabilities");
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return Errno("reading the capabilities");
  // Already narrowed (systemd's CapabilityBoundingSet= and AmbientCapabilities=, whose unit
  // also forbids capset(2) through SystemCallFilter=~@privileged): nothing left to drop.
  const auto within = [keep](unsigned int low, unsigned int high) {
    return high == 0 && (low & ~static_cast<unsigned int>(keep)) == 0;
  };
  const bool narrowed = within(data[0].permitted, data[1].permitted) && within(data[0].effective, data[1].effective) &&
                        within(data[0].inheritable, data[1].inheritable);
  if (narrowed) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Errno("setting no_new_privs");
    return Status::Ok();
  }
  // Keep a bit only where the process has it: capset may not add to the permitted set.
  const unsigned int low = static_cast<unsigned int>(keep);
  data[0].permitted &= low;
  data[0].effective = data[0].permitted;
  data[0].inheritable = 0;
  data[1] = {};
  if (syscall(SYS_capset, &header, data) != 0) return Errno("setting the capabilities");
  // Once every capability but the two is gone, never gain any back (e.g. by exec of a file
  // with file capabilities). Root's exec still gets the bounding set, which now holds two.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Errno("setting no_new_privs");
  return Status::Ok();
}

Result<CapabilityReport> ReadCapabilities() {
  std::ifstream file("/proc/thread-self/status");
  if (!file) return Status::Internal("cannot read /proc/thread-self/status");
  CapabilityReport report;
  std::string line;
  auto hex = [](const std::string& text) { return std::stoull(text, nullptr, 16); };
  while (std::getline(file, line)) {
    std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    if (key == "CapEff") report.effective = hex(value);
    if (key == "CapPrm") report.permitted = hex(value);
    if (key == "CapBnd") report.bounding = hex(value);
  }
  return report;
}

std::string CapabilityNames(unsigned long long mask) {
  std::ostringstream names;
  for (int capability = 0; capability < 64; ++capability) {
    if (!(mask & (1ULL << capability))) continue;
    if (names.tellp() > 0) names << ",";
    if (capability < kKnownCapabilities) {
      names << kCapabilityNames[capability];
    } else {
      names << "cap_" << capability;
    }
  }
  return names.tellp() > 0 ? names.str() : "none";
}

}  // namespace ww::agent
