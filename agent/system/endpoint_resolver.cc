#include "agent/system/endpoint_resolver.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <memory>

namespace ww::agent {

Result<Ipv4Address> SystemResolver::Resolve(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  int error = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (error != 0) {
    return Status::Unavailable("resolving \"" + host + "\": " + ::gai_strerror(error));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(found, &::freeaddrinfo);
  for (const addrinfo* entry = found; entry != nullptr; entry = entry->ai_next) {
    if (entry->ai_family != AF_INET || entry->ai_addr == nullptr) continue;
    const auto* address = reinterpret_cast<const sockaddr_in*>(entry->ai_addr);
    return Ipv4Address{ntohl(address->sin_addr.s_addr)};
  }
  return Status::Unavailable("resolving \"" + host + "\": no IPv4 address");
}

Result<Ipv4Address> FakeResolver::Resolve(const std::string& host) {
  ++lookups;
  auto found = addresses.find(host);
  if (found == addresses.end()) return Status::Unavailable("resolving \"" + host + "\": unknown host");
  return found->second;
}

bool EndpointHasHostName(std::string_view endpoint) {
  size_t colon = endpoint.rfind(':');
  return colon != std::string_view::npos && !Ipv4Address::Parse(endpoint.substr(0, colon)).ok();
}

Result<std::string> ResolveEndpoint(EndpointResolver& resolver, std::string_view endpoint) {
  size_t colon = endpoint.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == endpoint.size()) {
    return Status::InvalidArgument("endpoint \"" + std::string(endpoint) + "\" is not host:port");
  }
  std::string_view host = endpoint.substr(0, colon);
  if (Ipv4Address::Parse(host).ok()) return std::string(endpoint);
  WW_ASSIGN_OR_RETURN(Ipv4Address address, resolver.Resolve(std::string(host)));
  return address.ToString() + std::string(endpoint.substr(colon));
}

}  // namespace ww::agent
