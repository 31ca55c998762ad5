#include "reconciler/client/https_url.h"

#include <arpa/inet.h>

#include <cctype>
#include <string>

#include "schema/net.h"

namespace ww {
namespace {

bool IsIpLiteral(const std::string& host) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1 || inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

bool IsDnsName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) return false;
  }
  return host.front() != '.' && host.front() != '-';
}

}  // namespace

Result<HttpsUrl> ParseHttpsUrl(std::string_view url) {
  auto refuse = [&](std::string_view why) {
    return Status::InvalidArgument("URL \"" + std::string(url) + "\" " + std::string(why));
  };
  constexpr std::string_view kScheme = "https://";
  if (url.substr(0, kScheme.size()) != kScheme) return refuse("must start with https://");
  std::string_view rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos) {
    return refuse("must be https://HOST[:PORT] with no path, query or user");
  }
  HttpsUrl result;
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return refuse("has an unclosed '['");
    result.host = std::string(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return refuse("has text after ']'");
      port_text = after.substr(1);
      if (port_text.empty()) return refuse("has an empty port");
    }
    if (!IsIpLiteral(result.host) || result.host.find(':') == std::string::npos) {
      return refuse("has no IPv6 address inside '[...]'");
    }
  } else {
    size_t colon = rest.find(':');
    result.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = rest.substr(colon + 1);
      if (port_text.empty()) return refuse("has an empty port");
    }
  }
  if (result.host.empty()) return refuse("has no host");
  if (!port_text.empty()) {
    Result<uint16_t> port = ParsePort(port_text);
    if (!port.ok()) return refuse("has an invalid port");
    result.port = *port;
  }
  result.host_is_ip = IsIpLiteral(result.host);
  if (!result.host_is_ip && !IsDnsName(result.host)) return refuse("has an invalid host name");
  return result;
}

}  // namespace ww
