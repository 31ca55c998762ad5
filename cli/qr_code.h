#pragma once
// QrCode: a text as a QR code (libqrencode, error correction M, 8-bit mode), and the two ways
// `wwctl peer` shows one: in the terminal with UTF-8 half blocks (two module rows per line)
// and as a PNG file. A phone's WireGuard app scans either. Only cli/qr_code.cc includes
// qrencode.h and only cli/png_image.cc zlib.h.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schema/result.h"

namespace ww::cli {

// How the terminal rendering draws dark modules.
enum class QrColors {
  kAnsi,   // ANSI black on white, whatever the terminal's theme (the default)
  kPlain,  // UTF-8 blocks only: dark modules drawn in the terminal's foreground colour
};

class QrCode {
 public:
  // kInvalidArgument when `text` is empty or too long for any QR version (about 2,300 bytes
  // at level M); kInternal when libqrencode fails otherwise.
  static Result<QrCode> Encode(std::string_view text);

  int width() const { return width_; }  // modules per side, without the quiet zone
  bool Dark(int x, int y) const { return modules_[static_cast<size_t>(y) * static_cast<size_t>(width_) + static_cast<size_t>(x)] != 0; }

  // Lines of "▀", "▄", "█" and spaces with a quiet zone of kTerminalQuietZone modules, each
  // ending in '\n'; kAnsi wraps every line in black-on-white escape codes.
  std::string ToTerminal(QrColors colors) const;
  // A grayscale PNG, `scale` pixels per module, with the standard quiet zone of 4 modules.
  std::string ToPng(int scale) const;

  static constexpr int kTerminalQuietZone = 2;
  static constexpr int kPngQuietZone = 4;

 private:
  QrCode(int width, std::vector<uint8_t> modules) : width_(width), modules_(std::move(modules)) {}
  int width_ = 0;
  std::vector<uint8_t> modules_;  // row-major, 1 = dark
};

}  // namespace ww::cli
