#pragma once
// EndpointResolver: host name -> IPv4 address, for the peer endpoints a config names by
// name ("vps.example.net:51820"). The agent resolves them itself rather than leaving it to
// `wg set`, so it knows the address it set and notices when the name moves (the daemon asks
// again every few minutes). SystemResolver asks the C library (getaddrinfo: /etc/hosts,
// DNS); tests use FakeResolver.

#include <map>
#include <string>
#include <string_view>

#include "schema/net.h"
#include "schema/result.h"

namespace ww::agent {

class EndpointResolver {
 public:
  virtual ~EndpointResolver() = default;
  // The first IPv4 address of `host`; kUnavailable naming the host when it has none.
  virtual Result<Ipv4Address> Resolve(const std::string& host) = 0;
};

// getaddrinfo(AF_INET). Blocks for as long as the system resolver does (resolv.conf's
// timeout and attempts).
class SystemResolver final : public EndpointResolver {
 public:
  Result<Ipv4Address> Resolve(const std::string& host) override;
};

// Answers from a map that tests change between passes; counts lookups.
class FakeResolver final : public EndpointResolver {
 public:
  std::map<std::string, Ipv4Address> addresses;
  int lookups = 0;
  Result<Ipv4Address> Resolve(const std::string& host) override;
};

// "host:port" -> "ADDRESS:port". An IPv4 literal host is returned as it is, without a
// lookup; kInvalidArgument for text that is not host:port.
Result<std::string> ResolveEndpoint(EndpointResolver& resolver, std::string_view endpoint);

// True when the host part of "host:port" is a name rather than an IPv4 literal.
bool EndpointHasHostName(std::string_view endpoint);

}  // namespace ww::agent
