#include "tests/support/test_values.h"

#include <cstdint>

namespace ww::test_support {

WireguardKey Key(int fill) {
  WireguardKey key;
  key.bytes.fill(static_cast<uint8_t>(fill));
  return key;
}

WireguardKey KeyFromBase64(std::string_view base64) { return WireguardKey::Parse(base64).value(); }

Ipv4Cidr Cidr(std::string_view text) { return Ipv4Cidr::Parse(text).value(); }

Ipv4Address Address(std::string_view text) { return Ipv4Address::Parse(text).value(); }

std::vector<std::string> FormatDiagnostics(const Diagnostics& diagnostics) {
  std::vector<std::string> out;
  out.reserve(diagnostics.size());
  for (const Diagnostic& diagnostic : diagnostics) out.push_back(FormatDiagnostic(diagnostic));
  return out;
}

}  // namespace ww::test_support
