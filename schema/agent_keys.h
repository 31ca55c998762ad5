#pragma once
// ParseAgentKeys: the offline stand-in for what enrollment records, a YAML or JSON map from
// agent name to WireGuard public key (`wwctl render --keys FILE`). Pure: the caller reads
// the file. Refuses what a hand-edited file gets wrong or a hostile one tries: duplicate
// names, anchors and aliases, tags, anything but a flat map, bad names and bad keys.

#include <map>
#include <string>
#include <string_view>

#include "schema/net.h"
#include "schema/result.h"

namespace ww {

// `file` is only used in messages. An empty file (no document) is an empty map.
// Fails with kInvalidArgument listing every problem, one per line, each as
// "FILE:LINE:COL: message" naming the agent where one is known.
Result<std::map<std::string, WireguardKey>> ParseAgentKeys(std::string_view text, std::string_view file);

}  // namespace ww
