#include "schema/fleet_diff.h"

#include <algorithm>
#include <map>
#include <set>

#include "schema/resource_fields.h"

namespace ww {

namespace {

// A resource as its set fields: table path -> value as written in YAML. Unset optional
// fields are absent; labels are "metadata.labels.KEY".
using FieldValues = std::map<std::string, std::string, std::less<>>;

void Put(FieldValues& values, std::string_view path, std::string value) { values.emplace(path, std::move(value)); }

template <typename T, typename Format>
void PutOptional(FieldValues& values, std::string_view path, const std::optional<T>& value, Format format) {
  if (value) Put(values, path, format(*value));
}

std::string Boolean(bool value) { return value ? "true" : "false"; }

std::string JoinCidrs(const std::vector<Ipv4Cidr>& networks) {
  std::string text;
  for (const Ipv4Cidr& network : networks) text += (text.empty() ? "" : ", ") + network.ToString();
  return text;
}

std::string JoinAddresses(const std::vector<Ipv4Address>& addresses) {
  std::string text;
  for (const Ipv4Address& address : addresses) text += (text.empty() ? "" : ", ") + address.ToString();
  return text;
}

void PutLabels(FieldValues& values, const ObjectMeta& metadata) {
  for (const auto& [key, value] : metadata.labels) Put(values, "metadata.labels." + key, value);
}

FieldValues Values(const Tunnel& tunnel) {
  FieldValues values;
  PutLabels(values, tunnel.metadata);
  const TunnelSpec& spec = tunnel.spec;
  Put(values, "spec.agent", spec.agent);
  Put(values, "spec.endpoint", spec.endpoint);
  Put(values, "spec.listenPort", std::to_string(spec.listen_port));
  Put(values, "spec.interface", spec.interface);
  Put(values, "spec.network", spec.network.ToString());
  PutOptional(values, "spec.publicInterface", spec.public_interface, [](const std::string& name) { return name; });
  Put(values, "spec.mtu", std::to_string(spec.mtu));
  Put(values, "spec.selfHeal", Boolean(spec.self_heal));
  return values;
}

FieldValues Values(const Peer& peer) {
  FieldValues values;
  PutLabels(values, peer.metadata);
  const PeerSpec& spec = peer.spec;
  Put(values, "spec.tunnel", spec.tunnel);
  PutOptional(values, "spec.agent", spec.agent, [](const std::string& name) { return name; });
  PutOptional(values, "spec.publicKey", spec.public_key, [](const WireguardKey& key) { return key.ToBase64(); });
  PutOptional(values, "spec.address", spec.address, [](const Ipv4Address& address) { return address.ToString(); });
  // The interface only exists on managed peers (a device's own config is not ours).
  if (peer.IsManaged()) Put(values, "spec.interface", spec.interface);
  if (!spec.lan.empty()) Put(values, "spec.lan", JoinCidrs(spec.lan));
  Put(values, "spec.gateway", Boolean(spec.gateway));
  PutOptional(values, "spec.keepalive", spec.keepalive, [](int seconds) { return std::to_string(seconds); });
  if (!spec.dns.empty()) Put(values, "spec.dns", JoinAddresses(spec.dns));
  return values;
}

FieldValues Values(const PortForward& forward) {
  FieldValues values;
  PutLabels(values, forward.metadata);
  const PortForwardSpec& spec = forward.spec;
  Put(values, "spec.tunnel", spec.tunnel);
  PutOptional(values, "spec.protocol", spec.protocol, [](Protocol protocol) { return std::string(ProtocolName(protocol)); });
  if (!spec.ports.empty()) Put(values, "spec.ports", FormatPortList(spec.ports));
  PutOptional(values, "spec.template", spec.template_name, [](const std::string& name) { return name; });
  Put(values, "spec.to.address", spec.to.address.ToString());
  PutOptional(values, "spec.to.port", spec.to.port, [](uint16_t port) { return std::to_string(port); });
  PutOptional(values, "spec.to.peer", spec.to.peer, [](const std::string& name) { return name; });
  if (!spec.description.empty()) Put(values, "spec.description", spec.description);
  if (spec.host_port != HostPort::kRefuse) Put(values, "spec.hostPort", std::string(HostPortName(spec.host_port)));
  return values;
}

FieldValues Values(const ServiceTemplate& service) {
  FieldValues values;
  PutLabels(values, service.metadata);
  // The list as one value: a port set's index means nothing to the reader.
  std::string ports;
  for (const PortSet& set : service.spec.ports) {
    ports += (ports.empty() ? "" : ", ") + std::string(ProtocolName(set.protocol)) + " " + FormatPortList(set.ranges);
  }
  Put(values, "spec.ports", ports);
  return values;
}

// The paths of `values` in the order of the kind's field table (labels where the table has
// metadata.labels, sorted by key); paths the table does not list come last.
std::vector<std::string> OrderedPaths(std::string_view kind, const FieldValues& before, const FieldValues& after) {
  std::set<std::string, std::less<>> pending;
  for (const auto& [path, value] : before) pending.insert(path);
  for (const auto& [path, value] : after) pending.insert(path);
  std::vector<std::string> ordered;
  if (const KindInfo* info = FindKind(kind)) {
    for (const FieldInfo& field : info->fields) {
      std::string prefix = std::string(field.path) + ".";
      for (auto it = pending.begin(); it != pending.end();) {
        bool match = *it == field.path || (field.type == FieldType::kStringMap && it->starts_with(prefix));
        if (!match) {
          ++it;
          continue;
        }
        ordered.push_back(*it);
        it = pending.erase(it);
      }
    }
  }
  ordered.insert(ordered.end(), pending.begin(), pending.end());
  return ordered;
}

std::optional<std::string> Find(const FieldValues& values, const std::string& path) {
  auto found = values.find(path);
  if (found == values.end()) return std::nullopt;
  return found->second;
}

// Fields whose change replaces the thing on the host instead of adjusting it.
bool IsIdentityField(std::string_view kind, std::string_view path) {
  if (kind == kKindTunnel) return path == "spec.agent" || path == "spec.interface" || path == "spec.network";
  if (kind == kKindPeer) {
    return path == "spec.tunnel" || path == "spec.agent" || path == "spec.publicKey" || path == "spec.interface";
  }
  return false;
}

template <typename Resource>
void DiffKind(std::string_view kind, const std::vector<Resource>& before, const std::vector<Resource>& after,
              FleetDiff& diff) {
  std::map<std::string, const Resource*> old_by_name;
  std::map<std::string, const Resource*> new_by_name;
  for (const Resource& resource : before) old_by_name.emplace(resource.metadata.name, &resource);
  for (const Resource& resource : after) new_by_name.emplace(resource.metadata.name, &resource);
  std::set<std::string> names;
  for (const auto& [name, resource] : old_by_name) names.insert(name);
  for (const auto& [name, resource] : new_by_name) names.insert(name);
  const bool removal_is_destructive = kind != kKindServiceTemplate;

  for (const std::string& name : names) {
    auto old_resource = old_by_name.find(name);
    auto new_resource = new_by_name.find(name);
    FieldValues old_values = old_resource == old_by_name.end() ? FieldValues{} : Values(*old_resource->second);
    FieldValues new_values = new_resource == new_by_name.end() ? FieldValues{} : Values(*new_resource->second);
    ResourceChange change;
    change.kind = std::string(kind);
    change.name = name;
    if (old_resource == old_by_name.end()) {
      change.type = ResourceChangeType::kAdded;
    } else if (new_resource == new_by_name.end()) {
      change.type = ResourceChangeType::kRemoved;
      change.destructive = removal_is_destructive;
    } else if (old_values == new_values) {
      continue;
    }
    for (const std::string& path : OrderedPaths(kind, old_values, new_values)) {
      std::optional<std::string> old_value = Find(old_values, path);
      std::optional<std::string> new_value = Find(new_values, path);
      if (old_value == new_value) continue;
      if (change.type == ResourceChangeType::kChanged && IsIdentityField(kind, path)) change.destructive = true;
      change.fields.push_back(FieldChange{path, std::move(old_value), std::move(new_value)});
    }
    diff.changes.push_back(std::move(change));
  }
}

}  // namespace

std::string_view ResourceChangeTypeName(ResourceChangeType type) {
  switch (type) {
    case ResourceChangeType::kAdded: return "added";
    case ResourceChangeType::kChanged: return "changed";
    case ResourceChangeType::kRemoved: return "removed";
  }
  return "changed";
}

bool FleetDiff::HasDestructive() const {
  return std::any_of(changes.begin(), changes.end(), [](const ResourceChange& change) { return change.destructive; });
}

FleetDiff DiffFleets(const Fleet& before, const Fleet& after) {
  FleetDiff diff;
  DiffKind(kKindTunnel, before.tunnels, after.tunnels, diff);
  DiffKind(kKindPeer, before.peers, after.peers, diff);
  DiffKind(kKindPortForward, before.forwards, after.forwards, diff);
  DiffKind(kKindServiceTemplate, before.templates, after.templates, diff);
  return diff;
}

}  // namespace ww
