#include "reconciler/api/request_guard.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ww {
namespace {

constexpr std::array<std::string_view, 5> kAllowedMethods = {"GET", "HEAD", "POST", "PUT", "DELETE"};
// 19 decimal digits always fit in 64 bits; anything longer is certainly above any limit.
constexpr std::size_t kMaxContentLengthDigits = 19;

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  char lower = LowerAscii(c);
  if (lower >= 'a' && lower <= 'f') return lower - 'a' + 10;
  return -1;
}

// Percent-decodes once; nullopt for a malformed escape ("%", "%4", "%zz"). In query parts
// (PlusSign::kSpace) '+' stands for a space, as in HTML forms.
enum class PlusSign { kLiteral, kSpace };
std::optional<std::string> PercentDecode(std::string_view text, PlusSign plus) {
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+' && plus == PlusSign::kSpace) {
      decoded.push_back(' ');
      continue;
    }
    if (text[i] != '%') {
      decoded.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    int high = HexValue(text[i + 1]);
    int low = HexValue(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    decoded.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return decoded;
}

bool HasControl(std::string_view text) {
  for (char c : text) {
    if (IsControl(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

GuardVerdict Reject(int status, std::string reason) { return GuardVerdict{status, std::move(reason)}; }

GuardVerdict CheckPath(std::string_view target, const GuardLimits& limits) {
  if (target.size() > limits.max_path) {
    return Reject(400, "request target is " + std::to_string(target.size()) + " bytes, the limit is " +
                           std::to_string(limits.max_path));
  }
  if (target.empty() || target.front() != '/') {
    return Reject(400, "request target \"" + std::string(target) + "\" does not start with \"/\"");
  }
  std::optional<RequestTarget> split = SplitTarget(target);
  if (!split) return Reject(400, "request target \"" + std::string(target) + "\" has a malformed %-escape");
  // Decoded control bytes ("%00", "%0d%0a") anywhere, in the path or in a query part.
  bool control = HasControl(target) || HasControl(split->path);
  for (const auto& [name, value] : split->query) control = control || HasControl(name) || HasControl(value);
  if (control) return Reject(400, "request target \"" + std::string(target) + "\" contains a control character");
  // The decoded path is what handlers route on: "%3f" must not cut it short, and "%2e%2e",
  // "%2f%2f" and "%5c" must not smuggle traversal past a check of the raw text.
  for (std::string_view forbidden : {"..", "//", "\\", "?"}) {
    if (split->path.find(forbidden) != std::string::npos) {
      return Reject(400, "request path \"" + std::string(target) + "\" contains \"" + std::string(forbidden) + "\"");
    }
  }
  return GuardVerdict{};
}

}  // namespace

std::optional<RequestTarget> SplitTarget(std::string_view raw_target) {
  std::size_t question = raw_target.find('?');
  RequestTarget target;
  std::optional<std::string> path = PercentDecode(raw_target.substr(0, question), PlusSign::kLiteral);
  if (!path) return std::nullopt;
  target.path = std::move(*path);
  if (question == std::string_view::npos) return target;
  std::string_view rest = raw_target.substr(question + 1);
  while (!rest.empty()) {
    std::size_t ampersand = rest.find('&');
    std::string_view part = rest.substr(0, ampersand);
    rest = ampersand == std::string_view::npos ? std::string_view() : rest.substr(ampersand + 1);
    if (part.empty()) continue;
    std::size_t equals = part.find('=');
    std::optional<std::string> name = PercentDecode(part.substr(0, equals), PlusSign::kSpace);
    std::optional<std::string> value =
        PercentDecode(equals == std::string_view::npos ? std::string_view() : part.substr(equals + 1), PlusSign::kSpace);
    if (!name || !value) return std::nullopt;
    if (!name->empty()) target.query.emplace_back(std::move(*name), std::move(*value));
  }
  return target;
}

GuardVerdict CheckRequest(const RequestView& request, const GuardLimits& limits) {
  bool known_method = false;
  for (std::string_view method : kAllowedMethods) known_method = known_method || request.method == method;
  if (!known_method) return Reject(405, "method \"" + request.method + "\" is not allowed");

  if (request.headers.size() > limits.max_headers) {
    return Reject(431, std::to_string(request.headers.size()) + " header lines, the limit is " +
                           std::to_string(limits.max_headers));
  }

  if (GuardVerdict path = CheckPath(request.path, limits); !path.Allowed()) return path;

  const std::string* content_length = nullptr;
  std::size_t content_length_count = 0;
  for (const auto& [name, value] : request.headers) {
    if (EqualsIgnoringCase(name, "Transfer-Encoding")) {
      return Reject(411, "Transfer-Encoding \"" + value + "\" is not accepted; send Content-Length");
    }
    if (EqualsIgnoringCase(name, "Content-Encoding")) {
      return Reject(415, "Content-Encoding \"" + value + "\" is not accepted");
    }
    if (EqualsIgnoringCase(name, "Content-Length")) {
      content_length = &value;
      ++content_length_count;
    }
  }

  if (content_length_count > 1) return Reject(400, "Content-Length appears " + std::to_string(content_length_count) + " times");
  if (content_length == nullptr) {
    if (request.method == "POST" || request.method == "PUT") {
      return Reject(411, request.method + " without Content-Length");
    }
    return GuardVerdict{};
  }
  const std::string& text = *content_length;
  bool decimal = !text.empty();
  for (char c : text) decimal = decimal && c >= '0' && c <= '9';
  if (!decimal) return Reject(400, "Content-Length \"" + text + "\" is not a decimal number");
  std::size_t significant = text.find_first_not_of('0');
  std::string_view digits = significant == std::string::npos ? std::string_view("0") : std::string_view(text).substr(significant);
  std::uint64_t length = 0;
  bool too_long = digits.size() > kMaxContentLengthDigits;
  if (!too_long) {
    for (char c : digits) length = length * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (too_long || length > limits.max_body) {
    return Reject(413, "Content-Length " + text + " is above the limit of " + std::to_string(limits.max_body) + " bytes");
  }
  return GuardVerdict{};
}

}  // namespace ww
