#pragma once
// The parts of an "https://HOST[:PORT][/]" URL that the reconciler advertises and agents dial.
// Shared by the server bootstrap (host -> certificate SANs) and the enrollment client (host and
// port to connect to). Only https is accepted; an IPv6 host is written in brackets.

#include <string>
#include <string_view>

#include "schema/result.h"

namespace ww {

inline constexpr int kDefaultReconcilerPort = 8443;

struct HttpsUrl {
  std::string host;  // without brackets
  int port = kDefaultReconcilerPort;
  bool host_is_ip = false;  // an IPv4 or IPv6 literal, not a DNS name

  friend bool operator==(const HttpsUrl&, const HttpsUrl&) = default;
};

// Refuses other schemes, userinfo, queries, fragments, paths other than "/", empty hosts and
// ports outside 1-65535, quoting the URL.
Result<HttpsUrl> ParseHttpsUrl(std::string_view url);

}  // namespace ww
