#pragma once
// Enrolls the bench's simulated agents the way real ones enroll: an admin creates a
// single-use token (POST /v1/tokens on its kept-alive connection), then the agent fetches
// the pinned CA, sends a CSR and its WireGuard key (reconciler/client/enroll_client.h).
// Several threads enroll at once.

#include <filesystem>
#include <string>
#include <vector>

#include "schema/result.h"
#include "tests/bench/reconciler_process.h"

namespace ww::bench {

struct AgentIdentity {
  std::string name;
  std::string certificate_pem;
  std::string key_pem;
};

struct EnrollmentRun {
  std::vector<AgentIdentity> agents;  // in index order
  double seconds = 0;                 // wall time of the whole run
};

// Enrolls agents `first` .. `first + count - 1` (AgentName; agent 0 as a server, the others
// as clients) with `threads` threads. `scratch` holds each thread's ca.pem while it enrolls.
Result<EnrollmentRun> EnrollAgents(const AdminAccess& admin, int first, int count, int threads,
                                   const std::filesystem::path& scratch);

}  // namespace ww::bench
