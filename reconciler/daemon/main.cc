// wirewarp-reconciler: the control plane daemon. Opens (or on the first start creates) the
// data directory, serves the API over mutual TLS, runs the fleet service, and stops cleanly
// on SIGINT or SIGTERM. Everything else lives in ww_reconciler; this is the wiring.

#include <malloc.h>
#include <signal.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "cli/cli11.h"
#include "reconciler/api/https_server.h"
#include "reconciler/api/open_files.h"
#include "reconciler/client/flag_file.h"
#include "reconciler/client/https_url.h"
#include "reconciler/client/log_line.h"
#include "reconciler/server/artifact_routes.h"
#include "reconciler/server/bootstrap.h"
#include "reconciler/server/certificate_use.h"
#include "reconciler/server/credential_routes.h"
#include "reconciler/server/data_directory_lock.h"
#include "reconciler/server/enrollment.h"
#include "reconciler/server/fleet_service.h"
#include "reconciler/server/git_feed.h"
#include "reconciler/server/rate_limiter.h"
#include "reconciler/status/status_listener.h"
#include "web-readonly/web_assets.h"
#include "schema/net.h"

#ifndef WIREWARP_VERSION
#define WIREWARP_VERSION "0.0.0"
#endif

namespace ww {
namespace {

// --worker-threads above this is lowered: with long-polls parked, more threads only contend.
constexpr std::size_t kMaxWorkerThreads = 256;
// Heap arenas glibc may create (see Run).
constexpr int kMallocArenas = 2;

struct DaemonOptions {
  std::string data_dir = "./wirewarp-data";
  std::string listen = "0.0.0.0:8443";
  std::string advertise;  // default https://127.0.0.1:PORT of --listen
  std::size_t worker_threads = kDefaultApiWorkerThreads;
  std::size_t max_connections = kDefaultMaxConnections;
  std::size_t max_connections_per_address = kDefaultMaxConnectionsPerAddress;
  std::string log_level = "info";
  // Enrollment attempts per remote address and token creations per admin, per minute; 0 = off.
  int64_t enroll_rate = 20;
  // The read-only status page and the webhook route (plain HTTP); "off" disables both.
  std::string status_listen = std::string(kDefaultStatusListen);
  // HTTPS on the status listener with the server's certificate (webhook tokens off the wire).
  bool status_tls = false;
  // Files served at GET /v1/artifacts (the wwctl bundle for CI runners, ...).
  std::string artifacts_dir = kDefaultArtifactsDir;
  // The git source; off when git_url is empty.
  std::string git_url;
  std::string git_branch = "main";
  std::string git_path;
  std::string git_interval = "60s";
  std::string git_cache_dir;  // default DATA_DIR/git-cache
  std::string git_token_file;
  std::string git_ssh_key;
  std::string git_known_hosts;
  std::string git_timeout = "30s";
  bool git_allow_destructive = false;
  std::string webhook_secret_file;
  // The event log the store keeps: the newest N, none older than the age.
  int64_t event_history = kDefaultEventHistory;
  std::string event_max_age = "30d";
};

// "90s", "5m", "1h", "30d" or plain seconds.
Result<std::chrono::seconds> ParseSeconds(const std::string& flag, const std::string& text) {
  if (text.empty()) return Status::InvalidArgument(flag + " is empty");
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  std::string unit = text.substr(digits);
  int64_t multiplier = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : unit == "d" ? 86400 : 0;
  if (digits == 0 || digits > 6 || multiplier == 0) {
    return Status::InvalidArgument(flag + " \"" + text + "\" must be a duration like 60s, 5m, 1h or 30d");
  }
  int64_t seconds = std::stoll(text.substr(0, digits)) * multiplier;
  if (seconds < 1) return Status::InvalidArgument(flag + " \"" + text + "\" must be at least 1s");
  return std::chrono::seconds(seconds);
}

// The webhook secret: the file's first line, without surrounding whitespace.
Result<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("--webhook-secret-file: cannot read " + path);
  std::string secret;
  std::getline(in, secret);
  while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back()))) secret.pop_back();
  std::size_t first = secret.find_first_not_of(" \t");
  secret = first == std::string::npos ? "" : secret.substr(first);
  if (secret.size() < 16) return Status::InvalidArgument("--webhook-secret-file: the secret in " + path + " is shorter than 16 characters");
  return secret;
}

std::int64_t SystemNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void PrintFirstStart(const Bootstrap& bootstrap) {
  const std::string& config = bootstrap.admin_config_path;
  std::cout << "Created the reconciler's data directory " << bootstrap.data_dir << "\n"
            << "  Fleet id: " << bootstrap.fleet << "\n"
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

Result<std::unique_ptr<GitFeed>> MakeGitFeed(const DaemonOptions& flags, FleetService& service, Store& store,
                                             HttpsServer& server, Logger& logger) {
  GitFeedOptions options;
  options.source.url = flags.git_url;
  options.source.branch = flags.git_branch;
  options.source.path = flags.git_path;
  options.source.cache_dir = flags.git_cache_dir.empty() ? flags.data_dir + "/git-cache" : flags.git_cache_dir;
  options.source.token_file = flags.git_token_file;
  options.source.ssh_key_file = flags.git_ssh_key;
  options.source.known_hosts_file = flags.git_known_hosts;
  WW_ASSIGN_OR_RETURN(std::chrono::seconds timeout, ParseSeconds("--git-timeout", flags.git_timeout));
  WW_ASSIGN_OR_RETURN(std::chrono::seconds interval, ParseSeconds("--git-interval", flags.git_interval));
  options.source.timeout = timeout;
  options.interval = interval;
  if (!flags.webhook_secret_file.empty()) {
    WW_ASSIGN_OR_RETURN(options.webhook_secret, ReadSecretFile(flags.webhook_secret_file));
  }
  options.allow_destructive = flags.git_allow_destructive ? AllowDestructive::kYes : AllowDestructive::kNo;
  options.log = [&logger](LogLevel level, const std::string& line) { logger.Log(level, line); };
  return GitFeed::Create(service, store, server, std::move(options));
}

int Run(const DaemonOptions& flags) {
  Result<LogLevel> level = ParseLogLevel(flags.log_level);
  Result<std::pair<std::string, int>> listen = ParseListenAddress(flags.listen);
  for (const Status& status : {level.status(), listen.status()}) {
    if (!status.ok()) {
      std::cerr << "wirewarp-reconciler: " << status.message() << "\n";
      return 2;
    }
  }
  std::optional<std::pair<std::string, int>> status_address;
  if (flags.status_tls && flags.status_listen == "off") {
    std::cerr << "wirewarp-reconciler: --status-tls needs the status listener; it is off (--status-listen off)\n";
    return 2;
  }
  if (flags.status_listen != "off") {
    Result<std::pair<std::string, int>> address = ParseListenAddress(flags.status_listen);
    if (!address.ok()) {
      std::cerr << "wirewarp-reconciler: --status-listen: " << address.status().message() << "\n";
      return 2;
    }
    status_address = *address;
  }
  Result<std::chrono::seconds> event_max_age = ParseSeconds("--event-max-age", flags.event_max_age);
  if (!event_max_age.ok() || flags.event_history < 1) {
    std::cerr << "wirewarp-reconciler: "
              << (event_max_age.ok() ? "--event-history must be at least 1" : event_max_age.status().message()) << "\n";
    return 2;
  }
  if (flags.worker_threads < 1) {
    std::cerr << "wirewarp-reconciler: --worker-threads must be at least 1\n";
    return 2;
  }
  if (flags.max_connections < 1) {
    std::cerr << "wirewarp-reconciler: --max-connections must be at least 1\n";
    return 2;
  }
  std::string advertise = flags.advertise.empty() ? "https://127.0.0.1:" + std::to_string(listen->second) : flags.advertise;
  Result<HttpsUrl> advertised = ParseHttpsUrl(advertise);
  if (!advertised.ok()) {
    std::cerr << "wirewarp-reconciler: --advertise: " << advertised.status().message() << "\n";
    return 2;
  }
  Logger logger(std::cerr, *level);
  auto fail = [&logger](const std::string& message) {
    logger.Error(message);
    return 1;
  };

  // Block the stop signals in every thread; the main thread takes them with sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // glibc gives each of up to 8 x cores threads its own heap arena and returns little of them
  // to the kernel: with 20 threads and 10,000 agents that was hundreds of MB of idle RSS. The
  // handlers run one at a time under the fleet lock, so a few arenas cost no speed.
  mallopt(M_ARENA_MAX, kMallocArenas);

  // Before anything in the directory is read or written: one process per data directory.
  Result<DataDirectoryLock> lock = DataDirectoryLock::Acquire(flags.data_dir);
  if (!lock.ok()) return fail("--data-dir: " + lock.status().message());
  Result<Bootstrap> opened = Bootstrap::Open(flags.data_dir, advertise, SystemNow());
  if (!opened.ok()) return fail(opened.status().message());
  Bootstrap bootstrap = std::move(opened).value();
  if (bootstrap.outcome == BootstrapOutcome::kCreated) PrintFirstStart(bootstrap);

  // Every connection holds a descriptor: take all the kernel allows, and fit the caps in it.
  Result<std::uint64_t> open_files = RaiseOpenFileLimit();
  if (!open_files.ok()) return fail(open_files.status().message());
  std::size_t status_connections = status_address ? kStatusMaxConnections : 0;
  ConnectionBudget budget = FitConnections(*open_files, flags.max_connections, status_connections);
  if (budget.lowered) {
    logger.Warning("--max-connections " + std::to_string(flags.max_connections) + " does not fit in " +
                   std::to_string(*open_files) + " open files; the API takes at most " +
                   std::to_string(budget.api_connections) + " connections (raise the hard limit, e.g. LimitNOFILE=)");
  }
  std::size_t worker_threads = flags.worker_threads;
  if (worker_threads > kMaxWorkerThreads) {
    logger.Warning("--worker-threads " + std::to_string(worker_threads) + " is above " +
                   std::to_string(kMaxWorkerThreads) + ", using " + std::to_string(kMaxWorkerThreads) +
                   " (long-polls hold no thread any more)");
    worker_threads = kMaxWorkerThreads;
  }
  logger.Info("open files: " + std::to_string(*open_files) + "; connections: at most " +
              std::to_string(budget.api_connections) + " to the API (" +
              (flags.max_connections_per_address == 0 ? std::string("no cap")
                                                      : std::to_string(flags.max_connections_per_address)) +
              " per address)" +
              (status_address ? ", " + std::to_string(status_connections) + " to the status listener" : std::string()));

  RevokedSerials revoked;
  HttpsServerOptions server_options;
  server_options.server_certificate_pem = bootstrap.server_certificate_pem;
  server_options.server_private_key_pem = bootstrap.server_private_key_pem;
  server_options.worker_threads = worker_threads;
  server_options.http.max_connections = budget.api_connections;
  server_options.http.max_connections_per_address = flags.max_connections_per_address;
  server_options.is_revoked = [&revoked](const std::string& serial) { return revoked.Contains(serial); };
  CertificateUse certificate_use;
  server_options.on_authenticated = [&certificate_use](const Identity& identity, const std::string& serial) {
    if (identity.kind != IdentityKind::kAgent) certificate_use.Record(serial, SystemNow());
  };
  server_options.fleet = bootstrap.fleet;
  Result<std::unique_ptr<HttpsServer>> created = HttpsServer::Create(*bootstrap.ca, std::move(server_options));
  if (!created.ok()) return fail(created.status().message());
  std::unique_ptr<HttpsServer> server = std::move(created).value();

  // The service is made below, before the server starts: enrollment reaches it through this.
  FleetService* service_for_enrollment = nullptr;
  EnrollmentOptions enrollment{advertise, bootstrap.ca_pin, bootstrap.fleet, SystemNow};
  enrollment.on_enrolled = [&service_for_enrollment](const std::string& name) {
    if (service_for_enrollment != nullptr) (void)service_for_enrollment->AgentEnrolled(name);
  };
  enrollment.token_warnings = [&service_for_enrollment](TokenType type, const std::string& name) {
    return service_for_enrollment != nullptr ? service_for_enrollment->TokenWarnings(type, name)
                                             : std::vector<std::string>{};
  };
  RateLimiter limiter(RateLimit{flags.enroll_rate, 60}, SystemNow);
  if (flags.enroll_rate > 0) {
    enrollment.allow_attempt = [&limiter](std::string_view key) { return limiter.Allow(key); };
  }
  if (Status registered = RegisterEnrollmentRoutes(*server, *bootstrap.ca, *bootstrap.store, enrollment);
      !registered.ok()) {
    return fail(registered.message());
  }
  CredentialOptions credentials{bootstrap.fleet, SystemNow, &certificate_use};
  if (Status registered = RegisterCredentialRoutes(*server, *bootstrap.ca, *bootstrap.store, revoked, credentials);
      !registered.ok()) {
    return fail(registered.message());
  }
  ArtifactCatalog artifacts(flags.artifacts_dir, WIREWARP_VERSION);
  if (Status registered = RegisterArtifactRoutes(*server, artifacts); !registered.ok()) return fail(registered.message());
  if (Result<std::vector<ArtifactInfo>> listed = artifacts.List(); !listed.ok()) {
    logger.Warning("--artifacts-dir: " + listed.status().message());
  } else {
    std::string names;
    for (const ArtifactInfo& artifact : *listed) names += " " + artifact.id.FileName();
    logger.Info("artifacts: " + std::to_string(listed->size()) + " in " + flags.artifacts_dir +
                (listed->empty() ? std::string(" (GET /v1/artifacts lists nothing)") : ":" + names));
  }
  FleetServiceOptions service_options;
  service_options.now = SystemNow;
  service_options.events = EventRetention{flags.event_history, *event_max_age};
  service_options.version = WIREWARP_VERSION;
  service_options.validation.control = ControlServer{advertised->host, static_cast<uint16_t>(advertised->port)};
  if (advertised->host_is_ip) {
    if (Result<Ipv4Address> address = Ipv4Address::Parse(advertised->host); address.ok()) {
      service_options.control_address = *address;
    }
  }
  FleetService service(*bootstrap.store, *bootstrap.ca, *server, revoked, service_options);
  service_for_enrollment = &service;
  if (Status started = service.Start(); !started.ok()) return fail(started.message());
  std::unique_ptr<GitFeed> git;
  if (!flags.git_url.empty()) {
    Result<std::unique_ptr<GitFeed>> feed = MakeGitFeed(flags, service, *bootstrap.store, *server, logger);
    if (!feed.ok()) {
      logger.Error(feed.status().message());
      service.Stop();
      return 2;
    }
    git = std::move(feed).value();
  }
  std::unique_ptr<StatusListener> status_listener;
  int status_port_bound = 0;
  if (status_address) {
    StatusListenerOptions status_options;
    status_options.snapshot = [&service] { return service.Snapshot(); };
    status_options.find_asset = [](std::string_view path) -> std::optional<StaticAsset> {
      std::optional<WebAsset> asset = FindWebAsset(path);
      if (!asset) return std::nullopt;
      return StaticAsset{asset->content_type, asset->content};
    };
    if (flags.status_tls) {
      status_options.tls_certificate_pem = bootstrap.server_certificate_pem;
      status_options.tls_private_key_pem = bootstrap.server_private_key_pem;
    }
    if (git) {
      status_options.webhook = [&git](const HttpHeaders& headers, const std::string& body) {
        return git->HandleWebhook(headers, body);
      };
    }
    Result<std::unique_ptr<StatusListener>> created_listener = StatusListener::Create(std::move(status_options));
    Result<int> status_port = created_listener.ok()
                                  ? (*created_listener)->Start(status_address->first, status_address->second)
                                  : Result<int>(created_listener.status());
    if (!status_port.ok()) {
      service.Stop();
      return fail("--status-listen: " + status_port.status().message());
    }
    status_listener = std::move(created_listener).value();
    status_port_bound = *status_port;
  }

  Result<int> port = server->Start(listen->first, listen->second);
  if (!port.ok()) {
    if (status_listener) status_listener->Stop();
    service.Stop();
    return fail("--listen: " + port.status().message());
  }
  if (git) git->Start();  // after the API is up: a first commit may be delivered at once
  if (status_listener) {
    logger.Info(std::string("status page: ") + (flags.status_tls ? "https://" : "http://") + status_address->first + ":" + std::to_string(status_port_bound) + "/");
  }
  logger.Info("wirewarp-reconciler " + std::string(WIREWARP_VERSION) + " listening on " + listen->first + ":" +
              std::to_string(*port) + ", advertised as " + advertise + ", " + std::to_string(worker_threads) +
              " handler threads, data directory " + flags.data_dir + ", fleet " + bootstrap.fleet);

  int received = 0;
  sigwait(&stop_signals, &received);
  logger.Info(std::string(received == SIGINT ? "SIGINT" : "SIGTERM") + ", stopping");
  if (git) git->Stop();
  if (status_listener) status_listener->Stop();
  server->Stop();
  service.Stop();
  if (Status recorded = bootstrap.store->RecordCertificateUse(certificate_use.Take()); !recorded.ok()) {
    logger.Warning("recording when credentials were last used: " + recorded.message());
  }
  return 0;
}

}  // namespace
}  // namespace ww

int main(int argc, char** argv) {
  ww::DaemonOptions flags;
  std::string flag_file;
  CLI::App app{"wirewarp-reconciler: the WireWarp control plane (mutual-TLS API, enrollment, plans)"};
  // No default file: an installed package must not change what a reconciler started by hand
  // (or by a test) on the same machine does. The systemd unit passes --config.
  app.add_option("--config", flag_file,
                 "YAML file of flags (data-dir: /var/lib/wirewarp-reconciler, one a line); flags given here win");
  app.add_option("--data-dir", flags.data_dir, "State directory (CA, certificates, SQLite)")->capture_default_str();
  app.add_option("--listen", flags.listen, "ADDRESS:PORT of the API")->capture_default_str();
  app.add_option("--advertise", flags.advertise,
                 "https://HOST[:PORT] agents dial; its host goes into the server certificate on the first start "
                 "(default https://127.0.0.1:PORT)");
  app.add_option("--worker-threads", flags.worker_threads,
                 "Threads that run API handlers (at most " + std::to_string(ww::kMaxWorkerThreads) +
                     "); long-polls wait without one")
      ->capture_default_str();
  app.add_option("--max-connections", flags.max_connections,
                 "Open API connections at most; more are closed at once. Lowered to fit the open-file limit")
      ->capture_default_str();
  app.add_option("--max-connections-per-address", flags.max_connections_per_address,
                 "Open API connections from one IPv4 address (or IPv6 /64) at most; 0 = no cap")
      ->capture_default_str();
  app.add_option("--log-level", flags.log_level, "error, warning, info or debug")->capture_default_str();
  app.add_option("--enroll-rate", flags.enroll_rate,
                 "Enrollment attempts per remote address (and tokens per admin) per minute; 0 = no limit")
      ->capture_default_str();
  app.add_option("--status-listen", flags.status_listen,
                 "HOST:PORT of the read-only status page and POST /hooks/git (plain HTTP unless --status-tls); "
                 "off disables it")
      ->capture_default_str();
  app.add_flag("--status-tls", flags.status_tls,
               "Serve the status listener over HTTPS with the server's certificate (when it faces the internet: "
               "webhook tokens, e.g. GitLab's, then never cross the network in clear)");
  app.add_option("--artifacts-dir", flags.artifacts_dir,
                 "Files served to anyone at GET /v1/artifacts, named NAME-OS-ARCH (e.g. wwctl-linux-amd64)")
      ->capture_default_str();
  app.add_option("--git-url", flags.git_url, "Follow this git repository (URL or local path); off when empty");
  app.add_option("--git-branch", flags.git_branch, "Branch to follow")->capture_default_str();
  app.add_option("--git-path", flags.git_path, "Directory in the repository holding the fleet YAML (default: the root)");
  app.add_option("--git-interval", flags.git_interval, "Time between fetches when no webhook arrives")->capture_default_str();
  app.add_option("--git-timeout", flags.git_timeout, "Longest a fetch may take")->capture_default_str();
  app.add_option("--git-cache-dir", flags.git_cache_dir, "Bare fetch cache (default DATA_DIR/git-cache)");
  app.add_option("--git-token-file", flags.git_token_file, "HTTPS: file holding an access token (the password)");
  app.add_option("--git-ssh-key", flags.git_ssh_key, "SSH: private key file");
  app.add_option("--git-known-hosts", flags.git_known_hosts, "SSH: known_hosts file the server's key must be in");
  app.add_flag("--git-allow-destructive", flags.git_allow_destructive,
               "Accept commits that remove every tunnel or more than half of the peers");
  app.add_option("--webhook-secret-file", flags.webhook_secret_file,
                 "File holding the shared secret webhooks are signed with (without it, webhooks are refused)");
  app.add_option("--event-history", flags.event_history,
                 "Events the store keeps (the status shows the newest); older ones are pruned")
      ->capture_default_str();
  app.add_option("--event-max-age", flags.event_max_age, "Events older than this are pruned (e.g. 30d, 12h)")
      ->capture_default_str();
  app.set_version_flag("--version", WIREWARP_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  if (!flag_file.empty()) {
    if (ww::Status applied = ww::ApplyFlagFile(app, flag_file); !applied.ok()) {
      std::cerr << "wirewarp-reconciler: --config: " << applied.message() << "\n";
      return 2;
    }
  }
  return ww::Run(flags);
}
