#include "schema/templates.h"

#include <algorithm>

namespace ww {

namespace {

ServiceTemplate Builtin(std::string_view name, std::vector<PortSet> ports) {
  ServiceTemplate service;
  service.metadata.name = std::string(name);
  service.spec.ports = std::move(ports);
  return service;
}

std::vector<ServiceTemplate> BuildBuiltins() {
  constexpr Protocol kTcp = Protocol::kTcp;
  constexpr Protocol kUdp = Protocol::kUdp;
  return {
      Builtin("minecraft", {{kTcp, {{25565, 25565}}}}),
      Builtin("minecraft-bedrock", {{kUdp, {{19132, 19132}}}}),
      Builtin("dayz", {{kUdp, {{2302, 2305}}}, {kUdp, {{27016, 27016}}}}),
      Builtin("valheim", {{kUdp, {{2456, 2458}}}}),
      Builtin("terraria", {{kTcp, {{7777, 7777}}}}),
      Builtin("plex", {{kTcp, {{32400, 32400}}}}),
      Builtin("web", {{kTcp, {{80, 80}}}, {kTcp, {{443, 443}}}}),
      Builtin("ssh", {{kTcp, {{22, 22}}}}),
  };
}

const ServiceTemplate* FindBuiltin(std::string_view name) {
  for (const ServiceTemplate& builtin : BuiltinTemplates()) {
    if (builtin.metadata.name == name) return &builtin;
  }
  return nullptr;
}

std::vector<PortSet> PortSetsOf(const PortForward& forward, const ServiceTemplate* resolved) {
  if (!forward.spec.template_name) {
    return {PortSet{forward.spec.protocol.value_or(Protocol::kTcp), forward.spec.ports}};
  }
  if (resolved == nullptr) return {};
  return resolved->spec.ports;
}

}  // namespace

const std::vector<ServiceTemplate>& BuiltinTemplates() {
  static const std::vector<ServiceTemplate> builtins = BuildBuiltins();
  return builtins;
}

const ServiceTemplate* FindTemplate(const Fleet& fleet, std::string_view name) {
  for (const ServiceTemplate& user : fleet.templates) {
    if (user.metadata.name == name) return &user;
  }
  return FindBuiltin(name);
}

std::vector<PortSet> ForwardPortSets(const Fleet& fleet, const PortForward& forward) {
  const ServiceTemplate* resolved =
      forward.spec.template_name ? FindTemplate(fleet, *forward.spec.template_name) : nullptr;
  return PortSetsOf(forward, resolved);
}

TemplateIndex::TemplateIndex(const Fleet& fleet) {
  for (const ServiceTemplate& builtin : BuiltinTemplates()) by_name_.emplace(builtin.metadata.name, &builtin);
  // A user template of a built-in's name wins (validation reports the clash); the first of
  // several user templates of one name wins, as in FindTemplate.
  std::unordered_map<std::string_view, const ServiceTemplate*> users;
  for (const ServiceTemplate& user : fleet.templates) users.emplace(user.metadata.name, &user);
  for (const auto& [name, user] : users) by_name_[name] = user;
}

const ServiceTemplate* TemplateIndex::Find(std::string_view name) const {
  auto found = by_name_.find(name);
  return found == by_name_.end() ? nullptr : found->second;
}

std::vector<PortSet> ForwardPortSets(const TemplateIndex& templates, const PortForward& forward) {
  const ServiceTemplate* resolved = forward.spec.template_name ? templates.Find(*forward.spec.template_name) : nullptr;
  return PortSetsOf(forward, resolved);
}

std::string DescribePortSets(const std::vector<PortSet>& sets) {
  std::string out;
  for (const PortSet& set : sets) {
    if (!out.empty()) out += ", ";
    out += std::string(ProtocolName(set.protocol)) + " " + FormatPortList(set.ranges);
  }
  return out;
}

PortSummary SummarizePortSets(const std::vector<PortSet>& sets) {
  std::vector<PortSet> merged;  // one per protocol, in order of first appearance
  for (const PortSet& set : sets) {
    auto same = std::find_if(merged.begin(), merged.end(),
                             [&](const PortSet& candidate) { return candidate.protocol == set.protocol; });
    if (same == merged.end()) {
      merged.push_back(set);
    } else {
      same->ranges.insert(same->ranges.end(), set.ranges.begin(), set.ranges.end());
    }
  }
  for (PortSet& set : merged) std::sort(set.ranges.begin(), set.ranges.end());
  if (merged.size() == 1) return {std::string(ProtocolName(merged.front().protocol)), FormatPortList(merged.front().ranges)};
  return {"mixed", DescribePortSets(merged)};
}

}  // namespace ww
