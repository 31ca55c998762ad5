#pragma once
// The table cmake/EmbedFiles.cmake generates (web_assets_data.cc); only web_assets.cc reads it.

#include <cstddef>

namespace ww::web_assets_internal {

struct EmbeddedFile {
  const char* name;
  const unsigned char* data;
  std::size_t size;
};

extern const EmbeddedFile kEmbeddedFiles[];
extern const std::size_t kEmbeddedFileCount;

}  // namespace ww::web_assets_internal
