// wirewarp-reconciler: the control plane daemon. Opens (or on the first start creates) the
// data directory, serves the API over mutual TLS, runs the fleet service, and stops cleanly
// on SIGINT or SIGTERM. Everything else lives in ww_reconciler; this is the wiring.

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "cli/cli11.h"
#include "reconciler/api/https_server.h"
#include "reconciler/client/https_url.h"
#include "reconciler/server/bootstrap.h"
#include "reconciler/server/enrollment.h"
#include "reconciler/server/fleet_service.h"
#include "reconciler/server/rate_limiter.h"
#include "schema/net.h"

#ifndef WIREWARP_VERSION
#define WIREWARP_VERSION "0.0.0"
#endif

namespace ww {
namespace {

enum class LogLevel { kError, kWarning, kInfo, kDebug };

struct DaemonOptions {
  std::string data_dir = "./wirewarp-data";
  std::string listen = "0.0.0.0:8443";
  std::string advertise;  // default https://127.0.0.1:PORT of --listen
  std::size_t worker_threads = 1200;
  std::string log_level = "info";
  // Enrollment attempts per remote address and token creations per admin, per minute; 0 = off.
  int64_t enroll_rate = 20;
  // Hook (the lead wires it): --status-listen ADDR:PORT for the read-only status page and
  // webhooks (reconciler/status/), fed by FleetService::StatusJson.
  std::string status_listen;
  // Hook (the lead wires it): --git-url, --git-branch, --git-path, --git-interval,
  // --webhook-secret-file for the git source (reconciler/git/), whose commits go to
  // FleetService::Submit and whose refusals to FleetService::RecordRejectedCommit.
};

std::int64_t SystemNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct ListenAddress {
  std::string host;
  int port = 0;
};

Result<ListenAddress> ParseListen(const std::string& text) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::InvalidArgument("--listen \"" + text + "\" must be ADDRESS:PORT, e.g. 0.0.0.0:8443");
  }
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  Result<std::uint16_t> port = ParsePort(text.substr(colon + 1));
  if (!port.ok()) return Status::InvalidArgument("--listen \"" + text + "\": " + port.status().message());
  return ListenAddress{host, *port};
}

Result<LogLevel> ParseLogLevel(const std::string& text) {
  if (text == "error") return LogLevel::kError;
  if (text == "warning" || text == "warn") return LogLevel::kWarning;
  if (text == "info") return LogLevel::kInfo;
  if (text == "debug") return LogLevel::kDebug;
  return Status::InvalidArgument("--log-level must be error, warning, info or debug, not \"" + text + "\"");
}

void PrintFirstStart(const Bootstrap& bootstrap) {
  const std::string& config = bootstrap.admin_config_path;
  std::cout << "Created the reconciler's data directory " << bootstrap.data_dir << "\n"
            << "  CA pin: " << bootstrap.ca_pin << "\n"
            << "  Administrator's wwctl configuration (it holds a private key; keep it 0600): " << config << "\n"
            << "\n"
            << "Use it:\n"
            << "  export WWCTL_CONFIG=" << config << "\n"
            << "  wwctl status\n"
            << "Enroll agents: create a single-use token, then run the printed command on the agent's host:\n"
            << "  wwctl token create --type server --name vps\n"
            << "  wwctl token create --type client --name home-gw\n"
            << std::endl;
}

int Run(const DaemonOptions& flags) {
  Result<LogLevel> level = ParseLogLevel(flags.log_level);
  Result<ListenAddress> listen = ParseListen(flags.listen);
  for (const Status& status : {level.status(), listen.status()}) {
    if (!status.ok()) {
      std::cerr << "wirewarp-reconciler: " << status.message() << "\n";
      return 2;
    }
  }
  if (flags.worker_threads < 4) {
    std::cerr << "wirewarp-reconciler: --worker-threads must be at least 4\n";
    return 2;
  }
  std::string advertise = flags.advertise.empty() ? "https://127.0.0.1:" + std::to_string(listen->port) : flags.advertise;
  Result<HttpsUrl> advertised = ParseHttpsUrl(advertise);
  if (!advertised.ok()) {
    std::cerr << "wirewarp-reconciler: --advertise: " << advertised.status().message() << "\n";
    return 2;
  }

  // Block the stop signals in every thread; the main thread takes them with sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Result<Bootstrap> opened = Bootstrap::Open(flags.data_dir, advertise, SystemNow());
  if (!opened.ok()) {
    std::cerr << "wirewarp-reconciler: " << opened.status().message() << "\n";
    return 1;
  }
  Bootstrap bootstrap = std::move(opened).value();
  if (bootstrap.outcome == BootstrapOutcome::kCreated) PrintFirstStart(bootstrap);

  RevokedSerials revoked;
  HttpsServerOptions server_options;
  server_options.server_certificate_pem = bootstrap.server_certificate_pem;
  server_options.server_private_key_pem = bootstrap.server_private_key_pem;
  // Every open long-poll holds a worker: size for the fleet plus headroom.
  server_options.worker_threads = flags.worker_threads;
  server_options.is_revoked = [&revoked](const std::string& serial) { return revoked.Contains(serial); };
  Result<std::unique_ptr<HttpsServer>> created = HttpsServer::Create(*bootstrap.ca, std::move(server_options));
  if (!created.ok()) {
    std::cerr << "wirewarp-reconciler: " << created.status().message() << "\n";
    return 1;
  }
  std::unique_ptr<HttpsServer> server = std::move(created).value();

  // The service is made below, before the server starts: enrollment reaches it through this.
  FleetService* service_for_enrollment = nullptr;
  EnrollmentOptions enrollment{advertise, bootstrap.ca_pin, std::string(kDefaultFleet), SystemNow};
  enrollment.on_enrolled = [&service_for_enrollment](const std::string& name) {
    if (service_for_enrollment != nullptr) (void)service_for_enrollment->AgentEnrolled(name);
  };
  RateLimiter limiter(RateLimit{flags.enroll_rate, 60}, SystemNow);
  if (flags.enroll_rate > 0) {
    enrollment.allow_attempt = [&limiter](std::string_view key) { return limiter.Allow(key); };
  }
  if (Status registered = RegisterEnrollmentRoutes(*server, *bootstrap.ca, *bootstrap.store, enrollment);
      !registered.ok()) {
    std::cerr << "wirewarp-reconciler: " << registered.message() << "\n";
    return 1;
  }
  FleetServiceOptions service_options;
  service_options.now = SystemNow;
  if (advertised->host_is_ip) {
    if (Result<Ipv4Address> address = Ipv4Address::Parse(advertised->host); address.ok()) {
      service_options.control_address = *address;
    }
  }
  FleetService service(*bootstrap.store, *bootstrap.ca, *server, revoked, service_options);
  service_for_enrollment = &service;
  if (Status started = service.Start(); !started.ok()) {
    std::cerr << "wirewarp-reconciler: " << started.message() << "\n";
    return 1;
  }
  // Hook: the status listener (flags.status_listen) and the git source start here, given
  // [&service] { return service.StatusJson(); } and service.Submit / RecordRejectedCommit.

  Result<int> port = server->Start(listen->host, listen->port);
  if (!port.ok()) {
    std::cerr << "wirewarp-reconciler: " << port.status().message() << "\n";
    service.Stop();
    return 1;
  }
  if (*level >= LogLevel::kInfo) {
    std::cout << "wirewarp-reconciler " << WIREWARP_VERSION << " listening on " << listen->host << ":" << *port
              << ", advertised as " << advertise << ", " << flags.worker_threads << " workers" << std::endl;
  }

  int received = 0;
  sigwait(&stop_signals, &received);
  if (*level >= LogLevel::kInfo) {
    std::cout << "wirewarp-reconciler: " << (received == SIGINT ? "SIGINT" : "SIGTERM") << ", stopping" << std::endl;
  }
  server->Stop();
  service.Stop();
  return 0;
}

}  // namespace
}  // namespace ww

int main(int argc, char** argv) {
  ww::DaemonOptions flags;
  CLI::App app{"wirewarp-reconciler: the WireWarp control plane (mutual-TLS API, enrollment, plans)"};
  app.add_option("--data-dir", flags.data_dir, "State directory (CA, certificates, SQLite)")->capture_default_str();
  app.add_option("--listen", flags.listen, "ADDRESS:PORT of the API")->capture_default_str();
  app.add_option("--advertise", flags.advertise,
                 "https://HOST[:PORT] agents dial; its host goes into the server certificate on the first start "
                 "(default https://127.0.0.1:PORT)");
  app.add_option("--worker-threads", flags.worker_threads, "HTTPS workers; every open long-poll holds one")
      ->capture_default_str();
  app.add_option("--log-level", flags.log_level, "error, warning, info or debug")->capture_default_str();
  app.add_option("--enroll-rate", flags.enroll_rate,
                 "Enrollment attempts per remote address (and tokens per admin) per minute; 0 = no limit")
      ->capture_default_str();
  app.set_version_flag("--version", WIREWARP_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  return ww::Run(flags);
}
