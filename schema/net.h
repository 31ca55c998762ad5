#pragma once
// Small strong types for IPv4 addresses, CIDRs and WireGuard keys. Parsing happens at the
// edge (the YAML decoder, the JSON wire format, observation parsers); the core never
// handles raw address strings. IPv4 only, like the tunnels WireWarp builds.

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "schema/result.h"

namespace ww {

struct Ipv4Address {
  uint32_t value = 0;  // host byte order: 10.0.0.1 is 0x0A000001

  // Accepts dotted quad only: four decimal octets 0-255, no leading zeros ("010" is refused
  // because inet_aton would read it as octal).
  static Result<Ipv4Address> Parse(std::string_view text);
  std::string ToString() const;
  friend auto operator<=>(const Ipv4Address&, const Ipv4Address&) = default;
};

struct Ipv4Cidr {
  Ipv4Address address;  // may carry host bits (an interface address like 10.0.0.1/24)
  int prefix = 32;

  // "10.0.0.0/24"; a bare address is refused unless AllowBareAddress::kYes (then /32).
  enum class AllowBareAddress { kNo, kYes };
  static Result<Ipv4Cidr> Parse(std::string_view text, AllowBareAddress bare = AllowBareAddress::kNo);
  std::string ToString() const;

  uint32_t Mask() const { return prefix == 0 ? 0u : ~uint32_t{0} << (32 - prefix); }
  Ipv4Address Network() const { return {address.value & Mask()}; }
  Ipv4Address Broadcast() const { return {Network().value | ~Mask()}; }
  // The same network with host bits cleared.
  Ipv4Cidr Canonical() const { return {Network(), prefix}; }
  bool IsCanonical() const { return address == Network(); }
  bool Contains(Ipv4Address other) const { return (other.value & Mask()) == Network().value; }
  bool Overlaps(const Ipv4Cidr& other) const {
    int shorter = prefix < other.prefix ? prefix : other.prefix;
    uint32_t mask = shorter == 0 ? 0u : ~uint32_t{0} << (32 - shorter);
    return (address.value & mask) == (other.address.value & mask);
  }
  // Host addresses usable in the network (excludes network and broadcast for prefix <= 30).
  uint64_t HostCount() const;
  friend auto operator<=>(const Ipv4Cidr&, const Ipv4Cidr&) = default;
};

// A Curve25519 key as WireGuard uses it: 32 raw bytes, written as 44 characters of
// standard base64. Equality compares bytes; the text form is canonical.
struct WireguardKey {
  std::array<uint8_t, 32> bytes{};

  // Refuses anything that is not exactly 32 bytes of canonical padded base64.
  static Result<WireguardKey> Parse(std::string_view base64);
  std::string ToBase64() const;
  bool IsZero() const;
  friend auto operator<=>(const WireguardKey&, const WireguardKey&) = default;
};

// A port number parsed from decimal text without sign, spaces or leading zeros, 1-65535.
Result<uint16_t> ParsePort(std::string_view text);

}  // namespace ww
