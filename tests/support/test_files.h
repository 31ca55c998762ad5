#pragma once
// Small helpers many test files need: a whole file as text, the wall clock in unix seconds
// (for certificates, whose validity the TLS layer checks against the real clock), and a
// block scalar out of admin.wwctl.yaml.

#include <cstdint>
#include <string>

namespace ww::test_support {

// The file's bytes; "" when it cannot be read.
std::string ReadText(const std::string& path);

// Seconds since the epoch, from the system clock.
std::int64_t UnixNow();

// The text under "KEY: |" in a YAML file whose block lines are indented two spaces (the
// PEMs in admin.wwctl.yaml). Throws std::runtime_error when KEY is missing, which fails the
// test case that asked.
std::string YamlBlock(const std::string& yaml, const std::string& key);

// admin.wwctl.yaml text with its "server:" line set to `url` (a test reconciler is bootstrapped
// with a placeholder address before its port is known). Throws std::runtime_error when the
// text has no "server:" line.
std::string WithServerUrl(const std::string& admin_yaml, const std::string& url);

}  // namespace ww::test_support
