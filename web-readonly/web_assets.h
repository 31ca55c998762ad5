#pragma once
// The status page's files (index.html, style.css, app.js, favicon.svg), embedded in the
// binary at build time. Request paths map to files by exact name only, so nothing outside the
// embedded set can be reached. The returned views point at static data. Thread-safe.

#include <optional>
#include <string_view>

namespace ww {

struct WebAsset {
  std::string_view name;          // "app.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view content;
};

// "/" is index.html; "/app.js" is app.js. nullopt for anything else.
std::optional<WebAsset> FindWebAsset(std::string_view path);

}  // namespace ww
