#include "schema/model.h"

namespace ww {

Mark Origin::Find(std::string_view field) const {
  std::string_view wanted = field;
  while (true) {
    for (const auto& [path, field_mark] : fields) {
      if (path == wanted) return field_mark;
    }
    // Walk up: "spec.lan[1]" -> "spec.lan" -> "spec".
    size_t cut = wanted.find_last_of(".[");
    if (cut == std::string_view::npos || cut == 0) return mark;
    wanted = wanted.substr(0, cut);
  }
}

std::string_view ProtocolName(Protocol protocol) {
  switch (protocol) {
    case Protocol::kTcp: return "tcp";
    case Protocol::kUdp: return "udp";
    case Protocol::kBoth: return "both";
  }
  return "tcp";
}

std::string_view HostPortName(HostPort host_port) {
  return host_port == HostPort::kAllow ? "allow" : "refuse";
}

std::string PortRange::ToString() const {
  if (IsSingle()) return std::to_string(first);
  return std::to_string(first) + "-" + std::to_string(last);
}

Result<std::vector<PortRange>> ParsePortList(std::string_view text) {
  std::vector<PortRange> ranges;
  if (text.empty()) return Status::InvalidArgument("\"\" is not a port list (expected e.g. \"25565\", \"2302-2305,27016\")");
  std::string_view rest = text;
  while (true) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    size_t dash = item.find('-');
    PortRange range;
    if (dash == std::string_view::npos) {
      auto port = ParsePort(item);
      if (!port.ok()) return Status::InvalidArgument("in \"" + std::string(text) + "\": " + port.status().message());
      range = {*port, *port};
    } else {
      auto first = ParsePort(item.substr(0, dash));
      auto last = ParsePort(item.substr(dash + 1));
      if (!first.ok()) return Status::InvalidArgument("in \"" + std::string(text) + "\": " + first.status().message());
      if (!last.ok()) return Status::InvalidArgument("in \"" + std::string(text) + "\": " + last.status().message());
      if (*first > *last) {
        return Status::InvalidArgument("range \"" + std::string(item) + "\" is reversed (the first port must not exceed the last)");
      }
      range = {*first, *last};
    }
    for (const PortRange& existing : ranges) {
      if (existing.Overlaps(range)) {
        return Status::InvalidArgument("\"" + range.ToString() + "\" overlaps \"" + existing.ToString() + "\" in \"" +
                                       std::string(text) + "\"");
      }
    }
    ranges.push_back(range);
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return ranges;
}

std::string FormatPortList(const std::vector<PortRange>& ranges) {
  std::string out;
  for (const PortRange& range : ranges) {
    if (!out.empty()) out += ",";
    out += range.ToString();
  }
  return out;
}

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  auto allowed = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; };
  if (name[0] == '-') return false;
  for (char c : name) {
    if (!allowed(c)) return false;
  }
  return true;
}

}  // namespace ww
