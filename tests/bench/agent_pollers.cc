#include "tests/bench/agent_pollers.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "schema/plan.h"
#include "schema/wire_json.h"

namespace ww::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using nlohmann::json;

namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(60);
// Above the longest wait the bench asks for (30 s).
constexpr auto kRequestTimeout = std::chrono::seconds(45);
constexpr auto kRetryDelay = std::chrono::milliseconds(500);
constexpr std::uint64_t kMaxPlanBytes = std::uint64_t{512} << 20;
constexpr int kClientThreads = 2;
constexpr std::size_t kConnectsPerSecond = 1000;

struct Slot {
  std::atomic<int64_t> revision{0};
  std::atomic<int64_t> received_ns{0};  // steady clock, of the plan of `revision`
};

}  // namespace

Result<std::string> ConvergedReport(const std::string& plan_body, const std::string& agent_name) {
  json plan = json::parse(plan_body, nullptr, false);
  if (plan.is_discarded() || !plan.is_object()) return Status::Internal("the plan is not a JSON object");
  WW_ASSIGN_OR_RETURN(AgentConfig desired, AgentConfigFromJson(plan.value("desired", json::object()).dump()));
  json observed = json::parse(ObservedStateToJson(ObservedFromDesired(desired), JsonStyle::kCompact));
  return json{{"generation", plan.value("generation", int64_t{0})},
              {"converged", true},
              {"error", ""},
              {"version", "bench"},
              {"hostname", agent_name},
              {"observed", std::move(observed)}}
      .dump();
}

struct AgentPollers::Impl {
  class Poller;

  Impl(int port, const std::string& ca_pem, const std::vector<AgentIdentity>& identities, int count, ReportMode report_mode)
      : tls(ssl::context::tls_client), endpoint(asio::ip::make_address_v4("127.0.0.1"), static_cast<uint16_t>(port)),
        agents(identities), reports(report_mode), slots(static_cast<std::size_t>(count)) {
    tls.set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                    ssl::context::no_tlsv1_1);
    beast::error_code error;
    tls.add_certificate_authority(asio::buffer(ca_pem), error);
    if (error) Die("the reconciler's CA does not load: " + error.message());
    tls.set_verify_mode(ssl::verify_peer);
  }

  // A kept-alive connection the server closed between two requests: the request is sent again
  // on a new connection, as HTTP clients do for requests that did not reach the server.
  void CountServerClose() { ++server_closes; }

  void CountError(const std::string& what) {
    if (stopping) return;
    ++errors;
    std::lock_guard lock(error_mutex);
    if (first_error.empty()) first_error = what;
  }

  asio::io_context io;  // first: outlives the pollers' sockets and timers
  ssl::context tls;
  tcp::endpoint endpoint;
  const std::vector<AgentIdentity>& agents;
  ReportMode reports;
  std::vector<Slot> slots;
  std::vector<std::unique_ptr<Poller>> pollers;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  std::atomic<int> errors{0};
  std::atomic<int> server_closes{0};
  mutable std::mutex error_mutex;
  std::string first_error;  // GUARDED_BY(error_mutex)
};

// One agent's connection: connect, handshake with its certificate, then poll (and report)
// for ever on the kept-alive connection; on an error, counted, a new connection after a
// pause. Every handler runs on the poller's strand.
class AgentPollers::Impl::Poller {
 public:
  Poller(Impl& impl, int index)
      : impl_(impl), index_(index), name_(impl.agents[static_cast<std::size_t>(index)].name),
        strand_(asio::make_strand(impl.io)), retry_(strand_) {
    const AgentIdentity& agent = impl.agents[static_cast<std::size_t>(index)];
    BIO* certificate_bio = BIO_new_mem_buf(agent.certificate_pem.data(), static_cast<int>(agent.certificate_pem.size()));
    certificate_ = PEM_read_bio_X509(certificate_bio, nullptr, nullptr, nullptr);
    BIO_free(certificate_bio);
    BIO* key_bio = BIO_new_mem_buf(agent.key_pem.data(), static_cast<int>(agent.key_pem.size()));
    key_ = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
    BIO_free(key_bio);
    if (certificate_ == nullptr || key_ == nullptr) Die("the cached identity of " + name_ + " does not load");
  }
  ~Poller() {
    X509_free(certificate_);
    EVP_PKEY_free(key_);
  }
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Connects after `delay`.
  void Start(std::chrono::milliseconds delay) {
    retry_.expires_after(delay);
    retry_.async_wait([this](beast::error_code error) {
      if (!error) Connect();
    });
  }

 private:
  using Stream = beast::ssl_stream<beast::tcp_stream>;

  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(*stream_); }

  void Connect() {
    if (impl_.stopping) return;
    buffer_.clear();
    stream_.emplace(strand_, impl_.tls);
    SSL_use_certificate(stream_->native_handle(), certificate_);
    SSL_use_PrivateKey(stream_->native_handle(), key_);
    Tcp().expires_after(kConnectTimeout);
    Tcp().async_connect(impl_.endpoint, [this](beast::error_code error) {
      if (error) return Fail("connect", error);
      beast::error_code ignored;
      Tcp().socket().set_option(tcp::no_delay(true), ignored);
      Tcp().expires_after(kConnectTimeout);
      stream_->async_handshake(ssl::stream_base::client, [this](beast::error_code handshake_error) {
        if (handshake_error) return Fail("TLS handshake", handshake_error);
        requests_on_connection_ = 0;
        if (!pending_report_.empty()) return Report(pending_report_);
        Poll();
      });
    });
  }

  void Poll() {
    request_ = {http::verb::get, "/v1/agents/" + name_ + "/plan?after=" + std::to_string(generation_) + "&wait=30", 11};
    request_.set(http::field::host, "127.0.0.1");
    request_.keep_alive(true);
    Send([this] { OnPlan(); });
  }

  void Report(std::string body) {
    pending_report_ = std::move(body);
    request_ = {http::verb::post, "/v1/agents/" + name_ + "/report", 11};
    request_.set(http::field::host, "127.0.0.1");
    request_.set(http::field::content_type, "application/json");
    request_.keep_alive(true);
    request_.body() = pending_report_;
    request_.prepare_payload();
    Send([this] {
      pending_report_.clear();
      if (parser_->get().result_int() != 204) {
        impl_.CountError(name_ + " report: HTTP " + std::to_string(parser_->get().result_int()) + " " +
                         parser_->get().body().substr(0, 200));
      }
      Next();
    });
  }

  // Writes request_, reads the answer into parser_, then calls `answered`.
  template <typename Answered>
  void Send(Answered answered) {
    Tcp().expires_after(kRequestTimeout);
    const bool reused = requests_on_connection_++ > 0;
    http::async_write(*stream_, request_, [this, answered, reused](beast::error_code error, std::size_t) {
      if (error) return reused ? Reopen() : Fail("sending " + std::string(request_.target()), error);
      parser_.emplace();
      parser_->body_limit(kMaxPlanBytes);
      http::async_read(*stream_, buffer_, *parser_, [this, answered, reused](beast::error_code read_error, std::size_t) {
        const bool closed = read_error == http::error::end_of_stream || read_error == asio::error::connection_reset ||
                            read_error == asio::error::eof || read_error == ssl::error::stream_truncated;
        if (read_error && reused && closed && !parser_->got_some()) return Reopen();
        if (read_error) return Fail("reading the answer to " + std::string(request_.target()), read_error);
        answered();
      });
    });
  }

  // The server closed the kept-alive connection before this request reached it.
  void Reopen() {
    impl_.CountServerClose();
    stream_.reset();
    Connect();
  }

  void OnPlan() {
    const auto& response = parser_->get();
    if (response.result_int() == 204) return Next();
    if (response.result_int() != 200) {
      impl_.CountError(name_ + " poll: HTTP " + std::to_string(response.result_int()) + " " +
                       response.body().substr(0, 200));
      return Retry();
    }
    auto received = Clock::now();
    json plan = json::parse(response.body(), nullptr, false);
    if (plan.is_discarded()) {
      impl_.CountError(name_ + ": a plan that is not JSON");
      return Retry();
    }
    generation_ = plan.value("generation", generation_);
    Slot& slot = impl_.slots[static_cast<std::size_t>(index_)];
    slot.received_ns = received.time_since_epoch().count();
    slot.revision = plan.value("revision", int64_t{0});
    if (impl_.reports == ReportMode::kNone) return Next();
    Result<std::string> report = ConvergedReport(response.body(), name_);
    if (!report.ok()) {
      impl_.CountError(name_ + ": " + report.status().ToString());
      return Next();
    }
    Report(*report);
  }

  // The next poll, on a new connection when the server asked to close this one.
  void Next() {
    if (parser_->get().keep_alive()) return Poll();
    stream_.reset();
    Connect();
  }

  void Fail(const std::string& what, beast::error_code error) {
    impl_.CountError(name_ + " " + what + ": " + error.message());
    Retry();
  }

  void Retry() {
    if (impl_.stopping) return;
    stream_.reset();
    retry_.expires_after(kRetryDelay);
    retry_.async_wait([this](beast::error_code error) {
      if (!error) Connect();
    });
  }

  Impl& impl_;
  int index_;
  std::string name_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer retry_;
  X509* certificate_ = nullptr;
  EVP_PKEY* key_ = nullptr;
  std::optional<Stream> stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  std::optional<http::response_parser<http::string_body>> parser_;
  int64_t generation_ = 0;
  int requests_on_connection_ = 0;
  std::string pending_report_;  // sent again after a reconnect until answered
};

AgentPollers::AgentPollers(int port, const std::string& ca_pem, const std::vector<AgentIdentity>& agents, int count,
                           ReportMode reports)
    : impl_(std::make_unique<Impl>(port, ca_pem, agents, count, reports)) {
  if (count > static_cast<int>(agents.size())) Die("more pollers than identities");
  impl_->pollers.reserve(static_cast<std::size_t>(count));
  for (int index = 0; index < count; ++index) impl_->pollers.push_back(std::make_unique<Impl::Poller>(*impl_, index));
}

AgentPollers::~AgentPollers() { Stop(); }

void AgentPollers::Start() {
  // Paced, as agents coming back after a reconciler restart spread over their retry delays.
  for (std::size_t index = 0; index < impl_->pollers.size(); ++index) {
    impl_->pollers[index]->Start(std::chrono::milliseconds(index * 1000 / kConnectsPerSecond));
  }
  for (int i = 0; i < kClientThreads; ++i) impl_->threads.emplace_back([this] { impl_->io.run(); });
}

void AgentPollers::Stop() {
  impl_->stopping = true;
  impl_->io.stop();
  for (std::thread& thread : impl_->threads) thread.join();
  impl_->threads.clear();
  impl_->pollers.clear();  // closes the connections; pending handlers are dropped with the io_context
}

int AgentPollers::count() const { return static_cast<int>(impl_->slots.size()); }

int AgentPollers::errors() const { return impl_->errors.load(); }

int AgentPollers::server_closes() const { return impl_->server_closes.load(); }

std::string AgentPollers::first_error() const {
  std::lock_guard lock(impl_->error_mutex);
  return impl_->first_error;
}

int AgentPollers::HoldingRevision(int64_t revision) const {
  return static_cast<int>(std::count_if(impl_->slots.begin(), impl_->slots.end(),
                                        [&](const Slot& slot) { return slot.revision >= revision; }));
}

bool AgentPollers::WaitForRevision(int64_t revision, std::chrono::seconds timeout) const {
  auto deadline = Clock::now() + timeout;
  while (HoldingRevision(revision) < count()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

std::vector<double> AgentPollers::DeliveryMilliseconds(int64_t revision, Clock::time_point since) const {
  std::vector<double> latencies;
  latencies.reserve(impl_->slots.size());
  int64_t since_ns = since.time_since_epoch().count();
  for (const Slot& slot : impl_->slots) {
    if (slot.revision < revision) continue;
    latencies.push_back(std::max(0.0, static_cast<double>(slot.received_ns.load() - since_ns) / 1e6));
  }
  return latencies;
}

}  // namespace ww::bench
