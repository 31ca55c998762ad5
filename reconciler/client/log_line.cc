#include "reconciler/client/log_line.h"

#include <cstdio>
#include <ctime>
#include <ostream>

namespace ww {

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return "ERROR";
    case LogLevel::kWarning: return "WARN";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kDebug: return "DEBUG";
  }
  return "INFO";
}

Result<LogLevel> ParseLogLevel(std::string_view text) {
  if (text == "error") return LogLevel::kError;
  if (text == "warning" || text == "warn") return LogLevel::kWarning;
  if (text == "info") return LogLevel::kInfo;
  if (text == "debug") return LogLevel::kDebug;
  return Status::InvalidArgument("--log-level must be error, warning, info or debug, not \"" +
                                 std::string(text.substr(0, 40)) + "\"");
}

std::string Rfc3339Milliseconds(std::chrono::system_clock::time_point at) {
  auto milliseconds = std::chrono::floor<std::chrono::milliseconds>(at.time_since_epoch()).count();
  auto seconds = milliseconds / 1000;
  auto fraction = milliseconds % 1000;
  if (fraction < 0) {
    fraction += 1000;
    --seconds;
  }
  std::time_t whole = static_cast<std::time_t>(seconds);
  std::tm parts{};
  gmtime_r(&whole, &parts);
  char text[40];
  std::size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &parts);
  char tail[8];
  std::snprintf(tail, sizeof tail, ".%03dZ", static_cast<int>(fraction));
  return std::string(text, length) + tail;
}

std::string FormatLogLine(std::chrono::system_clock::time_point at, LogLevel level, std::string_view message) {
  std::string line = Rfc3339Milliseconds(at);
  line += ' ';
  line += LogLevelName(level);
  line += ' ';
  for (char c : message) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      line += "\\n";
    } else if (byte < 0x20 || byte == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      line += "\\x";
      line += kHex[byte >> 4];
      line += kHex[byte & 0xf];
    } else {
      line += c;
    }
  }
  return line;
}

Logger::Logger(std::ostream& out, LogLevel threshold, Clock clock)
    : out_(out), threshold_(threshold), clock_(clock ? std::move(clock) : Clock([] { return std::chrono::system_clock::now(); })) {}

void Logger::Log(LogLevel level, std::string_view message) {
  if (!Enabled(level)) return;
  std::string line = FormatLogLine(clock_(), level, message);
  std::lock_guard lock(mutex_);
  out_ << line << '\n' << std::flush;
}

}  // namespace ww
