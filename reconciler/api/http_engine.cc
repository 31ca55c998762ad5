#include "reconciler/api/http_engine.h"

#include <openssl/ssl.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "reconciler/api/http_connection.h"

namespace ww {
namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

// Out of descriptors or memory, accept fails at once; retrying at once would spin.
constexpr std::chrono::milliseconds kAcceptBackoff{100};
// Stop(): how long answers in progress get before their connections are closed anyway.
constexpr std::chrono::seconds kStopGrace{10};
// ...and how long closed connections get to finish handing back their last references.
constexpr std::chrono::seconds kStopSettle{5};

}  // namespace

struct HttpEngine::Impl {
  explicit Impl(HttpEngineOptions options)
      : core(std::move(options)), acceptor(asio::make_strand(core.io)), backoff(acceptor.get_executor()) {}

  ~Impl() {
    if (core.options.tls_context != nullptr) SSL_CTX_free(core.options.tls_context);
  }

  void Accept() {
    acceptor.async_accept(asio::make_strand(core.io),
                          [this](const error_code& error, tcp::socket socket) { OnAccept(error, std::move(socket)); });
  }

  void OnAccept(const error_code& error, tcp::socket socket) {
    if (core.stopping || error == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (error) {
      int code = error.value();
      if (code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM) {
        backoff.expires_after(kAcceptBackoff);
        backoff.async_wait([this](const error_code& waited) {
          if (!waited) Accept();
        });
        return;
      }
      return Accept();  // the peer gave up before we took it (ECONNABORTED and the like)
    }
    error_code ignored;
    tcp::endpoint remote = socket.remote_endpoint(ignored);
    if (ignored) return Accept();
    asio::ip::address address = remote.address();
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
      address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
    }
    std::string remote_addr = address.to_string(ignored);
    ConnectionLimiter::Admission admission = ConnectionLimiter::Admission::kAdmitted;
    ConnectionLimiter::Ticket ticket = core.limiter.TryAdmit(remote_addr, admission);
    if (!ticket.held()) {
      socket.close(ignored);  // over a cap: closed at once, never queued
      return Accept();
    }
    // Answers leave in one write, but a long-poll's must not wait for a delayed ACK either.
    socket.set_option(tcp::no_delay(true), ignored);
    HttpConnection::Start(core, std::move(socket), std::move(ticket), std::move(remote_addr), remote.port());
    Accept();
  }

  std::vector<std::shared_ptr<HttpConnection>> Connections() {
    std::vector<std::shared_ptr<HttpConnection>> connections;
    std::lock_guard<std::mutex> lock(core.mutex);
    for (const auto& [raw, weak] : core.open) {
      if (std::shared_ptr<HttpConnection> connection = weak.lock()) connections.push_back(std::move(connection));
    }
    return connections;
  }

  // Waits until every connection is gone, at most `limit`.
  void WaitForNoneOpen(std::chrono::seconds limit) {
    std::unique_lock<std::mutex> lock(core.mutex);
    core.none_open.wait_for(lock, limit, [this] { return core.open.empty(); });
  }

  ListenerCore core;
  tcp::acceptor acceptor;
  asio::steady_timer backoff;  // on the acceptor's strand
  std::vector<std::thread> threads;
  std::once_flag stopped;
};

Result<std::unique_ptr<HttpEngine>> HttpEngine::Create(HttpEngineOptions options) {
  if (options.io_threads == 0) return Status::InvalidArgument(options.name + ": io_threads must be at least 1");
  if (options.worker_threads == 0) return Status::InvalidArgument(options.name + ": worker_threads must be at least 1");
  if (options.limits.max_connections == 0) {
    return Status::InvalidArgument(options.name + ": max_connections must be at least 1");
  }
  if (!options.check_head || !options.handle || !options.refusal) {
    return Status::InvalidArgument(options.name + ": check_head, handle and refusal are required");
  }
  if (options.tls_context != nullptr && SSL_CTX_up_ref(options.tls_context) != 1) {
    return Status::Internal(options.name + ": cannot take a reference to the TLS context");
  }
  return std::unique_ptr<HttpEngine>(new HttpEngine(std::make_unique<Impl>(std::move(options))));
}

HttpEngine::HttpEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpEngine::~HttpEngine() { Stop(); }

Result<int> HttpEngine::Listen(const std::string& host, int port) {
  Impl& impl = *impl_;
  if (!impl.threads.empty() || impl.core.stopping) {
    return Status::FailedPrecondition(impl.core.options.name + " is already started");
  }
  std::string where = host + ":" + std::to_string(port);
  auto failure = [&](const std::string& reason) {
    return Status::Unavailable("cannot listen on " + where + " (" + impl.core.options.name + "): " + reason);
  };
  error_code error;
  tcp::resolver resolver(impl.core.io);
  tcp::resolver::results_type found = resolver.resolve(host.empty() ? "0.0.0.0" : host, std::to_string(port),
                                                       tcp::resolver::passive | tcp::resolver::numeric_service, error);
  if (error || found.empty()) return failure(error ? error.message() : "no usable address");
  tcp::endpoint endpoint = found.begin()->endpoint();
  for (const auto& entry : found) {
    if (entry.endpoint().address().is_v4()) {
      endpoint = entry.endpoint();
      break;
    }
  }
  tcp::acceptor& acceptor = impl.acceptor;
  acceptor.open(endpoint.protocol(), error);
  if (error) return failure(error.message());
  // SO_REUSEADDR alone: a restart binds over connections in TIME_WAIT, but never beside a
  // listening socket (no SO_REUSEPORT, with which the kernel would split connections between
  // two processes).
  acceptor.set_option(tcp::acceptor::reuse_address(true), error);
  acceptor.bind(endpoint, error);
  if (error) {
    std::string reason = error.message();
    if (error == asio::error::address_in_use) reason += " (is another wirewarp-reconciler running?)";
    acceptor.close(error);
    return failure(reason);
  }
  acceptor.listen(kListenBacklog, error);
  if (error) {
    acceptor.close(error);
    return failure(error.message());
  }
  int bound = acceptor.local_endpoint(error).port();
  asio::post(acceptor.get_executor(), [&impl] { impl.Accept(); });
  for (std::size_t i = 0; i < impl.core.options.io_threads; ++i) {
    impl.threads.emplace_back([&impl] {
      auto work = asio::make_work_guard(impl.core.io);
      impl.core.io.run();
    });
  }
  return bound;
}

void HttpEngine::Stop() {
  Impl& impl = *impl_;
  std::call_once(impl.stopped, [&impl] {
    impl.core.stopping = true;
    if (impl.threads.empty()) return;  // never started: nothing runs
    asio::post(impl.acceptor.get_executor(), [&impl] {
      error_code ignored;
      impl.acceptor.close(ignored);
      impl.backoff.cancel();
    });
    for (const std::shared_ptr<HttpConnection>& connection : impl.Connections()) {
      asio::post(connection->executor(), [connection] { connection->OnStop(); });
    }
    impl.WaitForNoneOpen(kStopGrace);
    for (const std::shared_ptr<HttpConnection>& connection : impl.Connections()) {
      asio::post(connection->executor(), [connection] { connection->Close(); });
    }
    impl.core.workers.join();  // handlers still running finish; their answers find closed connections
    impl.WaitForNoneOpen(kStopSettle);
    impl.core.io.stop();
    for (std::thread& thread : impl.threads) thread.join();
  });
}

std::size_t HttpEngine::OpenConnections() const { return impl_->core.limiter.Open(); }

}  // namespace ww
