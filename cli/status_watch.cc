#include "cli/status_watch.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <string>
#include <thread>

#include "cli/cli11.h"
#include "cli/remote_output.h"
#include "cli/remote_session.h"

namespace ww::cli {

Result<ApiResponse> StatusWatch::Next(std::chrono::steady_clock::time_point deadline) {
  using std::chrono::seconds;
  using std::chrono::steady_clock;
  std::string path = "/v1/status";
  seconds wait{0};
  auto left_until = [&] {
    return std::max<steady_clock::duration>(deadline - steady_clock::now(), steady_clock::duration::zero());
  };
  if (!first_) {
    // A failed request (no answer, or 5xx while the reconciler restarts) is retried a second later.
    if (failed_) std::this_thread::sleep_for(std::min<steady_clock::duration>(seconds(1), left_until()));
    auto left = left_until();
    if (version_ && versioned_) {
      // Whole seconds, never past the deadline; the last fraction of a second is slept here
      // and answered by one more immediate request.
      wait = std::min(std::chrono::floor<seconds>(left), max_wait_);
      if (wait == seconds(0)) std::this_thread::sleep_for(left);
      path += "?after=" + std::to_string(*version_) + "&wait=" + std::to_string(wait.count());
    } else if (!failed_) {
      std::this_thread::sleep_for(std::min<steady_clock::duration>(seconds(1), left));
    }
  }
  first_ = false;
  Result<ApiResponse> response = client_.Get(path, wait + seconds(15));
  changed_ = false;
  failed_ = !response.ok() || response->status >= 500;
  if (!response.ok() || response->status != 200) return response;
  Result<Json> answer = ParseAnswer(*response);
  std::optional<std::int64_t> version = answer.ok() ? JsonInteger(*answer, "version") : std::nullopt;
  versioned_ = version.has_value();
  std::optional<std::uint64_t> seen =
      version ? std::optional<std::uint64_t>(static_cast<std::uint64_t>(*version)) : std::nullopt;
  changed_ = !version_ || !seen || seen != version_;
  version_ = seen;
  return response;
}

bool IsTerminal(const std::ostream& stream) {
  if (&stream == &std::cout) return isatty(STDOUT_FILENO) == 1;
  if (&stream == &std::cerr) return isatty(STDERR_FILENO) == 1;
  return false;
}

void AddWatchFlags(CLI::App& command, bool& watch, std::string& watch_timeout) {
  command.add_flag("-w,--watch", watch, "Print again whenever the fleet changes (a long-poll), until interrupted");
  command
      .add_option_function<std::string>(
          "--watch-timeout",
          [&watch, &watch_timeout](const std::string& value) {
            watch_timeout = value;
            watch = true;
          },
          "With --watch: stop after DURATION (e.g. 90s, 5m) and exit 0")
      ->type_name("DURATION");
}

int WatchStatus(ApiClient& client, CommandContext& context, const std::string& watch_timeout,
                const SnapshotPrinter& print) {
  using std::chrono::steady_clock;
  std::optional<std::chrono::seconds> until;
  if (!watch_timeout.empty()) {
    Result<std::chrono::seconds> parsed = ParseDuration(watch_timeout);
    if (!parsed.ok()) return ReportError(context, kExitUsage, "--watch-timeout: " + parsed.status().message());
    until = *parsed;
  }
  // "Until interrupted" is a deadline far enough away; each request still waits at most 25 s.
  const steady_clock::time_point deadline = steady_clock::now() + until.value_or(std::chrono::hours(24 * 365));
  const bool terminal = IsTerminal(context.out);
  StatusWatch watch(client);
  bool printed = false;
  bool failing = false;
  while (true) {
    Result<ApiResponse> response = watch.Next(deadline);
    if (!response.ok()) {
      if (!failing) context.err << "wwctl: warning: " << response.status().message() << " (retrying)\n";
      failing = true;
      if (steady_clock::now() >= deadline) return kExitOk;
      continue;  // Next() retries a second later
    }
    failing = false;
    if (response->status != 200) return ReportAnswerError(context, *response, kExitFailure);
    if (watch.Changed() || !printed) {
      if (terminal) {
        context.out << "\033[H\033[2J";
      } else if (printed) {
        context.out << '\n';
      }
      if (int status = print(response->body); status != kExitOk) return status;
      context.out << std::flush;
      printed = true;
    }
    if (steady_clock::now() >= deadline) return kExitOk;
  }
}

}  // namespace ww::cli
