#pragma once
// ServiceTemplates that ship with WireWarp: minecraft, minecraft-bedrock, dayz, valheim,
// terraria, plex, web, ssh. A user template may not reuse one of these names.

#include <string_view>
#include <vector>

#include "schema/model.h"

namespace ww {

const std::vector<ServiceTemplate>& BuiltinTemplates();
// The user's template of that name, else the built-in one, else nullptr.
const ServiceTemplate* FindTemplate(const Fleet& fleet, std::string_view name);

// A forward's port sets: its own protocol+ports, or its template's. Empty if the template
// does not resolve (validation reports that).
std::vector<PortSet> ForwardPortSets(const Fleet& fleet, const PortForward& forward);

}  // namespace ww
