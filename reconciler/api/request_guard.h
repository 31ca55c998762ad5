#pragma once
// The reconciler's request guard: one pure function that looks at a request's method, raw
// target and headers (before any body is read) and refuses what the front end does not take:
// chunked and compressed bodies, length-less or oversized bodies, header floods, long or
// traversing paths and unknown methods (reconciler/api/API.md lists the limits); and
// SplitTarget, the one place a raw target becomes the decoded path and query that handlers
// see, so the guard checks exactly what is routed. No library types here, so it is tested
// without sockets. Thread-safe (no state).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ww {

// What the guard needs from a request. `path` is the raw request target as sent (undecoded,
// with any query string), so "%2e%2e" and "%00" are still visible.
struct RequestView {
  std::string method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct GuardLimits {
  // Longest accepted request target (path and query). Default: 256.
  std::size_t max_path = 256;
  // Most header lines accepted. Default: 64.
  std::size_t max_headers = 64;
  // Largest accepted Content-Length; callers set it per route. Default: 256 KiB.
  std::size_t max_body = 256 * 1024;
};

// Allowed when status == 0; otherwise the HTTP status to answer with and why.
struct GuardVerdict {
  int status = 0;
  std::string reason;

  bool Allowed() const { return status == 0; }
  friend bool operator==(const GuardVerdict&, const GuardVerdict&) = default;
};

// A request target split at its first '?' while still raw, then each part percent-decoded,
// so an encoded "%3f" stays inside the path (where the guard refuses it).
struct RequestTarget {
  std::string path;                                        // decoded
  std::vector<std::pair<std::string, std::string>> query;  // names and values decoded, '+' a space
};

// nullopt when the path or a query part holds a malformed %-escape ("%", "%4", "%zz").
std::optional<RequestTarget> SplitTarget(std::string_view raw_target);

// Checks, in this order: method (405), header count (431), path (400), Transfer-Encoding (411),
// Content-Encoding (415), Content-Length (400 malformed or duplicate, 411 missing on POST/PUT,
// 413 above max_body). Header names are compared case-insensitively. The path check splits the
// raw target with SplitTarget and refuses control bytes anywhere, and "?", "..", "//" and "\\"
// in the decoded path.
GuardVerdict CheckRequest(const RequestView& request, const GuardLimits& limits);

}  // namespace ww
