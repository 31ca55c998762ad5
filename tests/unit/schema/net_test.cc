#include <doctest/doctest.h>

#include "schema/model.h"
#include "schema/net.h"

using namespace ww;

TEST_CASE("Ipv4Address parses dotted quads and refuses the rest") {
  CHECK(Ipv4Address::Parse("10.0.0.1")->value == 0x0A000001u);
  CHECK(Ipv4Address::Parse("255.255.255.255")->value == 0xFFFFFFFFu);
  CHECK(Ipv4Address::Parse("10.0.0.1")->ToString() == "10.0.0.1");
  for (const char* bad : {"", "10.0.0", "10.0.0.256", "010.0.0.1", "1.2.3.4.5", " 1.2.3.4", "1.2.3.-4", "a.b.c.d", "1..2.3"}) {
    CAPTURE(bad);
    CHECK_FALSE(Ipv4Address::Parse(bad).ok());
  }
}

TEST_CASE("Ipv4Cidr parses, contains and overlaps") {
  auto cidr = Ipv4Cidr::Parse("10.77.0.0/24");
  REQUIRE(cidr.ok());
  CHECK(cidr->Contains(*Ipv4Address::Parse("10.77.0.200")));
  CHECK_FALSE(cidr->Contains(*Ipv4Address::Parse("10.77.1.1")));
  CHECK(cidr->Broadcast().ToString() == "10.77.0.255");
  CHECK(cidr->HostCount() == 254);
  CHECK(cidr->Overlaps(*Ipv4Cidr::Parse("10.0.0.0/8")));
  CHECK_FALSE(cidr->Overlaps(*Ipv4Cidr::Parse("10.78.0.0/16")));
  CHECK_FALSE(Ipv4Cidr::Parse("10.0.0.0/33").ok());
  CHECK_FALSE(Ipv4Cidr::Parse("10.0.0.0").ok());
  CHECK(Ipv4Cidr::Parse("10.0.0.1", Ipv4Cidr::AllowBareAddress::kYes)->prefix == 32);
  CHECK(Ipv4Cidr::Parse("10.1.2.3/8")->Canonical().ToString() == "10.0.0.0/8");
  CHECK(Ipv4Cidr::Parse("0.0.0.0/0")->Contains(*Ipv4Address::Parse("8.8.8.8")));
}

TEST_CASE("WireguardKey round-trips canonical base64 and refuses the rest") {
  const char* text = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
  auto key = WireguardKey::Parse(text);
  REQUIRE(key.ok());
  CHECK(key->ToBase64() == text);
  CHECK_FALSE(WireguardKey::Parse("xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg").ok());
  CHECK_FALSE(WireguardKey::Parse("xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dh=").ok());  // non-zero pad bits
  CHECK_FALSE(WireguardKey::Parse("xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8D!=").ok());
  CHECK_FALSE(WireguardKey::Parse("").ok());
}

TEST_CASE("ParsePortList accepts singles, ranges and lists") {
  auto ports = ParsePortList("2302-2305,27016");
  REQUIRE(ports.ok());
  REQUIRE(ports->size() == 2);
  CHECK((*ports)[0] == PortRange{2302, 2305});
  CHECK((*ports)[1] == PortRange{27016, 27016});
  CHECK(FormatPortList(*ports) == "2302-2305,27016");
  for (const char* bad : {"", "0", "65536", "2305-2302", "1-2,2-3", "25565 ", "a", "1,,2", "-1", "+5"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParsePortList(bad).ok());
  }
}
