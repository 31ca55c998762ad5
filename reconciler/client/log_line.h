#pragma once
// The log line format of both daemons (wirewarp-reconciler, wirewarp-agent run):
//   2026-12-02T05:06:45.123Z INFO message
// RFC 3339 UTC with milliseconds, then the level, then the message on one line (newlines and
// other control characters are escaped, so one event is one line for journald and grep).
// In ww_client because it is the library both daemons link.

#include <chrono>
#include <functional>
#include <iosfwd>
#include <mutex>
#include <string>
#include <string_view>

#include "schema/result.h"

namespace ww {

enum class LogLevel { kError, kWarning, kInfo, kDebug };

// "ERROR", "WARN", "INFO", "DEBUG".
std::string_view LogLevelName(LogLevel level);
// "error", "warning" (or "warn"), "info", "debug"; kInvalidArgument naming --log-level.
Result<LogLevel> ParseLogLevel(std::string_view text);
// "2026-12-02T05:06:45.123Z".
std::string Rfc3339Milliseconds(std::chrono::system_clock::time_point at);
// One line without the trailing newline.
std::string FormatLogLine(std::chrono::system_clock::time_point at, LogLevel level, std::string_view message);

// Writes formatted lines at or above a threshold to one stream, flushed per line.
// Thread-safe.
class Logger {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  // REQUIRES: `out` outlives the logger. Default clock: the system clock.
  Logger(std::ostream& out, LogLevel threshold, Clock clock = {});

  bool Enabled(LogLevel level) const { return level <= threshold_; }
  void Log(LogLevel level, std::string_view message);
  void Error(std::string_view message) { Log(LogLevel::kError, message); }
  void Warning(std::string_view message) { Log(LogLevel::kWarning, message); }
  void Info(std::string_view message) { Log(LogLevel::kInfo, message); }

 private:
  std::ostream& out_;
  LogLevel threshold_;
  Clock clock_;
  std::mutex mutex_;
};

}  // namespace ww
