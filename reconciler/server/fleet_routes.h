#pragma once
// FleetRoutes: the fleet service's HTTP routes (reconciler/api/API.md): who may call what,
// reading the request, and the answer. Thin: every decision is a FleetService call.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "reconciler/api/https_server.h"
#include "reconciler/pki/certificate_authority.h"
#include "reconciler/store/store.h"
#include "schema/result.h"

namespace ww {

inline constexpr std::size_t kRevisionMaxBody = std::size_t{8} << 20;
inline constexpr std::size_t kReportMaxBody = std::size_t{4} << 20;
inline constexpr int64_t kDefaultPollWaitSeconds = 25;
inline constexpr int64_t kMaxPollWaitSeconds = 30;

class FleetService;

class FleetRoutes {
 public:
  // REQUIRES: every argument outlives the routes.
  FleetRoutes(FleetService& service, Store& store, const CertificateAuthority& ca, HttpsServer& server,
              std::function<int64_t()> now, std::string version);

  // Registers every route on the server. Call once, before server.Start().
  Status Register();

 private:
  HttpResponse HandleSubmit(const HttpRequest& request);
  HttpResponse HandleListRevisions(const HttpRequest& request);
  HttpResponse HandleGetRevision(const HttpRequest& request);
  HttpResponse HandleRollback(const HttpRequest& request);
  HttpResponse HandleStatus(const HttpRequest& request);
  HttpResponse HandleVersion(const HttpRequest& request);
  HttpResponse HandleDeleteAgent(const HttpRequest& request);
  HttpResponse HandlePlan(const HttpRequest& request);
  HttpResponse HandleReport(const HttpRequest& request);
  HttpResponse HandleRenewal(const HttpRequest& request);
  std::optional<HttpResponse> RenewalRateLimited(const std::string& name, const std::string& agent_id);
  // The answer to a long-poll: 200 with the generation, or 204.
  HttpResponse PlanAnswer(const std::string& agent);

  FleetService& service_;
  Store& store_;
  const CertificateAuthority& ca_;
  HttpsServer& server_;
  std::function<int64_t()> now_;
  std::string version_;
};

}  // namespace ww
