#pragma once
// A daemon's flags from a file (the systemd unit's /etc/wirewarp/reconciler.yaml): a single
// YAML mapping of flag names, without "--", to single values:
//
//   data-dir: /var/lib/wirewarp-reconciler
//   listen: 0.0.0.0:8443
//   git-allow-destructive: false
//
// Flags given on the command line win over the file. The YAML goes through schema's parser
// (yaml-cpp stays in its adapter, duplicate keys, aliases, tags and bad bytes are refused);
// CLI11 stays in flag_file.cc, so the header only names its App.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "schema/diagnostic.h"
#include "schema/result.h"

namespace CLI {
class App;
}  // namespace CLI

namespace ww {

// A page of flags; anything far larger is not a flag file.
inline constexpr std::size_t kMaxFlagFileBytes = std::size_t{64} << 10;

struct FlagSetting {
  std::string name;  // "data-dir"
  std::string value;
  Mark mark;  // of the value
  friend bool operator==(const FlagSetting&, const FlagSetting&) = default;
};

// Parses the text of a flag file. `path` names the file in messages, each
// "PATH:LINE:COL: error: NAME: message" with the bad name or value quoted; every finding of
// the file is reported at once. Only names in `known_flags` are accepted (an unknown one gets
// a "did you mean"); values must be scalars (a string, number or true/false).
Result<std::vector<FlagSetting>> ParseFlagFile(std::string_view text, const std::string& path,
                                               const std::vector<std::string_view>& known_flags);

// Reads `path` (a regular file of at most kMaxFlagFileBytes), parses it against the long
// options of `app` (all but "config", "help" and "version") and sets each option the command
// line did not give, with CLI11's own conversion and checks. Call after app.parse().
Status ApplyFlagFile(CLI::App& app, const std::string& path);

}  // namespace ww
