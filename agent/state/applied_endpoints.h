#pragma once
// The peer endpoints the agent last set, as the config named them and as they resolved
// (endpoints.json in the state directory). WireGuard reports only an address, so this is how
// an observation knows that "vps.example.net:51820" is what was applied (plan.h compares a
// desired host name with it) and what address the name had then (a new address means the
// VPS moved and the peer must be set again).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/state/state_dir.h"
#include "schema/net.h"
#include "schema/observed_state.h"
#include "schema/result.h"

namespace ww::agent {

inline constexpr std::string_view kAppliedEndpointsFile = "endpoints.json";

struct AppliedEndpoint {
  std::string interface;
  WireguardKey public_key;
  std::string endpoint;  // as the config gave it: "vps.example.net:51820"
  std::string address;   // what it resolved to when set: "203.0.113.7:51820"; "" when unknown
  friend bool operator==(const AppliedEndpoint&, const AppliedEndpoint&) = default;
};

using AppliedEndpoints = std::vector<AppliedEndpoint>;

std::string AppliedEndpointsToJson(const AppliedEndpoints& endpoints);
// kInvalidArgument naming what is wrong.
Result<AppliedEndpoints> AppliedEndpointsFromJson(std::string_view text);

// Empty when there is no record or it cannot be read: a lost record only costs one
// `wg set` that sets the same endpoint again.
AppliedEndpoints LoadAppliedEndpoints(const StateDir& state);
Status SaveAppliedEndpoints(StateDir& state, const AppliedEndpoints& endpoints);

const AppliedEndpoint* FindAppliedEndpoint(const AppliedEndpoints& endpoints, std::string_view interface,
                                           const WireguardKey& key);

// Sets ObservedPeer::applied_endpoint of every observed peer the record knows.
void FillAppliedEndpoints(const AppliedEndpoints& endpoints, ObservedState& observed);

}  // namespace ww::agent
