#include "agent/state/applied_endpoints.h"

#include <exception>

#include <nlohmann/json.hpp>

namespace ww::agent {

namespace {
constexpr int kFormatVersion = 1;
constexpr size_t kMaxRecordBytes = 4u << 20;
}  // namespace

std::string AppliedEndpointsToJson(const AppliedEndpoints& endpoints) {
  nlohmann::ordered_json peers = nlohmann::ordered_json::array();
  for (const AppliedEndpoint& entry : endpoints) {
    peers.push_back({{"interface", entry.interface},
                     {"publicKey", entry.public_key.ToBase64()},
                     {"endpoint", entry.endpoint},
                     {"address", entry.address}});
  }
  nlohmann::ordered_json document{{"formatVersion", kFormatVersion}, {"peers", std::move(peers)}};
  return document.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

Result<AppliedEndpoints> AppliedEndpointsFromJson(std::string_view text) {
  // The one adapter for this file's JSON: nlohmann's exceptions stop here.
  try {
    nlohmann::json document = nlohmann::json::parse(text);
    if (document.at("formatVersion").get<int>() != kFormatVersion) {
      return Status::InvalidArgument("unsupported formatVersion in " + std::string(kAppliedEndpointsFile));
    }
    AppliedEndpoints endpoints;
    for (const nlohmann::json& peer : document.at("peers")) {
      AppliedEndpoint entry;
      entry.interface = peer.at("interface").get<std::string>();
      Result<WireguardKey> key = WireguardKey::Parse(peer.at("publicKey").get<std::string>());
      if (!key.ok()) return Status::InvalidArgument(std::string(kAppliedEndpointsFile) + ": " + key.status().message());
      entry.public_key = *key;
      entry.endpoint = peer.at("endpoint").get<std::string>();
      entry.address = peer.at("address").get<std::string>();
      endpoints.push_back(std::move(entry));
    }
    return endpoints;
  } catch (const std::exception& error) {
    return Status::InvalidArgument(std::string(kAppliedEndpointsFile) + ": " + error.what());
  }
}

AppliedEndpoints LoadAppliedEndpoints(const StateDir& state) {
  Result<std::optional<std::string>> text = state.ReadFile(kAppliedEndpointsFile, kMaxRecordBytes);
  if (!text.ok() || !*text) return {};
  Result<AppliedEndpoints> endpoints = AppliedEndpointsFromJson(**text);
  return endpoints.ok() ? std::move(endpoints).value() : AppliedEndpoints{};
}

Status SaveAppliedEndpoints(StateDir& state, const AppliedEndpoints& endpoints) {
  return state.WriteFileAtomically(kAppliedEndpointsFile, AppliedEndpointsToJson(endpoints));
}

const AppliedEndpoint* FindAppliedEndpoint(const AppliedEndpoints& endpoints, std::string_view interface,
                                           const WireguardKey& key) {
  for (const AppliedEndpoint& entry : endpoints) {
    if (entry.interface == interface && entry.public_key == key) return &entry;
  }
  return nullptr;
}

void FillAppliedEndpoints(const AppliedEndpoints& endpoints, ObservedState& observed) {
  if (endpoints.empty()) return;
  for (ObservedInterface& interface : observed.interfaces) {
    for (ObservedPeer& peer : interface.peers) {
      if (const AppliedEndpoint* entry = FindAppliedEndpoint(endpoints, interface.name, peer.public_key)) {
        peer.applied_endpoint = entry->endpoint;
      }
    }
  }
}

}  // namespace ww::agent
