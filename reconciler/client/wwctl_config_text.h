#pragma once
// The text of a wwctl config file (cli/remote_config.h parses it), written by the reconciler's
// first start (DATA_DIR/admin.wwctl.yaml) and by `wwctl credential create`: one writer, so
// every config file has the same layout.

#include <string>
#include <string_view>

namespace ww {

struct WwctlConfigText {
  std::string server;  // https://HOST[:PORT]
  std::string ca_pin;  // "sha256:<hex>"
  std::string ca_certificate_pem;
  std::string client_certificate_pem;
  std::string client_key_pem;
};

// The YAML document; `owner` completes its first comment line "wwctl configuration for ...".
std::string FormatWwctlConfig(const WwctlConfigText& config, std::string_view owner);

}  // namespace ww
