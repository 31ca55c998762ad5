#include "reconciler/status/snapshot_json.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <utility>

namespace ww {
namespace {

using Json = nlohmann::json;

// Thrown and caught within this file only: a field with the wrong type, by path.
struct FieldError {
  std::string message;
};

std::string Path(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : std::string(parent) + "." + std::string(key);
}

std::string Describe(const Json& value) {
  std::string text = value.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

// nullptr when the field is missing or null.
const Json* Field(const Json& object, std::string_view key) {
  auto found = object.find(key);
  if (found == object.end() || found->is_null()) return nullptr;
  return &*found;
}

std::string String(const Json& object, std::string_view parent, std::string_view key) {
  const Json* value = Field(object, key);
  if (value == nullptr) return "";
  if (!value->is_string()) throw FieldError{Path(parent, key) + ": " + Describe(*value) + " is not a string"};
  return value->get<std::string>();
}

bool Boolean(const Json& object, std::string_view parent, std::string_view key) {
  const Json* value = Field(object, key);
  if (value == nullptr) return false;
  if (!value->is_boolean()) throw FieldError{Path(parent, key) + ": " + Describe(*value) + " is not true or false"};
  return value->get<bool>();
}

std::optional<std::int64_t> OptionalInteger(const Json& object, std::string_view parent, std::string_view key) {
  const Json* value = Field(object, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number_integer() || (value->is_number_unsigned() && value->get<std::uint64_t>() > INT64_MAX)) {
    throw FieldError{Path(parent, key) + ": " + Describe(*value) + " is not an integer"};
  }
  return value->get<std::int64_t>();
}

std::int64_t Integer(const Json& object, std::string_view parent, std::string_view key) {
  return OptionalInteger(object, parent, key).value_or(0);
}

std::uint64_t Counter(const Json& object, std::string_view parent, std::string_view key) {
  const Json* value = Field(object, key);
  if (value == nullptr) return 0;
  // A writer may store a count as signed (json(int64_t)); any integer of 0 or more is fine.
  bool counter = value->is_number_unsigned() || (value->is_number_integer() && value->get<std::int64_t>() >= 0);
  if (!counter) throw FieldError{Path(parent, key) + ": " + Describe(*value) + " is not a non-negative integer"};
  return value->get<std::uint64_t>();
}

// The array at `key` (empty when missing or null); every element must be an object.
std::vector<const Json*> Objects(const Json& object, std::string_view parent, std::string_view key) {
  std::vector<const Json*> result;
  const Json* value = Field(object, key);
  if (value == nullptr) return result;
  if (!value->is_array()) throw FieldError{Path(parent, key) + ": " + Describe(*value) + " is not an array"};
  for (std::size_t i = 0; i < value->size(); ++i) {
    const Json& element = (*value)[i];
    if (!element.is_object()) {
      throw FieldError{Path(parent, key) + "[" + std::to_string(i) + "]: " + Describe(element) + " is not an object"};
    }
    result.push_back(&element);
  }
  return result;
}

std::string Indexed(std::string_view key, std::size_t index) { return std::string(key) + "[" + std::to_string(index) + "]"; }

SnapshotView ReadSnapshot(const Json& root) {
  if (!root.is_object()) throw FieldError{Describe(root) + " is not an object"};
  SnapshotView view;
  view.now = Integer(root, "", "now");
  view.converged = Boolean(root, "", "converged");
  if (const Json* revision = Field(root, "revision"); revision != nullptr) {
    if (!revision->is_object()) throw FieldError{"revision: " + Describe(*revision) + " is not an object"};
    view.revision = SnapshotView::Revision{Integer(*revision, "revision", "id"), String(*revision, "revision", "source"),
                                           String(*revision, "revision", "commit"),
                                           Integer(*revision, "revision", "createdAt")};
  }
  view.has_rejected_commit = Field(root, "rejected") != nullptr;

  std::vector<const Json*> agents = Objects(root, "", "agents");
  for (std::size_t i = 0; i < agents.size(); ++i) {
    const Json& agent = *agents[i];
    std::string path = Indexed("agents", i);
    SnapshotView::Agent entry;
    entry.name = String(agent, path, "name");
    entry.connected = Boolean(agent, path, "connected");
    if (Field(agent, "enrolled") != nullptr) entry.enrolled = Boolean(agent, path, "enrolled");
    entry.last_seen = OptionalInteger(agent, path, "lastSeen");
    entry.generation = Integer(agent, path, "generation");
    entry.applied_generation = Integer(agent, path, "appliedGeneration");
    entry.phase = String(agent, path, "phase");
    if (const Json* drift = Field(agent, "drift"); drift != nullptr) {
      if (!drift->is_array()) throw FieldError{path + ".drift: " + Describe(*drift) + " is not an array"};
      entry.drift_steps = drift->size();
    }
    view.agents.push_back(std::move(entry));
  }

  std::vector<const Json*> tunnels = Objects(root, "", "tunnels");
  for (std::size_t i = 0; i < tunnels.size(); ++i) {
    std::string tunnel_path = Indexed("tunnels", i);
    std::string tunnel_name = String(*tunnels[i], tunnel_path, "name");
    std::vector<const Json*> peers = Objects(*tunnels[i], tunnel_path, "peers");
    for (std::size_t j = 0; j < peers.size(); ++j) {
      std::string path = tunnel_path + "." + Indexed("peers", j);
      view.peers.push_back(SnapshotView::Peer{tunnel_name, String(*peers[j], path, "name"),
                                              OptionalInteger(*peers[j], path, "handshakeAgeSeconds"),
                                              Counter(*peers[j], path, "rxBytes"), Counter(*peers[j], path, "txBytes")});
    }
  }

  std::vector<const Json*> forwards = Objects(root, "", "forwards");
  for (std::size_t i = 0; i < forwards.size(); ++i) {
    std::string path = Indexed("forwards", i);
    view.forwards.push_back(SnapshotView::Forward{String(*forwards[i], path, "name"), String(*forwards[i], path, "state")});
  }
  return view;
}

}  // namespace

Result<SnapshotView> ParseSnapshotView(std::string_view snapshot_json) {
  Json root;
  try {
    root = Json::parse(snapshot_json);
  } catch (const Json::exception& error) {
    return Status::InvalidArgument(std::string("the snapshot is not JSON: ") + error.what());
  }
  try {
    return ReadSnapshot(root);
  } catch (const FieldError& error) {
    return Status::InvalidArgument("snapshot " + error.message);
  }
}

}  // namespace ww
