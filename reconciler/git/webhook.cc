#include "reconciler/git/webhook.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <optional>

namespace ww {
namespace {

constexpr size_t kSha256Bytes = 32;
using Digest = std::array<unsigned char, kSha256Bytes>;

char LowerAscii(char character) {
  return character >= 'A' && character <= 'Z' ? static_cast<char>(character - 'A' + 'a') : character;
}

bool SameNameIgnoringCase(std::string_view left, std::string_view right) {
  if (left.size() != right.size()) return false;
  for (size_t index = 0; index < left.size(); ++index) {
    if (LowerAscii(left[index]) != LowerAscii(right[index])) return false;
  }
  return true;
}

struct HeaderLookup {
  size_t count = 0;
  std::string value;  // the first occurrence
};

HeaderLookup FindHeader(const WebhookHeaders& headers, std::string_view name) {
  HeaderLookup lookup;
  for (const auto& [header_name, value] : headers) {
    if (!SameNameIgnoringCase(header_name, name)) continue;
    if (lookup.count++ == 0) lookup.value = value;
  }
  return lookup;
}

std::optional<Digest> HmacSha256(std::string_view secret, std::string_view body) {
  Digest digest{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(body.data()),
           body.size(), digest.data(), &length) == nullptr ||
      length != kSha256Bytes) {
    return std::nullopt;
  }
  return digest;
}

std::optional<Digest> Sha256(std::string_view text) {
  Digest digest{};
  unsigned int length = 0;
  if (EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1 || length != kSha256Bytes) {
    return std::nullopt;
  }
  return digest;
}

int HexValue(char character) {
  if (character >= '0' && character <= '9') return character - '0';
  if (character >= 'a' && character <= 'f') return character - 'a' + 10;
  if (character >= 'A' && character <= 'F') return character - 'A' + 10;
  return -1;
}

std::optional<Digest> DecodeHexDigest(std::string_view hex) {
  if (hex.size() != 2 * kSha256Bytes) return std::nullopt;
  Digest digest{};
  for (size_t index = 0; index < kSha256Bytes; ++index) {
    const int high = HexValue(hex[2 * index]);
    const int low = HexValue(hex[2 * index + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    digest[index] = static_cast<unsigned char>(high * 16 + low);
  }
  return digest;
}

std::string_view TrimSpaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

struct Scheme {
  WebhookProvider provider;
  std::string_view signature_header;
  std::string_view prefix;  // before the hex ("sha256="), or "" for Gitea; unused for GitLab
  std::string_view delivery_header;
};

// Gitea first: it also sends X-Hub-Signature-256, and its own header names it.
constexpr std::array<Scheme, 4> kSchemes{{
    {WebhookProvider::kGitea, "X-Gitea-Signature", "", "X-Gitea-Delivery"},
    {WebhookProvider::kGithub, "X-Hub-Signature-256", "sha256=", "X-GitHub-Delivery"},
    {WebhookProvider::kGitlab, "X-Gitlab-Token", "", "X-Gitlab-Event-UUID"},
    {WebhookProvider::kGeneric, "X-Signature", "sha256=", "X-Delivery-Id"},
}};

WebhookVerdict Reject(WebhookVerdict verdict, std::string reason) {
  verdict.decision = WebhookDecision::kRejected;
  verdict.reason = std::move(reason);
  return verdict;
}

}  // namespace

std::string_view WebhookProviderName(WebhookProvider provider) {
  switch (provider) {
    case WebhookProvider::kGithub:
      return "github";
    case WebhookProvider::kGitea:
      return "gitea";
    case WebhookProvider::kGitlab:
      return "gitlab";
    case WebhookProvider::kGeneric:
      return "generic";
  }
  return "generic";
}

std::string WebhookSignatureHex(std::string_view secret, std::string_view body) {
  const std::optional<Digest> digest = HmacSha256(secret, body);
  if (!digest) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char byte : *digest) {
    hex.push_back(kHex[byte >> 4]);
    hex.push_back(kHex[byte & 0x0f]);
  }
  return hex;
}

WebhookVerdict VerifyWebhook(const WebhookHeaders& headers, std::string_view body, std::string_view secret) {
  WebhookVerdict verdict;
  const Scheme* scheme = nullptr;
  HeaderLookup signature;
  for (const Scheme& candidate : kSchemes) {
    signature = FindHeader(headers, candidate.signature_header);
    if (signature.count > 0) {
      scheme = &candidate;
      break;
    }
  }
  if (scheme == nullptr) {
    return Reject(verdict, "no signature header (X-Hub-Signature-256, X-Gitea-Signature, X-Gitlab-Token or X-Signature)");
  }
  verdict.provider = scheme->provider;
  verdict.delivery_id = FindHeader(headers, scheme->delivery_header).value;
  const std::string header_name(scheme->signature_header);
  if (signature.count > 1) return Reject(verdict, header_name + " appears more than once");
  if (secret.empty()) return Reject(verdict, "no webhook secret is configured");

  if (scheme->provider == WebhookProvider::kGitlab) {
    // Hashing both sides first keeps the comparison constant-time whatever the lengths.
    const std::optional<Digest> expected = Sha256(secret);
    const std::optional<Digest> received = Sha256(TrimSpaces(signature.value));
    if (!expected || !received) return Reject(verdict, "cannot hash the token");
    if (CRYPTO_memcmp(expected->data(), received->data(), kSha256Bytes) != 0) {
      return Reject(verdict, header_name + " does not match the webhook secret");
    }
  } else {
    std::string_view value = TrimSpaces(signature.value);
    if (!value.starts_with(scheme->prefix)) {
      return Reject(verdict, header_name + " must start with \"" + std::string(scheme->prefix) + "\"");
    }
    value.remove_prefix(scheme->prefix.size());
    const std::optional<Digest> received = DecodeHexDigest(value);
    if (!received) return Reject(verdict, header_name + " is not 64 hex digits");
    const std::optional<Digest> expected = HmacSha256(secret, body);
    if (!expected) return Reject(verdict, "cannot compute the HMAC");
    if (CRYPTO_memcmp(expected->data(), received->data(), kSha256Bytes) != 0) {
      return Reject(verdict, header_name + " does not match the body signed with the webhook secret");
    }
  }
  verdict.decision = WebhookDecision::kAccepted;
  return verdict;
}

}  // namespace ww
