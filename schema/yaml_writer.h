#pragma once
// FleetToYaml: a Fleet back to the YAML a user would write, one `---` document per
// resource (Tunnels, Peers, ServiceTemplates, PortForwards, each in fleet order), fields
// in camelCase, defaults left out, ports as quoted strings. LoadFleet reads the output back
// to an equal Fleet. Strings YAML could read as something else (numbers, booleans, null,
// text with ':' or '#', leading '-' or spaces) are double-quoted and escaped.
// Pure; the basis of `wwctl export`.

#include <string>
#include <string_view>

#include "schema/model.h"

namespace ww {

std::string FleetToYaml(const Fleet& fleet);

// `text` as a YAML scalar that reads back as exactly that string: plain when that is safe,
// else double-quoted with escapes.
std::string YamlString(std::string_view text);

}  // namespace ww
