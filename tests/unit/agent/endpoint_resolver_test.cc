// Endpoint names: ResolveEndpoint (host:port -> address:port, literals untouched) with the
// fake and the system resolver, and the state directory's record of applied endpoints
// (round trip, hostile or garbled files read as "no record").

#include <doctest/doctest.h>

#include <string>

#include "agent/state/applied_endpoints.h"
#include "agent/state/state_dir.h"
#include "agent/system/endpoint_resolver.h"
#include "tests/support/temporary_directory.h"
#include "tests/support/test_values.h"

namespace ww::agent {
namespace {

using test_support::Key;

TEST_CASE("ResolveEndpoint keeps the port, looks up names only, and refuses what is not host:port") {
  FakeResolver resolver;
  resolver.addresses["vps.example.net"] = *Ipv4Address::Parse("203.0.113.7");
  CHECK(*ResolveEndpoint(resolver, "vps.example.net:51820") == "203.0.113.7:51820");
  CHECK(*ResolveEndpoint(resolver, "198.51.100.4:4500") == "198.51.100.4:4500");
  CHECK(resolver.lookups == 1);
  CHECK(ResolveEndpoint(resolver, "other.example.net:51820").status() ==
        Status::Unavailable("resolving \"other.example.net\": unknown host"));
  for (const char* bad : {"vps.example.net", ":51820", "vps.example.net:"}) {
    CAPTURE(bad);
    CHECK(ResolveEndpoint(resolver, bad).status().code() == StatusCode::kInvalidArgument);
  }
  CHECK(EndpointHasHostName("vps.example.net:51820"));
  CHECK(!EndpointHasHostName("203.0.113.7:51820"));
  CHECK(!EndpointHasHostName(""));
}

TEST_CASE("SystemResolver asks the C library: localhost from /etc/hosts, an invalid name fails") {
  SystemResolver resolver;
  auto localhost = resolver.Resolve("localhost");
  REQUIRE_MESSAGE(localhost.ok(), localhost.status().message());
  CHECK(localhost->ToString() == "127.0.0.1");
  // .invalid never resolves (RFC 6761).
  auto missing = resolver.Resolve("no-such-host.invalid");
  CHECK(missing.status().code() == StatusCode::kUnavailable);
  CHECK(missing.status().message().starts_with("resolving \"no-such-host.invalid\": "));
}

TEST_CASE("The applied-endpoint record round-trips through the state directory; a bad file is no record") {
  test_support::TemporaryDirectory directory{"ww-endpoints-test"};
  auto state = StateDir::Open(directory.path(), CreateMode::kOpenExisting);
  REQUIRE(state.ok());
  CHECK(LoadAppliedEndpoints(*state).empty());
  AppliedEndpoints record = {{"wg0", Key(2), "vps.example.net:51820", "203.0.113.7:51820"},
                             {"wg1", Key(3), "198.51.100.4:4500", ""}};
  REQUIRE(SaveAppliedEndpoints(*state, record).ok());
  CHECK(LoadAppliedEndpoints(*state) == record);

  ObservedState observed;
  observed.interfaces.push_back(ObservedInterface{.name = "wg0", .peers = {ObservedPeer{.public_key = Key(2)},
                                                                            ObservedPeer{.public_key = Key(4)}}});
  FillAppliedEndpoints(record, observed);
  CHECK(observed.interfaces[0].peers[0].applied_endpoint == "vps.example.net:51820");
  CHECK(observed.interfaces[0].peers[1].applied_endpoint == "");  // unknown peer: nothing claimed

  for (const char* bad : {"", "{", "[]", R"({"formatVersion":2,"peers":[]})", R"({"formatVersion":1,"peers":[{}]})",
                          R"({"formatVersion":1,"peers":[{"interface":"wg0","publicKey":"nope","endpoint":"","address":""}]})"}) {
    CAPTURE(bad);
    CHECK(!AppliedEndpointsFromJson(bad).ok());
    REQUIRE(state->WriteFileAtomically(kAppliedEndpointsFile, bad).ok());
    CHECK(LoadAppliedEndpoints(*state).empty());
  }
}

}  // namespace
}  // namespace ww::agent
