#pragma once
// ServiceTemplates that ship with WireWarp: minecraft, minecraft-bedrock, dayz, valheim,
// terraria, plex, web, ssh. A user template may not reuse one of these names.

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "schema/model.h"

namespace ww {

const std::vector<ServiceTemplate>& BuiltinTemplates();
// The user's template of that name, else the built-in one, else nullptr.
// Linear in the user's templates; callers resolving many forwards use TemplateIndex.
const ServiceTemplate* FindTemplate(const Fleet& fleet, std::string_view name);

// A forward's port sets: its own protocol+ports, or its template's. Empty if the template
// does not resolve (validation reports that).
std::vector<PortSet> ForwardPortSets(const Fleet& fleet, const PortForward& forward);

// FindTemplate in O(1) for one fleet: the same answers (the user's first template of a
// name, else the built-in). Holds pointers into the fleet, which must outlive it.
class TemplateIndex {
 public:
  explicit TemplateIndex(const Fleet& fleet);
  const ServiceTemplate* Find(std::string_view name) const;

 private:
  std::unordered_map<std::string_view, const ServiceTemplate*> by_name_;
};

// ForwardPortSets through an index, for callers that resolve many forwards.
std::vector<PortSet> ForwardPortSets(const TemplateIndex& templates, const PortForward& forward);

// "udp 2302-2305, udp 27016": port sets as messages and summaries show them.
std::string DescribePortSets(const std::vector<PortSet>& sets);

// A forward's ports in one status line. Sets of one protocol merge: dayz's two udp sets are
// {"udp", "2302-2305,27016"}, web's are {"tcp", "80,443"}; only sets of different protocols
// give {"mixed", "tcp 80, udp 53"} (sets per protocol, in order of first appearance).
struct PortSummary {
  std::string protocol;
  std::string ports;
  friend bool operator==(const PortSummary&, const PortSummary&) = default;
};
PortSummary SummarizePortSets(const std::vector<PortSet>& sets);

}  // namespace ww
