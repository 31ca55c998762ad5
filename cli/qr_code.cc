#include "cli/qr_code.h"

#include <qrencode.h>

#include <cerrno>
#include <memory>
#include <string>

#include "cli/png_image.h"

namespace ww::cli {

namespace {

struct QrcodeDeleter {
  void operator()(QRcode* code) const { QRcode_free(code); }
};

}  // namespace

Result<QrCode> QrCode::Encode(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument("nothing to encode as a QR code");
  std::string terminated(text);  // libqrencode reads a C string
  if (terminated.find('\0') != std::string::npos) return Status::InvalidArgument("a QR code text cannot hold NUL");
  errno = 0;
  // Version 0: the smallest that fits. Level M survives a smudged screen and stays small.
  std::unique_ptr<QRcode, QrcodeDeleter> code(QRcode_encodeString8bit(terminated.c_str(), 0, QR_ECLEVEL_M));
  if (!code) {
    if (errno == ERANGE) {
      return Status::InvalidArgument("the text is too long for a QR code (" + std::to_string(text.size()) + " bytes)");
    }
    return Status::Internal("libqrencode could not encode the text");
  }
  std::vector<uint8_t> modules(static_cast<size_t>(code->width) * static_cast<size_t>(code->width));
  for (size_t i = 0; i < modules.size(); ++i) modules[i] = code->data[i] & 1;  // bit 0: dark module
  return QrCode(code->width, std::move(modules));
}

std::string QrCode::ToTerminal(QrColors colors) const {
  const int size = width_ + 2 * kTerminalQuietZone;
  // Outside the symbol everything is light (the quiet zone).
  auto dark = [&](int x, int y) {
    x -= kTerminalQuietZone;
    y -= kTerminalQuietZone;
    return x >= 0 && y >= 0 && x < width_ && y < width_ && Dark(x, y);
  };
  std::string out;
  for (int y = 0; y < size; y += 2) {
    if (colors == QrColors::kAnsi) out += "\x1b[30;47m";  // black on white
    for (int x = 0; x < size; ++x) {
      bool top = dark(x, y);
      bool bottom = y + 1 < size && dark(x, y + 1);
      out += top ? (bottom ? "\u2588" : "\u2580") : (bottom ? "\u2584" : " ");
    }
    if (colors == QrColors::kAnsi) out += "\x1b[0m";
    out += '\n';
  }
  return out;
}

std::string QrCode::ToPng(int scale) const {
  const uint32_t side = static_cast<uint32_t>((width_ + 2 * kPngQuietZone) * scale);
  std::vector<uint8_t> pixels(static_cast<size_t>(side) * side, 255);
  for (int y = 0; y < width_; ++y) {
    for (int x = 0; x < width_; ++x) {
      if (!Dark(x, y)) continue;
      for (int dy = 0; dy < scale; ++dy) {
        size_t row = static_cast<size_t>((y + kPngQuietZone) * scale + dy) * side;
        for (int dx = 0; dx < scale; ++dx) pixels[row + static_cast<size_t>((x + kPngQuietZone) * scale + dx)] = 0;
      }
    }
  }
  return EncodeGrayscalePng(side, side, pixels);
}

}  // namespace ww::cli
