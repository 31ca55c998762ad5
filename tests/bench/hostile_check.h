#pragma once
// The hostile-input checks `make test` runs (ctest bench/hostile_checks): the attack benches
// made small and turned into assertions of refusals and bounded memory, never of speed.
//  - Floods of a few MB (endless header lines on the API and the status listener; a chunked
//    and a declared body on POST /v1/enroll) are answered 4xx or closed, raising the
//    reconciler's peak RSS by at most kFloodRssRiseMb.
//  - Hostile connections (idle, and trickling a request head) to both listeners are all closed
//    by the server's deadlines within kHostileCloseWait, while `GET /v1/status` and an
//    agent's report each answer on new connections; RSS rises by at most kHostileRssRiseMb.
// Prints a PASS or FAIL line per check.

#include <chrono>
#include <string>
#include <vector>

#include "tests/bench/bench_options.h"

namespace ww::bench {

inline constexpr int kCheckFloodMegabytes = 4;
inline constexpr double kFloodRssRiseMb = 16;
inline constexpr int kCheckHostileConnections = 200;
inline constexpr double kHostileRssRiseMb = 32;
// Well past the front end's handshake-and-head deadline (10 s).
inline constexpr std::chrono::seconds kHostileCloseWait{30};

// The number of checks that failed.
int RunHostileChecks(const BenchOptions& options, const std::vector<std::string>& reconciler_flags);

}  // namespace ww::bench
