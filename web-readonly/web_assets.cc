#include "web-readonly/web_assets.h"

#include <span>

#include "web-readonly/web_assets_internal.h"

namespace ww {
namespace {

std::string_view ContentType(std::string_view name) {
  auto ends_with = [name](std::string_view suffix) { return name.ends_with(suffix); };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  if (ends_with(".js")) return "text/javascript; charset=utf-8";
  if (ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

}  // namespace

std::optional<WebAsset> FindWebAsset(std::string_view path) {
  if (path == "/") path = "/index.html";
  if (!path.starts_with('/')) return std::nullopt;
  std::string_view name = path.substr(1);
  std::span<const web_assets_internal::EmbeddedFile> files(web_assets_internal::kEmbeddedFiles,
                                                           web_assets_internal::kEmbeddedFileCount);
  for (const web_assets_internal::EmbeddedFile& file : files) {
    if (name == file.name) {
      // The bytes are text files' bytes; viewing them as chars is what serving needs.
      std::string_view content(reinterpret_cast<const char*>(file.data), file.size);
      return WebAsset{file.name, ContentType(name), content};
    }
  }
  return std::nullopt;
}

}  // namespace ww
