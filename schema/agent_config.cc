#include "schema/agent_config.h"

#include "schema/observed_state.h"

namespace ww {

std::string_view InterfaceRoleName(InterfaceRole role) {
  return role == InterfaceRole::kServer ? "server" : "client";
}

std::string_view FirewallTableName(FirewallTable table) {
  switch (table) {
    case FirewallTable::kFilter: return "filter";
    case FirewallTable::kNat: return "nat";
    case FirewallTable::kMangle: return "mangle";
  }
  return "filter";
}

std::string_view WireguardImplementationName(WireguardImplementation implementation) {
  switch (implementation) {
    case WireguardImplementation::kUnknown: return "unknown";
    case WireguardImplementation::kKernel: return "kernel";
    case WireguardImplementation::kUserspace: return "userspace";
  }
  return "unknown";
}

}  // namespace ww
