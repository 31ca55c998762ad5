// Enrollment token generation and parsing. The base64url codec is local because the alphabet
// check and the canonical-padding check are part of parsing, and EVP_DecodeBlock does neither.

#include "reconciler/pki/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "reconciler/pki/openssl_handles.h"

namespace ww {
namespace {

constexpr char kBase64UrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr char kIdAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::size_t kIdAlphabetSize = sizeof(kIdAlphabet) - 1;

Status Malformed() {
  return Status::InvalidArgument("enrollment token is malformed: expected wwt_<8 characters a-z0-9>_<43 base64url "
                                 "characters> (the token is not shown here)");
}

int Base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

std::string Base64UrlEncode(const unsigned char* data, std::size_t size) {
  std::string text;
  text.reserve((size * 4 + 2) / 3);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < size; ++i) {
    buffer = (buffer << 8) | data[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      text.push_back(kBase64UrlAlphabet[(buffer >> bits) & 0x3f]);
    }
  }
  if (bits > 0) text.push_back(kBase64UrlAlphabet[(buffer << (6 - bits)) & 0x3f]);
  OPENSSL_cleanse(&buffer, sizeof(buffer));
  return text;
}

// Decodes exactly kTokenSecretBytes; refuses other alphabets and non-zero trailing bits (so
// each secret has exactly one spelling).
bool DecodeSecret(std::string_view text, std::array<unsigned char, kTokenSecretBytes>& secret) {
  if (text.size() != kTokenSecretLength) return false;
  std::uint32_t buffer = 0;
  int bits = 0;
  std::size_t written = 0;
  bool valid = true;
  for (const char c : text) {
    const int value = Base64UrlValue(c);
    if (value < 0) {
      valid = false;
      break;
    }
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      secret[written++] = static_cast<unsigned char>((buffer >> bits) & 0xff);
    }
  }
  if (valid && (written != kTokenSecretBytes || (buffer & ((1u << bits) - 1)) != 0)) valid = false;
  OPENSSL_cleanse(&buffer, sizeof(buffer));
  return valid;
}

bool IsValidId(std::string_view id) {
  if (id.size() != kTokenIdLength) return false;
  for (const char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

Result<TokenHash> HashSecret(const unsigned char* secret, std::size_t size) {
  TokenHash digest{};
  unsigned int length = 0;
  if (EVP_Digest(secret, size, digest.data(), &length, EVP_sha256(), nullptr) != 1 || length != digest.size()) {
    return pki_internal::OpenSslInternalError("EVP_Digest(SHA-256)");
  }
  return digest;
}

}  // namespace

Result<GeneratedToken> GenerateToken() {
  GeneratedToken token;
  // Rejection sampling keeps the id uniform over 36 characters: 252 = 7 * 36.
  while (token.id.size() < kTokenIdLength) {
    std::array<unsigned char, 16> random{};
    if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
      return pki_internal::OpenSslInternalError("RAND_bytes");
    }
    for (const unsigned char byte : random) {
      if (byte >= 252 || token.id.size() == kTokenIdLength) continue;
      token.id.push_back(kIdAlphabet[byte % kIdAlphabetSize]);
    }
  }
  std::array<unsigned char, kTokenSecretBytes> secret{};
  if (RAND_priv_bytes(secret.data(), static_cast<int>(secret.size())) != 1) {
    return pki_internal::OpenSslInternalError("RAND_priv_bytes");
  }
  Result<TokenHash> hash = HashSecret(secret.data(), secret.size());
  std::string encoded = Base64UrlEncode(secret.data(), secret.size());
  OPENSSL_cleanse(secret.data(), secret.size());
  if (!hash.ok()) return hash.status();
  token.secret_sha256 = *hash;
  token.text = std::string(kTokenPrefix) + token.id + "_" + encoded;
  OPENSSL_cleanse(encoded.data(), encoded.size());
  return token;
}

Result<ParsedToken> ParseToken(std::string_view text) {
  if (text.size() != kTokenLength || text.substr(0, kTokenPrefix.size()) != kTokenPrefix ||
      text[kTokenPrefix.size() + kTokenIdLength] != '_') {
    return Malformed();
  }
  const std::string_view id = text.substr(kTokenPrefix.size(), kTokenIdLength);
  if (!IsValidId(id)) return Malformed();
  std::array<unsigned char, kTokenSecretBytes> secret{};
  const bool decoded = DecodeSecret(text.substr(kTokenPrefix.size() + kTokenIdLength + 1), secret);
  Result<TokenHash> hash = decoded ? HashSecret(secret.data(), secret.size()) : Result<TokenHash>(Malformed());
  OPENSSL_cleanse(secret.data(), secret.size());
  if (!hash.ok()) return hash.status();
  return ParsedToken{std::string(id), *hash};
}

bool TokenHashesEqual(const TokenHash& left, const TokenHash& right) {
  return CRYPTO_memcmp(left.data(), right.data(), left.size()) == 0;
}

}  // namespace ww
