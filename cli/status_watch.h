#pragma once
// Following the fleet snapshot as it changes, for `wwctl wait` and `--watch` on get and
// status: GET /v1/status?after=VERSION&wait=S long-polls (API.md), so a change is seen
// within milliseconds and an idle fleet costs one request per S seconds. A reconciler that
// answers without a "version" is polled once a second instead.

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>

#include "cli/commands.h"

#include "reconciler/client/api_client.h"
#include "schema/result.h"

namespace CLI {
class App;
}  // namespace CLI

namespace ww::cli {

// The longest wait asked of the reconciler per request (it caps waits at 30 s).
inline constexpr std::chrono::seconds kStatusPollWait{25};

class StatusWatch {
 public:
  // REQUIRES: `client` outlives the watch. `max_wait` bounds each long-poll (a terminal
  // display that ticks asks for shorter ones).
  explicit StatusWatch(ApiClient& client, std::chrono::seconds max_wait = kStatusPollWait)
      : client_(client), max_wait_(max_wait) {}

  // The first call answers at once. Later calls answer when the snapshot's version differs
  // from the last one seen, or by `deadline` with the same version (then Changed() is false).
  // Any HTTP status is a response, as ApiClient::Get; transport errors are kUnavailable.
  // After one of those or a 5xx, the next call first waits a second.
  Result<ApiResponse> Next(std::chrono::steady_clock::time_point deadline);
  // Whether the last 200 answer carried a version other than the one before it.
  bool Changed() const { return changed_; }

 private:
  ApiClient& client_;
  const std::chrono::seconds max_wait_;
  std::optional<std::uint64_t> version_;
  bool first_ = true;
  bool versioned_ = true;  // false: the reconciler predates ?after=, poll every second
  bool changed_ = false;
  bool failed_ = false;  // the last request got no answer or a 5xx
};

// Whether `stream` is the process's stdout or stderr and that is a terminal.
bool IsTerminal(const std::ostream& stream);

// --watch of get and status: calls `print` with each snapshot body (the first at once, then
// after every change) for `watch_timeout` (a duration; "" until interrupted; a bad one is a
// usage error). On a terminal each print replaces the screen; elsewhere prints are
// separated by a blank line. Transport errors are retried every second (said once on err);
// a refusal ends the watch with its exit status, as does a non-zero return of `print`.
// Returns kExitOk when the time is up.
// Declares --watch and --watch-timeout DURATION (implies --watch) on `command`.
void AddWatchFlags(CLI::App& command, bool& watch, std::string& watch_timeout);

using SnapshotPrinter = std::function<int(const std::string& snapshot_body)>;
int WatchStatus(ApiClient& client, CommandContext& context, const std::string& watch_timeout,
                const SnapshotPrinter& print);

}  // namespace ww::cli
