// The daemons' log line format (reconciler/client/log_line.h).
#include "reconciler/client/log_line.h"

#include <doctest/doctest.h>

#include <chrono>
#include <sstream>
#include <string>

namespace ww {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

// 2026-12-02T05:06:45.123Z
const system_clock::time_point kAt = system_clock::time_point(milliseconds(1796188005123));

TEST_CASE("log lines start with an RFC 3339 UTC time in milliseconds and a level") {
  CHECK(Rfc3339Milliseconds(kAt) == "2026-12-02T05:06:45.123Z");
  CHECK(Rfc3339Milliseconds(system_clock::time_point(milliseconds(5))) == "1970-01-01T00:00:00.005Z");
  CHECK(FormatLogLine(kAt, LogLevel::kInfo, "listening on 127.0.0.1:8443") ==
        "2026-12-02T05:06:45.123Z INFO listening on 127.0.0.1:8443");
  CHECK(FormatLogLine(kAt, LogLevel::kWarning, "w") == "2026-12-02T05:06:45.123Z WARN w");
  CHECK(FormatLogLine(kAt, LogLevel::kError, "e") == "2026-12-02T05:06:45.123Z ERROR e");
  // One event is one line: a message from outside (a commit message, an error) cannot forge
  // a second line.
  CHECK(FormatLogLine(kAt, LogLevel::kInfo, "a\nINFO forged\r\x1b[2J") ==
        "2026-12-02T05:06:45.123Z INFO a\\nINFO forged\\x0d\\x1b[2J");
}

TEST_CASE("Logger writes lines at or above its level and parses --log-level") {
  std::ostringstream out;
  Logger logger(out, LogLevel::kWarning, [] { return kAt; });
  logger.Info("hidden");
  logger.Warning("shown");
  logger.Error("also shown");
  CHECK(out.str() == "2026-12-02T05:06:45.123Z WARN shown\n2026-12-02T05:06:45.123Z ERROR also shown\n");
  CHECK(ParseLogLevel("debug").value() == LogLevel::kDebug);
  CHECK(ParseLogLevel("warn").value() == LogLevel::kWarning);
  CHECK(ParseLogLevel("loud").status().message() == "--log-level must be error, warning, info or debug, not \"loud\"");
}

}  // namespace
}  // namespace ww
