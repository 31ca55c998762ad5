#pragma once
// DiffFleets: which resources one fleet adds, changes (field by field) and removes compared
// with another, like `kubectl diff` but per field. `wwctl diff` lists these before each
// agent's steps: an agent that has not reported yet has no steps, but a changed PortForward
// is still a change. Fields are named by their paths in the field table
// (resource_fields.h), values as a user writes them in YAML, with defaults applied, so a
// default written out explicitly is no change. Pure.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schema/model.h"

namespace ww {

enum class ResourceChangeType { kAdded, kChanged, kRemoved };
std::string_view ResourceChangeTypeName(ResourceChangeType type);  // "added", "changed", "removed"

struct FieldChange {
  std::string path;                   // "spec.mtu", "spec.to.address", "metadata.labels.env"
  std::optional<std::string> before;  // absent: unset before (added resource, new field)
  std::optional<std::string> after;   // absent: unset after (removed resource, dropped field)
  friend bool operator==(const FieldChange&, const FieldChange&) = default;
};

struct ResourceChange {
  ResourceChangeType type = ResourceChangeType::kChanged;
  std::string kind;  // "Tunnel", "Peer", "PortForward", "ServiceTemplate"
  std::string name;
  // Every set field of an added (after) or removed (before) resource; the differing fields
  // of a changed one. In field-table order.
  std::vector<FieldChange> fields;
  // Takes something down that is up now: a removed Tunnel, Peer or PortForward, or a Tunnel
  // or Peer whose identity changes (agent, interface, network, public key), which the plan
  // carries out as remove + add.
  bool destructive = false;
  friend bool operator==(const ResourceChange&, const ResourceChange&) = default;
};

struct FleetDiff {
  // Kinds in the order Tunnel, Peer, PortForward, ServiceTemplate; names sorted in each kind.
  std::vector<ResourceChange> changes;
  bool empty() const { return changes.empty(); }
  bool HasDestructive() const;
  friend bool operator==(const FleetDiff&, const FleetDiff&) = default;
};

// What `after` changes compared with `before`. Resources are matched by kind and name;
// file, order and formatting do not count.
FleetDiff DiffFleets(const Fleet& before, const Fleet& after);

}  // namespace ww
