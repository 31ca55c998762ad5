#include "reconciler/client/wwctl_config_text.h"

namespace ww {
namespace {

// "key: |" followed by the PEM indented two spaces.
std::string YamlBlock(std::string_view key, std::string_view pem) {
  std::string result = std::string(key) + ": |\n";
  size_t start = 0;
  while (start < pem.size()) {
    size_t end = pem.find('\n', start);
    if (end == std::string_view::npos) end = pem.size();
    result += "  " + std::string(pem.substr(start, end - start)) + "\n";
    start = end + 1;
  }
  return result;
}

}  // namespace

std::string FormatWwctlConfig(const WwctlConfigText& config, std::string_view owner) {
  return "# wwctl configuration for " + std::string(owner) + ". Keep it secret: it holds a\n"
         "# private key. Use it with: wwctl --config THIS_FILE ... or WWCTL_CONFIG=THIS_FILE\n"
         "apiVersion: wirewarp.dev/v1\n"
         "kind: WwctlConfig\n"
         "server: " + config.server + "\n"
         "caPin: " + config.ca_pin + "\n" +
         YamlBlock("caCertificate", config.ca_certificate_pem) +
         YamlBlock("clientCertificate", config.client_certificate_pem) +
         YamlBlock("clientKey", config.client_key_pem);
}

}  // namespace ww
