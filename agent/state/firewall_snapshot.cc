#include "agent/state/firewall_snapshot.h"

#include <charconv>
#include <utility>

#include "schema/observed_state.h"
#include "schema/wire_json.h"

namespace ww::agent {
namespace {

constexpr std::string_view kMagic = "wirewarp-firewall-snapshot 1";
// The file holds one host's owned rules; anything larger is not a snapshot we wrote.
constexpr size_t kMaxSnapshotSize = 64u << 20;

// The next line of `text` (without its newline), consumed; nullopt when no newline is left.
std::optional<std::string_view> NextLine(std::string_view& text) {
  size_t end = text.find('\n');
  if (end == std::string_view::npos) return std::nullopt;
  std::string_view line = text.substr(0, end);
  text.remove_prefix(end + 1);
  return line;
}

// The value of header line "KEY VALUE".
Result<std::string_view> HeaderValue(std::string_view& text, std::string_view key) {
  std::optional<std::string_view> line = NextLine(text);
  if (!line || line->size() <= key.size() + 1 || line->substr(0, key.size()) != key || (*line)[key.size()] != ' ') {
    return Status::InvalidArgument("firewall snapshot: expected a \"" + std::string(key) + " ...\" line, got \"" +
                                   std::string(line.value_or("")) + "\"");
  }
  return line->substr(key.size() + 1);
}

template <typename Number>
Result<Number> HeaderNumber(std::string_view& text, std::string_view key) {
  WW_ASSIGN_OR_RETURN(std::string_view value, HeaderValue(text, key));
  Number number{};
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (error != std::errc() || end != value.data() + value.size()) {
    return Status::InvalidArgument("firewall snapshot: " + std::string(key) + " \"" + std::string(value) +
                                   "\" is not a number");
  }
  return number;
}

}  // namespace

std::string FirewallSnapshotToText(const FirewallSnapshot& snapshot) {
  ObservedState firewall;
  firewall.chains = snapshot.chains;
  firewall.jumps = snapshot.jumps;
  std::string text(kMagic);
  text += "\nboot-id " + snapshot.version.boot_id;
  text += "\nnetwork-namespace " + std::to_string(snapshot.version.network_namespace);
  text += "\ngeneration " + std::to_string(snapshot.version.generation);
  text += "\niptables-save " + snapshot.version.iptables_save + "\n";
  text += ObservedStateToJson(firewall, JsonStyle::kCompact);
  return text;
}

Result<FirewallSnapshot> FirewallSnapshotFromText(std::string_view text) {
  std::optional<std::string_view> magic = NextLine(text);
  if (!magic || *magic != kMagic) {
    return Status::InvalidArgument("firewall snapshot: expected \"" + std::string(kMagic) + "\", got \"" +
                                   std::string(magic.value_or("")).substr(0, 80) + "\"");
  }
  FirewallSnapshot snapshot;
  WW_ASSIGN_OR_RETURN(std::string_view boot_id, HeaderValue(text, "boot-id"));
  snapshot.version.boot_id = std::string(boot_id);
  WW_ASSIGN_OR_RETURN(snapshot.version.network_namespace, HeaderNumber<uint64_t>(text, "network-namespace"));
  WW_ASSIGN_OR_RETURN(snapshot.version.generation, HeaderNumber<uint32_t>(text, "generation"));
  WW_ASSIGN_OR_RETURN(std::string_view iptables_save, HeaderValue(text, "iptables-save"));
  snapshot.version.iptables_save = std::string(iptables_save);
  auto firewall = ObservedStateFromJson(text);
  if (!firewall.ok()) return firewall.status().WithContext("firewall snapshot");
  if (!firewall->interfaces.empty() || !firewall->routes.empty() || !firewall->rules.empty() ||
      !firewall->sysctls.empty()) {
    return Status::InvalidArgument("firewall snapshot: holds more than chains and jumps");
  }
  snapshot.chains = std::move(firewall->chains);
  snapshot.jumps = std::move(firewall->jumps);
  return snapshot;
}

Status SaveFirewallSnapshot(StateDir& state, const FirewallSnapshot& snapshot) {
  return state.WriteFileAtomically(kFirewallSnapshotFile, FirewallSnapshotToText(snapshot));
}

std::optional<FirewallSnapshot> LoadFirewallSnapshot(const StateDir& state) {
  auto text = state.ReadFile(kFirewallSnapshotFile, kMaxSnapshotSize);
  if (!text.ok() || !*text) return std::nullopt;
  auto snapshot = FirewallSnapshotFromText(**text);
  if (!snapshot.ok()) return std::nullopt;
  return std::move(*snapshot);
}

}  // namespace ww::agent
