#pragma once
// Small values for hand-written test fixtures: keys with recognisable bytes, addresses
// parsed from literals, diagnostics as text. Inputs must be valid: a typo in a test throws
// from Result::value() and fails the test case instead of building a wrong fixture.

#include <string>
#include <string_view>
#include <vector>

#include "schema/diagnostic.h"
#include "schema/net.h"

namespace ww::test_support {

// A key whose 32 bytes are all `fill`: distinct keys for distinct fills, no randomness.
WireguardKey Key(int fill);
// A key from its 44-character base64 text.
WireguardKey KeyFromBase64(std::string_view base64);
// "10.77.0.0/24".
Ipv4Cidr Cidr(std::string_view text);
// "10.77.0.1".
Ipv4Address Address(std::string_view text);

// Each diagnostic as FormatDiagnostic prints it, in order: for exact comparisons.
std::vector<std::string> FormatDiagnostics(const Diagnostics& diagnostics);

}  // namespace ww::test_support
