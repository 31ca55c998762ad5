#include "reconciler/server/fleet_state.h"

#include <utility>

namespace ww {

std::vector<std::string> FleetState::AgentNames() const {
  std::vector<std::string> names;
  names.reserve(agents.size());
  for (const auto& [name, view] : agents) names.push_back(name);
  return names;
}

bool FleetState::InFleet(const std::string& name) const { return current && current->fleet_agents.contains(name); }

AgentRole FleetState::ExpectedRole(const std::string& name) const {
  if (InFleet(name)) {
    for (const Tunnel& tunnel : current->fleet.tunnels) {
      if (tunnel.spec.agent == name) return AgentRole::kServer;
    }
    return AgentRole::kClient;
  }
  if (auto found = agents.find(name); found != agents.end()) {
    const std::optional<AgentRecord>& record = found->second.record ? found->second.record : found->second.deleted;
    if (record) return record->role;
  }
  return AgentRole::kClient;
}

std::string FleetState::EnrollCommand(const std::string& name) const {
  return std::string("wwctl token create --type ") + (ExpectedRole(name) == AgentRole::kServer ? "server" : "client") +
         " --name " + name;
}

void FleetState::QueueEvent(int64_t now, const AgentView* view, const std::string& kind, const std::string& message) {
  std::optional<std::string> agent_id;
  if (view != nullptr && view->record) agent_id = view->record->id;
  pending_events.push_back(EventRecord{0, now, std::move(agent_id), kind, message});
}

Status FleetState::FlushEvents() {
  if (pending_events.empty()) return Status::Ok();
  std::vector<EventRecord> events;
  events.swap(pending_events);
  events_appended = true;
  return store.AppendEvents(events);
}

void FleetState::StatusChanged() {
  long_polls.Notify(kStatusPollKey, ++status_version);
}

}  // namespace ww
