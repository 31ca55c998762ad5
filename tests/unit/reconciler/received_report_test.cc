// The report schema (reconciler/server/received_report.h) with hostile bodies: types, every
// string and key at most 1 KiB wherever it is, bounded host figures, unknown fields dropped,
// and what is stored of a report.

#include "reconciler/server/received_report.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "schema/wire_json.h"

namespace ww {
namespace {

using Json = nlohmann::json;

Json ValidReport() {
  return Json{{"generation", 3},
              {"converged", true},
              {"error", ""},
              {"version", "0.1.0"},
              {"hostname", "gw"},
              {"observed", Json::parse(ObservedStateToJson(ObservedState{}, JsonStyle::kCompact))},
              {"peers", Json::array({Json{{"interface", "wg0"},
                                          {"publicKey", "cg0joZYyMg+Eob9eBe+ae5MfI1eJ7HKf84WRjvC6tAM="},
                                          {"latestHandshake", 1763780000},
                                          {"rxBytes", 1},
                                          {"txBytes", 2}}})},
              {"system", Json{{"cpuPercent", 1.5}, {"memoryUsedBytes", 1}, {"memoryTotalBytes", 2},
                              {"diskUsedBytes", 3}, {"diskTotalBytes", 4}, {"uptimeSeconds", 5}}}};
}

// The 400 message for `body`, or "" when it is accepted.
std::string Refusal(const Json& body) {
  Result<ReceivedReport> report = ParseReceivedReport(body.dump());
  return report.ok() ? "" : report.status().message();
}

TEST_CASE("received report: a valid report is read whole, and what is stored is the typed fields") {
  Json body = ValidReport();
  body["futureField"] = Json{{"nested", "ignored"}};
  body["system"]["loadAverage"] = 7;  // unknown figures are dropped, not stored
  Result<ReceivedReport> report = ParseReceivedReport(body.dump());
  REQUIRE(report.ok());
  CHECK(report->generation == 3);
  CHECK(report->converged);
  CHECK(report->hostname == "gw");
  CHECK(report->peers == std::vector<ReportedPeer>{{"wg0", "cg0joZYyMg+Eob9eBe+ae5MfI1eJ7HKf84WRjvC6tAM=", 1763780000, 1, 2}});
  CHECK(report->system == SystemFigures{1.5, 1, 2, 3, 4, 5});
  CHECK(ReportMetricsJson(*report) ==
        R"({"converged":true,"error":"","hostname":"gw","peers":[{"interface":"wg0","latestHandshake":1763780000,)"
        R"("publicKey":"cg0joZYyMg+Eob9eBe+ae5MfI1eJ7HKf84WRjvC6tAM=","rxBytes":1,"txBytes":2}],"system":)"
        R"({"cpuPercent":1.5,"diskTotalBytes":4,"diskUsedBytes":3,"memoryTotalBytes":2,"memoryUsedBytes":1,)"
        R"("uptimeSeconds":5},"version":"0.1.0"})");

  Json minimal{{"generation", 0}, {"converged", false}, {"observed", ValidReport()["observed"]}};
  Result<ReceivedReport> bare = ParseReceivedReport(minimal.dump());
  REQUIRE(bare.ok());
  CHECK(bare->peers.empty());
  CHECK_FALSE(bare->system);
}

TEST_CASE("received report: required fields and types are refused naming the field") {
  Json body = ValidReport();
  body.erase("generation");
  CHECK(Refusal(body) == "field \"generation\" must be a non-negative integer");
  body = ValidReport();
  body["generation"] = -1;
  CHECK(Refusal(body) == "field \"generation\" must be a non-negative integer");
  body["generation"] = 1.5;
  CHECK(Refusal(body) == "field \"generation\" must be a non-negative integer");
  body["generation"] = std::uint64_t{1} << 63;
  CHECK(Refusal(body) == "field \"generation\" must be a non-negative integer");
  body = ValidReport();
  body["converged"] = "yes";
  CHECK(Refusal(body) == "field \"converged\" must be true or false");
  body = ValidReport();
  body["hostname"] = 7;
  CHECK(Refusal(body) == "field \"hostname\" must be a string");
  body = ValidReport();
  body["stalePlan"] = "yes";
  CHECK(Refusal(body) == "field \"stalePlan\" must be true or false");
  body["stalePlan"] = true;
  Result<ReceivedReport> stale = ParseReceivedReport(body.dump());
  REQUIRE(stale.ok());
  CHECK(stale->plan_outcome == LatestPlanOutcome::kStale);
  body = ValidReport();
  body["observed"] = Json::array();
  CHECK(Refusal(body) == "field \"observed\" must be an ObservedState object");
  body = ValidReport();
  body["peers"] = Json::object();
  CHECK(Refusal(body) == "field \"peers\" must be a list of peer counters");
  body = ValidReport();
  body["peers"][0]["rxBytes"] = -5;
  CHECK(Refusal(body) == "field \"peers[0].rxBytes\" must be an integer from 0 to 18446744073709551615");
  body = ValidReport();
  body["peers"][0]["publicKey"] = Json::array();
  CHECK(Refusal(body) == "field \"peers[0].publicKey\" must be a string");
  body = ValidReport();
  body["peers"].push_back("not an object");
  CHECK(Refusal(body) == "field \"peers[1]\" must be an object");
}

TEST_CASE("received report: every string and key is at most 1 KiB, wherever it is") {
  const std::string long_text(kReportMaxString + 1, 'x');
  const std::string longest(kReportMaxString, 'x');
  Json body = ValidReport();
  body["error"] = longest;
  CHECK(Refusal(body).empty());
  body["error"] = long_text;
  CHECK(Refusal(body) == "field \"error\" is longer than 1024 bytes");
  body = ValidReport();
  body["peers"][0]["interface"] = long_text;
  CHECK(Refusal(body) == "field \"peers[0].interface\" is longer than 1024 bytes");
  body = ValidReport();
  body["observed"]["sysctls"] = Json::array({Json{{"key", "net.ipv4.ip_forward"}, {"value", long_text}}});
  CHECK(Refusal(body) == "field \"observed.sysctls[0].value\" is longer than 1024 bytes");
  // Fields nobody reads are checked too: a long key or value is refused, not stored.
  body = ValidReport();
  body["unknown"] = Json{{long_text, 1}};
  CHECK(Refusal(body) == "field \"unknown." + std::string(64, 'x') + "...\" is longer than 1024 bytes");
}

TEST_CASE("received report: the host figures are bounded") {
  Json body = ValidReport();
  body["system"]["cpuPercent"] = 100.5;
  CHECK(Refusal(body) == "field \"system.cpuPercent\" must be a number from 0 to 100");
  body["system"]["cpuPercent"] = -1;
  CHECK(Refusal(body) == "field \"system.cpuPercent\" must be a number from 0 to 100");
  body["system"]["cpuPercent"] = "high";
  CHECK(Refusal(body) == "field \"system.cpuPercent\" must be a number from 0 to 100");
  body = ValidReport();
  body["system"]["memoryTotalBytes"] = (std::uint64_t{1} << 60) + 1;
  CHECK(Refusal(body) == "field \"system.memoryTotalBytes\" must be an integer from 0 to 1152921504606846976");
  body = ValidReport();
  body["system"]["uptimeSeconds"] = std::uint64_t{1} << 40;
  CHECK(Refusal(body) == "field \"system.uptimeSeconds\" must be an integer from 0 to 3162240000");
  body = ValidReport();
  body["system"] = "busy";
  CHECK(Refusal(body) == "field \"system\" must be an object");
}

TEST_CASE("received report: 80,000 empty peer objects are read in one linear pass") {
  // The agent check (at most its config's peers) refuses this report; the schema reads it
  // first, and must do so in linear time (nlohmann's callback parser took 9.9 s of CPU).
  std::string body = R"({"generation":1,"converged":true,"observed":)" + ValidReport()["observed"].dump() + R"(,"peers":[)";
  for (int i = 0; i < 80000; ++i) body += i == 0 ? "{}" : ",{}";
  body += "]}";
  Result<ReceivedReport> report = ParseReceivedReport(body);
  REQUIRE(report.ok());
  CHECK(report->peers.size() == 80000);
}

}  // namespace
}  // namespace ww
