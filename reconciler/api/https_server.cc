#include "reconciler/api/https_server.h"

#include <httplib.h>

#include "reconciler/api/listener_thread.h"
#include <unordered_map>
#include <sys/socket.h>

#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <regex>
#include <thread>

namespace ww {

// ---------------------------------------------------------------------------------------------
// LongPollHub

LongPollHub::WaitResult LongPollHub::Wait(const std::string& key, std::uint64_t after_generation,
                                          std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  Slot& slot = slots_[key];
  ++waiting_;
  bool woken = slot.changed.wait_for(
      lock, timeout, [&] { return shut_down_ || slot.revoked || slot.generation > after_generation; });
  --waiting_;
  if (shut_down_) return WaitResult{WaitOutcome::kShutdown, slot.generation};
  if (slot.revoked) return WaitResult{WaitOutcome::kRevoked, slot.generation};
  return WaitResult{woken ? WaitOutcome::kNewer : WaitOutcome::kTimedOut, slot.generation};
}

void LongPollHub::Revoke(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  Slot& slot = slots_[key];
  slot.revoked = true;
  slot.changed.notify_all();
}

void LongPollHub::Reinstate(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = slots_.find(key);
  if (found != slots_.end()) found->second.revoked = false;
}

void LongPollHub::Notify(const std::string& key, std::uint64_t generation) {
  std::lock_guard<std::mutex> lock(mutex_);
  Slot& slot = slots_[key];
  slot.generation = std::max(slot.generation, generation);
  slot.changed.notify_all();
}

void LongPollHub::Shutdown() {
  std::lock_guard<std::mutex> lock(mutex_);
  shut_down_ = true;
  for (auto& [key, slot] : slots_) slot.changed.notify_all();
}

std::size_t LongPollHub::Waiting() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return waiting_;
}

// ---------------------------------------------------------------------------------------------
// HttpRequest

std::optional<std::string> HttpRequest::QueryValue(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return value;
  }
  return std::nullopt;
}

namespace {

struct OpenSslFree {
  void operator()(X509* certificate) const { X509_free(certificate); }
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
  void operator()(BIO* bio) const { BIO_free_all(bio); }
  void operator()(X509_STORE* store) const { X509_STORE_free(store); }
};
using UniqueX509 = std::unique_ptr<X509, OpenSslFree>;
using UniqueEvpPkey = std::unique_ptr<EVP_PKEY, OpenSslFree>;
using UniqueBio = std::unique_ptr<BIO, OpenSslFree>;
using UniqueX509Store = std::unique_ptr<X509_STORE, OpenSslFree>;

UniqueBio MemoryBio(std::string_view pem) {
  return UniqueBio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

Result<UniqueX509> ReadCertificate(std::string_view pem, std::string_view what) {
  UniqueBio bio = MemoryBio(pem);
  UniqueX509 certificate(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!certificate) return Status::InvalidArgument(std::string(what) + " is not a PEM certificate");
  return certificate;
}

Result<std::string> CertificateToPem(X509* certificate) {
  UniqueBio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), certificate) != 1) return Status::Internal("cannot write certificate PEM");
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// Everything the SSL_CTX needs, configured by hand: the callback constructor of SSLServer sets
// nothing itself, and its other constructors would also trust the system CA store.
Status ConfigureTls(SSL_CTX& context, const HttpsServerOptions& options, const CertificateAuthority& ca) {
  WW_ASSIGN_OR_RETURN(UniqueX509 server_certificate,
                      ReadCertificate(options.server_certificate_pem, "server certificate"));
  UniqueBio key_bio = MemoryBio(options.server_private_key_pem);
  UniqueEvpPkey key(key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return Status::InvalidArgument("server private key is not a PEM private key");
  WW_ASSIGN_OR_RETURN(UniqueX509 ca_certificate, ReadCertificate(ca.CertificatePem(), "CA certificate"));

  SSL_CTX_set_options(&context, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_min_proto_version(&context, TLS1_2_VERSION) != 1) return Status::Internal("cannot set TLS 1.2 minimum");
  if (SSL_CTX_use_certificate(&context, server_certificate.get()) != 1 ||
      SSL_CTX_use_PrivateKey(&context, key.get()) != 1 || SSL_CTX_check_private_key(&context) != 1) {
    return Status::InvalidArgument("server certificate and private key do not match");
  }
  // Our CA alone: no SSL_CTX_set_default_verify_paths, so system CAs sign nothing here.
  UniqueX509Store store(X509_STORE_new());
  if (!store || X509_STORE_add_cert(store.get(), ca_certificate.get()) != 1) {
    return Status::Internal("cannot build the client CA store");
  }
  SSL_CTX_set_cert_store(&context, store.release());
  if (SSL_CTX_add_client_CA(&context, ca_certificate.get()) != 1) return Status::Internal("cannot name the client CA");
  // A certificate is optional at the TLS layer (enrollment has none); one that is presented
  // must verify, and routes decide whether one is required.
  SSL_CTX_set_verify(&context, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_verify_depth(&context, 1);
  static constexpr unsigned char kSessionContext[] = "wirewarp-reconciler";
  SSL_CTX_set_session_id_context(&context, kSessionContext, sizeof(kSessionContext) - 1);
  return Status::Ok();
}

// A route pattern may hold capture groups but none inside another.
bool HasNestedGroup(const std::string& pattern) {
  int depth = 0;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      ++i;
    } else if (pattern[i] == '(') {
      if (++depth > 1) return true;
    } else if (pattern[i] == ')') {
      --depth;
    }
  }
  return false;
}

std::string_view MethodName(HttpMethod method) {
  switch (method) {
    case HttpMethod::kGet: return "GET";
    case HttpMethod::kPost: return "POST";
    case HttpMethod::kPut: return "PUT";
    case HttpMethod::kDelete: return "DELETE";
  }
  return "GET";
}

// httplib adds these to the request headers itself (after any the client sent, so a client's
// REMOTE_ADDR would win a lookup); handlers get the socket's values from fields instead.
bool IsServerAddedHeader(const std::string& name) {
  for (std::string_view added : {"REMOTE_ADDR", "REMOTE_PORT", "LOCAL_ADDR", "LOCAL_PORT"}) {
    if (name.size() == added.size() &&
        std::equal(name.begin(), name.end(), added.begin(), [](char a, char b) { return std::toupper(static_cast<unsigned char>(a)) == b; })) {
      return true;
    }
  }
  return false;
}

// cpp-httplib 0.11.4 ignores a response's "Connection: close" and keeps reading the socket, so
// the body of a refused request would be parsed as further requests (memory growth, and a
// smuggling path). Shutting the read side makes its next read see end-of-stream, so the
// connection ends. Called from the logger, which httplib runs after writing the answer
// (earlier, httplib's liveness check would see the end and not write the answer at all).
void StopReading(const httplib::Request& request) {
  if (request.ssl == nullptr) return;
  // TLS may already hold decrypted bytes of the body: mark the read side finished, as if the
  // peer had sent close_notify, so SSL_read returns 0 at once; then the socket itself.
  SSL* connection = const_cast<SSL*>(request.ssl);
  SSL_set_shutdown(connection, SSL_get_shutdown(connection) | SSL_RECEIVED_SHUTDOWN);
  int descriptor = SSL_get_fd(connection);
  if (descriptor >= 0) shutdown(descriptor, SHUT_RD);
}

void Refuse(httplib::Response& response, int status, const std::string& reason) {
  response.status = status;
  // API.md: every error answer is {"error": "..."}, also the guard's and the TLS layer's.
  response.set_content(nlohmann::json{{"error", reason}}.dump(), "application/json");
  // Whatever body the client still sends must not be parsed as the next request.
  response.set_header("Connection", "close");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// HttpsServer

struct HttpsServer::Impl {
  struct RouteEntry {
    std::string method;
    std::regex pattern;
    RouteOptions options;
  };
  struct Peer {
    Identity identity;
    std::string serial;
  };

  static constexpr std::size_t kMaxVerifiedCertificates = 20000;

  Impl(const CertificateAuthority& authority, HttpsServerOptions server_options)
      : ca(authority), options(std::move(server_options)) {}

  // The verified identity of the connection's client certificate, or why there is none.
  // The full check (chain, purpose, identity URI, validity) runs once per certificate; later
  // requests with the same certificate (by SHA-256 of its DER) reuse the identity but still
  // check validity at options.now() and revocation, which is what can change. Every long-poll
  // of 1,000 agents would otherwise decode PEM and rebuild a verify context (OpenSSL 3's
  // decoders serialise on global locks).
  Result<Peer> AuthenticatePeer(const httplib::Request& request) const {
    if (request.ssl == nullptr) return Status::FailedPrecondition("not a TLS connection");
    UniqueX509 certificate(SSL_get1_peer_certificate(request.ssl));
    if (!certificate) return Status::FailedPrecondition("no client certificate");
    if (SSL_get_verify_result(request.ssl) != X509_V_OK) {
      return Status::FailedPrecondition("client certificate did not verify");
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_length = 0;
    std::string key;
    if (X509_digest(certificate.get(), EVP_sha256(), digest, &digest_length) == 1) {
      key.assign(reinterpret_cast<const char*>(digest), digest_length);
    }
    std::optional<Peer> peer;
    if (!key.empty()) {
      std::lock_guard lock(verified_mutex);
      if (auto found = verified.find(key); found != verified.end()) peer = found->second;
    }
    std::int64_t now = options.now();
    if (peer) {
      time_t at = static_cast<time_t>(now);
      if (X509_cmp_time(X509_get0_notAfter(certificate.get()), &at) < 0 ||
          X509_cmp_time(X509_get0_notBefore(certificate.get()), &at) > 0) {
        return Status::FailedPrecondition("client certificate is outside its validity period");
      }
    } else {
      WW_ASSIGN_OR_RETURN(std::string pem, CertificateToPem(certificate.get()));
      WW_ASSIGN_OR_RETURN(Identity identity, VerifyClientCertificate(ca, pem, now));
      WW_ASSIGN_OR_RETURN(std::string serial, CertificateSerialHex(pem));
      peer = Peer{std::move(identity), std::move(serial)};
      if (!key.empty()) {
        std::lock_guard lock(verified_mutex);
        if (verified.size() >= kMaxVerifiedCertificates) verified.clear();
        verified.emplace(key, *peer);
      }
    }
    if (options.is_revoked && options.is_revoked(peer->serial)) {
      return Status::FailedPrecondition("client certificate " + peer->serial + " is revoked");
    }
    return std::move(*peer);
  }

  const RouteEntry* FindRoute(const std::string& method, const std::string& path) const {
    const std::string& routed_method = method == "HEAD" ? std::string("GET") : method;
    for (const RouteEntry& route : routes) {
      if (route.method == routed_method && std::regex_match(path, route.pattern)) return &route;
    }
    return nullptr;
  }

  // Runs before httplib reads any body (verified by the tests against 0.11.4).
  httplib::Server::HandlerResponse PreRoute(const httplib::Request& request, httplib::Response& response) const {
    RequestView view{request.method, request.target, {}};
    for (const auto& [name, value] : request.headers) {
      if (!IsServerAddedHeader(name)) view.headers.emplace_back(name, value);
    }
    GuardLimits limits = options.limits;
    limits.max_body = largest_body;
    if (GuardVerdict verdict = CheckRequest(view, limits); !verdict.Allowed()) {
      Refuse(response, verdict.status, verdict.reason);
      return httplib::Server::HandlerResponse::Handled;
    }
    // The path is short and clean now, so matching route regexes on it is safe.
    const RouteEntry* route = FindRoute(request.method, request.path);
    limits.max_body = route != nullptr ? route->options.max_body : options.limits.max_body;
    if (GuardVerdict verdict = CheckRequest(view, limits); !verdict.Allowed()) {
      Refuse(response, verdict.status, verdict.reason);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (route != nullptr && route->options.client_certificate == ClientCertificate::kRequired) {
      if (Result<Peer> peer = AuthenticatePeer(request); !peer.ok()) {
        Refuse(response, 401, peer.status().message());
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  }

  void Dispatch(const RouteEntry& route, const RouteHandler& handler, const httplib::Request& request,
                httplib::Response& response) const {
    HttpRequest call;
    call.method = request.method;
    call.path = request.path;
    for (std::size_t i = 1; i < request.matches.size(); ++i) call.path_parameters.push_back(request.matches[i].str());
    for (const auto& [name, value] : request.params) call.query.emplace_back(name, value);
    for (const auto& [name, value] : request.headers) {
      if (!IsServerAddedHeader(name)) call.headers.emplace_back(name, value);
    }
    call.body = request.body;
    call.remote_addr = request.remote_addr;
    call.remote_port = request.remote_port;
    // Checked again here so a handler never runs unauthenticated, whatever pre-routing did.
    if (Result<Peer> peer = AuthenticatePeer(request); peer.ok()) {
      call.identity = std::move(peer->identity);
      call.certificate_serial = std::move(peer->serial);
    } else if (route.options.client_certificate == ClientCertificate::kRequired) {
      Refuse(response, 401, peer.status().message());
      return;
    }
    HttpResponse answer = handler(call);
    response.status = answer.status;
    response.set_content(answer.body, answer.content_type.c_str());
  }

  const CertificateAuthority& ca;
  mutable std::mutex verified_mutex;
  // SHA-256 of a certificate's DER -> its checked identity; GUARDED_BY(verified_mutex).
  mutable std::unordered_map<std::string, Peer> verified;
  HttpsServerOptions options;
  std::unique_ptr<httplib::SSLServer> server;
  std::vector<RouteEntry> routes;
  std::size_t largest_body = 0;
  LongPollHub hub;
  ListenerThread listener;  // declared after server: joined before the server goes
};

Result<std::unique_ptr<HttpsServer>> HttpsServer::Create(const CertificateAuthority& ca, HttpsServerOptions options) {
  if (options.worker_threads == 0) return Status::InvalidArgument("worker_threads must be at least 1");
  if (!options.now) {
    options.now = [] {
      return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  auto impl = std::make_unique<Impl>(ca, std::move(options));
  impl->largest_body = impl->options.limits.max_body;
  Status tls_status = Status::Ok();
  Impl* raw = impl.get();
  impl->server = std::make_unique<httplib::SSLServer>([raw, &tls_status](SSL_CTX& context) {
    tls_status = ConfigureTls(context, raw->options, raw->ca);
    return tls_status.ok();
  });
  if (!tls_status.ok()) return tls_status;
  if (!impl->server->is_valid()) return Status::Internal("cpp-httplib could not create the TLS context");

  httplib::SSLServer& server = *impl->server;
  // Debian's compiled library ignores CPPHTTPLIB_THREAD_POOL_COUNT: size the pool here, since
  // every open long-poll holds a worker.
  std::size_t workers = impl->options.worker_threads;
  server.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  server.set_read_timeout(impl->options.read_timeout);
  server.set_write_timeout(impl->options.write_timeout);
  server.set_keep_alive_timeout(impl->options.keep_alive_timeout.count());
  server.set_keep_alive_max_count(impl->options.keep_alive_max_count);
  server.set_payload_max_length(impl->largest_body);
  server.set_logger([](const httplib::Request& request, const httplib::Response& response) {
    if (response.get_header_value("Connection") == "close") StopReading(request);
  });
  server.set_pre_routing_handler(
      [raw](const httplib::Request& request, httplib::Response& response) { return raw->PreRoute(request, response); });
  // "Expect: 100-continue" is answered before pre-routing; refuse there rather than invite the body.
  server.set_expect_100_continue_handler([raw](const httplib::Request& request, httplib::Response& response) {
    return raw->PreRoute(request, response) == httplib::Server::HandlerResponse::Handled ? response.status : 100;
  });
  // The default would put e.what() in an EXCEPTION_WHAT response header.
  server.set_exception_handler([](const httplib::Request&, httplib::Response& response, std::exception_ptr) {
    Refuse(response, 500, "internal error");
  });
  return std::unique_ptr<HttpsServer>(new HttpsServer(std::move(impl)));
}

HttpsServer::HttpsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpsServer::~HttpsServer() { Stop(); }

Status HttpsServer::Route(HttpMethod method, const std::string& pattern, RouteOptions options, RouteHandler handler) {
  if (pattern.empty() || pattern.front() != '/') {
    return Status::InvalidArgument("route pattern \"" + pattern + "\" does not start with \"/\"");
  }
  if (HasNestedGroup(pattern)) return Status::InvalidArgument("route pattern \"" + pattern + "\" nests groups");
  std::regex compiled;
  try {
    compiled = std::regex(pattern);
  } catch (const std::regex_error&) {
    return Status::InvalidArgument("route pattern \"" + pattern + "\" is not a regular expression");
  }
  impl_->routes.push_back(Impl::RouteEntry{std::string(MethodName(method)), std::move(compiled), options});
  impl_->largest_body = std::max(impl_->largest_body, options.max_body);
  impl_->server->set_payload_max_length(impl_->largest_body);

  // Routes are never erased, so the entry's index stays valid for the server's life.
  std::size_t index = impl_->routes.size() - 1;
  Impl* raw = impl_.get();
  auto dispatch = [raw, index, handler = std::move(handler)](const httplib::Request& request,
                                                               httplib::Response& response) {
    raw->Dispatch(raw->routes[index], handler, request, response);
  };
  switch (method) {
    case HttpMethod::kGet: impl_->server->Get(pattern, dispatch); break;
    case HttpMethod::kPost: impl_->server->Post(pattern, httplib::Server::Handler(dispatch)); break;
    case HttpMethod::kPut: impl_->server->Put(pattern, httplib::Server::Handler(dispatch)); break;
    case HttpMethod::kDelete: impl_->server->Delete(pattern, httplib::Server::Handler(dispatch)); break;
  }
  return Status::Ok();
}

Result<int> HttpsServer::Start(const std::string& host, int port) {
  return impl_->listener.Start(*impl_->server, host, port, "the API server");
}

void HttpsServer::Stop() {
  impl_->listener.Stop(*impl_->server, [this] { impl_->hub.Shutdown(); });
}

LongPollHub& HttpsServer::long_polls() { return impl_->hub; }

}  // namespace ww
