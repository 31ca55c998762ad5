#pragma once
// EncodeGrayscalePng: an 8-bit grayscale image as a PNG file (signature, IHDR, one zlib IDAT,
// IEND; filter 0 on every row). Enough for QR codes; zlib does the compression and the CRCs.

#include <cstdint>
#include <string>
#include <vector>

namespace ww::cli {

// REQUIRES: pixels.size() == width * height, width and height > 0. 0 is black, 255 white.
std::string EncodeGrayscalePng(uint32_t width, uint32_t height, const std::vector<uint8_t>& pixels);

}  // namespace ww::cli
