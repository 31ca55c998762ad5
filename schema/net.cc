#include "schema/net.h"

#include <charconv>

namespace ww {

namespace {

// Parses a decimal number with no sign and no leading zeros, up to `max`.
std::optional<uint32_t> ParseDecimal(std::string_view text, uint32_t max) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  if (text.size() > 1 && text[0] == '0') return std::nullopt;
  uint32_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value > max) return std::nullopt;
  return value;
}

std::string Quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

constexpr char kBase64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

Result<Ipv4Address> Ipv4Address::Parse(std::string_view text) {
  uint32_t value = 0;
  std::string_view rest = text;
  for (int octet = 0; octet < 4; ++octet) {
    size_t dot = rest.find('.');
    std::string_view part = octet == 3 ? rest : rest.substr(0, dot);
    if (octet < 3 && dot == std::string_view::npos) {
      return Status::InvalidArgument(Quote(text) + " is not an IPv4 address");
    }
    auto number = ParseDecimal(part, 255);
    if (!number) return Status::InvalidArgument(Quote(text) + " is not an IPv4 address");
    value = (value << 8) | *number;
    if (octet < 3) rest = rest.substr(dot + 1);
  }
  return Ipv4Address{value};
}

std::string Ipv4Address::ToString() const {
  return std::to_string(value >> 24) + "." + std::to_string((value >> 16) & 0xff) + "." +
         std::to_string((value >> 8) & 0xff) + "." + std::to_string(value & 0xff);
}

Result<Ipv4Cidr> Ipv4Cidr::Parse(std::string_view text, AllowBareAddress bare) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    if (bare == AllowBareAddress::kNo) {
      return Status::InvalidArgument(Quote(text) + " is not a CIDR (expected ADDRESS/PREFIX, e.g. 10.77.0.0/24)");
    }
    auto address = Ipv4Address::Parse(text);
    if (!address.ok()) return Status::InvalidArgument(Quote(text) + " is not an IPv4 address or CIDR");
    return Ipv4Cidr{*address, 32};
  }
  auto address = Ipv4Address::Parse(text.substr(0, slash));
  auto prefix = ParseDecimal(text.substr(slash + 1), 32);
  if (!address.ok() || !prefix) {
    return Status::InvalidArgument(Quote(text) + " is not a CIDR (expected ADDRESS/PREFIX with PREFIX 0-32)");
  }
  return Ipv4Cidr{*address, static_cast<int>(*prefix)};
}

std::string Ipv4Cidr::ToString() const { return address.ToString() + "/" + std::to_string(prefix); }

uint64_t Ipv4Cidr::HostCount() const {
  uint64_t size = uint64_t{1} << (32 - prefix);
  return prefix <= 30 ? size - 2 : size;
}

Result<WireguardKey> WireguardKey::Parse(std::string_view base64) {
  auto invalid = [&] {
    return Status::InvalidArgument(Quote(base64.size() > 60 ? base64.substr(0, 60) : base64) +
                                   " is not a WireGuard key (expected 44 characters of base64 encoding 32 bytes)");
  };
  if (base64.size() != 44 || base64[43] != '=' || base64[42] == '=') return invalid();
  WireguardKey key;
  uint32_t accumulator = 0;
  int bits = 0;
  size_t out = 0;
  for (size_t i = 0; i < 43; ++i) {
    int v = Base64Value(base64[i]);
    if (v < 0) return invalid();
    accumulator = (accumulator << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (out < 32) key.bytes[out++] = static_cast<uint8_t>((accumulator >> bits) & 0xff);
    }
  }
  // 43 characters carry 258 bits: the last 2 must be zero in canonical base64.
  if (out != 32 || (accumulator & ((1u << bits) - 1)) != 0) return invalid();
  return key;
}

std::string WireguardKey::ToBase64() const {
  std::string out;
  out.reserve(44);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += kBase64Alphabet[(n >> 6) & 63];
    out += kBase64Alphabet[n & 63];
  }
  uint32_t n = (uint32_t{bytes[30]} << 16) | (uint32_t{bytes[31]} << 8);
  out += kBase64Alphabet[(n >> 18) & 63];
  out += kBase64Alphabet[(n >> 12) & 63];
  out += kBase64Alphabet[(n >> 6) & 63];
  out += '=';
  return out;
}

bool WireguardKey::IsZero() const {
  for (uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

Result<uint16_t> ParsePort(std::string_view text) {
  auto number = ParseDecimal(text, 65535);
  if (!number || *number == 0) {
    return Status::InvalidArgument(Quote(text) + " is not a port (expected 1-65535)");
  }
  return static_cast<uint16_t>(*number);
}

}  // namespace ww
