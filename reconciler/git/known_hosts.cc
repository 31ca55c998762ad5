#include "reconciler/git/known_hosts.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <optional>
#include <string>
#include <vector>

namespace ww {
namespace {

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t position = 0;
  while (position < line.size()) {
    while (position < line.size() && (line[position] == ' ' || line[position] == '\t')) ++position;
    if (position >= line.size()) break;
    size_t end = position;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
    fields.push_back(line.substr(position, end - position));
    position = end;
  }
  return fields;
}

std::optional<std::string> DecodeBase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::string decoded(text.size() / 4 * 3, '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                                     reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (length < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  size_t padding = 0;
  if (text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  decoded.resize(static_cast<size_t>(length) - padding);
  return decoded;
}

bool GlobMatch(std::string_view pattern, std::string_view text) {
  if (pattern.empty()) return text.empty();
  if (pattern.front() == '*') {
    for (size_t skip = 0; skip <= text.size(); ++skip) {
      if (GlobMatch(pattern.substr(1), text.substr(skip))) return true;
    }
    return false;
  }
  if (text.empty()) return false;
  if (pattern.front() != '?' && pattern.front() != text.front()) return false;
  return GlobMatch(pattern.substr(1), text.substr(1));
}

// "|1|base64(salt)|base64(HMAC-SHA1(salt, name))".
bool HashedMatch(std::string_view entry, std::string_view name) {
  const std::vector<std::string_view> parts = Split(entry.substr(3), '|');
  if (parts.size() != 2) return false;
  const std::optional<std::string> salt = DecodeBase64(parts[0]);
  const std::optional<std::string> expected = DecodeBase64(parts[1]);
  if (!salt || !expected || expected->size() != 20) return false;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  if (HMAC(EVP_sha1(), salt->data(), static_cast<int>(salt->size()), reinterpret_cast<const unsigned char*>(name.data()),
           name.size(), digest, &digest_length) == nullptr) {
    return false;
  }
  return digest_length == expected->size() && CRYPTO_memcmp(digest, expected->data(), digest_length) == 0;
}

// Whether the comma-separated host patterns select `name` (a negated match vetoes).
bool HostsSelect(std::string_view patterns, std::string_view name) {
  bool selected = false;
  for (std::string_view pattern : Split(patterns, ',')) {
    const bool negated = !pattern.empty() && pattern.front() == '!';
    if (negated) pattern.remove_prefix(1);
    const bool matches = pattern.substr(0, 3) == "|1|" ? HashedMatch(pattern, name) : GlobMatch(pattern, name);
    if (matches && negated) return false;
    if (matches) selected = true;
  }
  return selected;
}

}  // namespace

HostKeyMatch MatchKnownHosts(std::string_view known_hosts, std::string_view host, int port, std::string_view key_blob) {
  const std::string name = port == 22 ? std::string(host) : "[" + std::string(host) + "]:" + std::to_string(port);
  bool host_listed = false;
  bool key_listed = false;
  for (std::string_view line : Split(known_hosts, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::vector<std::string_view> fields = Fields(line);
    if (fields.empty() || fields[0].front() == '#') continue;
    std::string_view marker;
    if (fields[0].front() == '@') {
      marker = fields[0];
      fields.erase(fields.begin());
    }
    if (marker == "@cert-authority" || fields.size() < 3) continue;
    if (!marker.empty() && marker != "@revoked") continue;
    if (!HostsSelect(fields[0], name)) continue;
    const std::optional<std::string> key = DecodeBase64(fields[2]);
    const bool same_key = key && key->size() == key_blob.size() && CRYPTO_memcmp(key->data(), key_blob.data(), key_blob.size()) == 0;
    if (marker == "@revoked") {
      if (same_key) return HostKeyMatch::kRevoked;
      continue;
    }
    host_listed = true;
    if (same_key) key_listed = true;
  }
  if (key_listed) return HostKeyMatch::kMatch;
  return host_listed ? HostKeyMatch::kMismatch : HostKeyMatch::kUnknownHost;
}

}  // namespace ww
