#include "cli/png_image.h"

#include <zlib.h>

#include <string_view>

namespace ww::cli {

namespace {

void AppendBigEndian(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((value >> shift) & 0xff);
}

// length, type, data, CRC-32 of type and data.
void AppendChunk(std::string& out, std::string_view type, std::string_view data) {
  AppendBigEndian(out, static_cast<uint32_t>(data.size()));
  std::string typed = std::string(type) + std::string(data);
  out += typed;
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(typed.data()), static_cast<uInt>(typed.size()));
  AppendBigEndian(out, static_cast<uint32_t>(crc));
}

}  // namespace

std::string EncodeGrayscalePng(uint32_t width, uint32_t height, const std::vector<uint8_t>& pixels) {
  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::string header;
  AppendBigEndian(header, width);
  AppendBigEndian(header, height);
  header += '\x08';  // bit depth
  header += '\x00';  // colour type: grayscale
  header += '\x00';  // compression: deflate
  header += '\x00';  // filter method 0
  header += '\x00';  // no interlace
  AppendChunk(png, "IHDR", header);

  std::string raw;
  raw.reserve(static_cast<size_t>(height) * (width + 1));
  for (uint32_t y = 0; y < height; ++y) {
    raw += '\x00';  // filter type None
    raw.append(reinterpret_cast<const char*>(pixels.data()) + static_cast<size_t>(y) * width, width);
  }
  uLongf compressed_size = compressBound(static_cast<uLong>(raw.size()));
  std::string compressed(compressed_size, '\0');
  // compress2 fails only on memory exhaustion or a bad level; the buffer is large enough.
  compress2(reinterpret_cast<Bytef*>(compressed.data()), &compressed_size, reinterpret_cast<const Bytef*>(raw.data()),
            static_cast<uLong>(raw.size()), Z_BEST_COMPRESSION);
  compressed.resize(compressed_size);
  AppendChunk(png, "IDAT", compressed);
  AppendChunk(png, "IEND", "");
  return png;
}

}  // namespace ww::cli
