#pragma once
// Enrollment tokens: "wwt_<id>_<secret>", where id is 8 characters of [a-z0-9] (public, the
// lookup key) and secret is 32 random bytes as base64url without padding (43 characters).
// The store keeps only SHA-256(secret): a fast hash suffices for a 256-bit random secret.
// Parse errors never echo the token, since it may be a real secret pasted in the wrong place.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "schema/result.h"

namespace ww {

inline constexpr std::string_view kTokenPrefix = "wwt_";
inline constexpr std::size_t kTokenIdLength = 8;
inline constexpr std::size_t kTokenSecretBytes = 32;
inline constexpr std::size_t kTokenSecretLength = 43;  // base64url of 32 bytes, unpadded
inline constexpr std::size_t kTokenLength = kTokenPrefix.size() + kTokenIdLength + 1 + kTokenSecretLength;

using TokenHash = std::array<std::uint8_t, 32>;

struct GeneratedToken {
  std::string text;  // shown once to the person who created it, never stored
  std::string id;
  TokenHash secret_sha256{};
};

struct ParsedToken {
  std::string id;
  TokenHash secret_sha256{};
};

// A new token from RAND_bytes (id) and RAND_priv_bytes (secret).
Result<GeneratedToken> GenerateToken();

// Accepts exactly the format above (surrounding whitespace is NOT trimmed: callers reading a
// file strip its final newline). Any other input gets the same kInvalidArgument message.
Result<ParsedToken> ParseToken(std::string_view text);

// Constant-time comparison of two secret hashes.
bool TokenHashesEqual(const TokenHash& left, const TokenHash& right);

}  // namespace ww
