// ConnectionLimiter: the total cap, the per-source cap (0: none), places given back when a
// ticket goes (also when moved), and which source an address counts against.

#include "reconciler/api/connection_limiter.h"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "reconciler/api/open_files.h"

namespace ww {
namespace {

using Admission = ConnectionLimiter::Admission;

TEST_CASE("connection limiter: total and per-source caps, places given back") {
  ConnectionLimiter limiter(3, 2);
  Admission admission = Admission::kAdmitted;
  std::vector<ConnectionLimiter::Ticket> held;
  held.push_back(limiter.TryAdmit("10.0.0.1", admission));
  held.push_back(limiter.TryAdmit("10.0.0.1", admission));
  CHECK(admission == Admission::kAdmitted);
  ConnectionLimiter::Ticket third = limiter.TryAdmit("10.0.0.1", admission);
  CHECK_FALSE(third.held());
  CHECK(admission == Admission::kOverSource);
  held.push_back(limiter.TryAdmit("10.0.0.2", admission));
  CHECK(held.back().held());
  CHECK(limiter.Open() == 3);
  ConnectionLimiter::Ticket fourth = limiter.TryAdmit("10.0.0.3", admission);
  CHECK_FALSE(fourth.held());
  CHECK(admission == Admission::kOverTotal);

  held.erase(held.begin());  // one of 10.0.0.1's goes
  CHECK(limiter.Open() == 2);
  ConnectionLimiter::Ticket again = limiter.TryAdmit("10.0.0.1", admission);
  CHECK(again.held());
  // Moving a ticket moves the place, never frees it twice.
  ConnectionLimiter::Ticket moved = std::move(again);
  CHECK(limiter.Open() == 3);
  moved = ConnectionLimiter::Ticket();
  CHECK(limiter.Open() == 2);
}

TEST_CASE("connection limiter: per-source cap 0 means none") {
  ConnectionLimiter limiter(1000, 0);
  Admission admission = Admission::kAdmitted;
  std::vector<ConnectionLimiter::Ticket> held;
  for (int i = 0; i < 1000; ++i) held.push_back(limiter.TryAdmit("192.0.2.1", admission));
  CHECK(admission == Admission::kAdmitted);
  CHECK_FALSE(limiter.TryAdmit("192.0.2.1", admission).held());
  CHECK(admission == Admission::kOverTotal);
}

TEST_CASE("connection limiter: the source of an address") {
  CHECK(ConnectionLimiter::SourceOf("192.0.2.7") == "192.0.2.7");
  CHECK(ConnectionLimiter::SourceOf("::ffff:192.0.2.7") == "192.0.2.7");
  // One IPv6 host holds a /64: every address in it counts as one source.
  CHECK(ConnectionLimiter::SourceOf("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64");
  CHECK(ConnectionLimiter::SourceOf("2001:db8:1:2::1") == "2001:db8:1:2::/64");
  CHECK(ConnectionLimiter::SourceOf("not an address") == "not an address");

  ConnectionLimiter limiter(10, 1);
  Admission admission = Admission::kAdmitted;
  ConnectionLimiter::Ticket first = limiter.TryAdmit("2001:db8::1", admission);
  CHECK(first.held());
  CHECK_FALSE(limiter.TryAdmit("2001:db8::2", admission).held());
  CHECK(admission == Admission::kOverSource);
  CHECK(limiter.TryAdmit("2001:db8:0:1::1", admission).held());  // another /64
}

TEST_CASE("open files: the API's cap is fitted under the limit, after the reserve and the status listener") {
  ConnectionBudget roomy = FitConnections(1048576, 20000, 1024);
  CHECK(roomy.api_connections == 20000);
  CHECK_FALSE(roomy.lowered);
  ConnectionBudget tight = FitConnections(20000, 20000, 1024);
  CHECK(tight.api_connections == 20000 - 1024 - kReservedDescriptors);
  CHECK(tight.lowered);
  ConnectionBudget status_off = FitConnections(20000, 20000, 0);
  CHECK(status_off.api_connections == 20000 - kReservedDescriptors);
  ConnectionBudget tiny = FitConnections(100, 20000, 1024);
  CHECK(tiny.api_connections == 1);  // never 0: the daemon still serves
  CHECK(tiny.lowered);
  Result<std::uint64_t> raised = RaiseOpenFileLimit();
  REQUIRE(raised.ok());
  CHECK(*raised >= 64);
}

}  // namespace
}  // namespace ww
