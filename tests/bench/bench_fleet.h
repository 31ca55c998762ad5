#pragma once
// The fleet the control-plane bench uploads: one tunnel served by agent-00000 with every
// other agent as a Peer, so a change of the tunnel's MTU gives every agent a new plan.

#include <cstdint>
#include <string>

#include "reconciler/client/api_client.h"
#include "schema/result.h"

namespace ww::bench {

// "agent-00042".
std::string AgentName(int index);

// The YAML of a fleet of agents 0 .. agents-1 (agent 0 serves the tunnel).
std::string FleetYaml(int agents, int mtu);

struct UploadResult {
  int64_t revision = 0;
  double milliseconds = 0;  // the POST's round trip
};

// POST /v1/revisions with the fleet as one document; kInternal unless it was accepted as a
// new revision.
Result<UploadResult> UploadFleet(ApiClient& admin, int agents, int mtu);

}  // namespace ww::bench
