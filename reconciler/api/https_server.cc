#include "reconciler/api/https_server.h"

#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <regex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "reconciler/api/server_tls.h"
#include "reconciler/pki/openssl_handles.h"

namespace ww {
namespace {

using pki_internal::UniqueX509;
using pki_internal::UniqueX509Store;
using pki_internal::WriteCertificatePem;

// The client CA on top of the shared server settings (server_tls.h), configured by hand: no
// default verify paths, so the system CA store trusts nothing here.
Status ConfigureClientVerification(SSL_CTX& context, const CertificateAuthority& ca) {
  Result<UniqueX509> read = pki_internal::ReadCertificatePem(ca.CertificatePem());
  if (!read.ok()) return Status::InvalidArgument("CA certificate is not a PEM certificate");
  UniqueX509 ca_certificate = std::move(read).value();
  // Our CA alone: no SSL_CTX_set_default_verify_paths, so system CAs sign nothing here.
  UniqueX509Store store(X509_STORE_new());
  if (!store || X509_STORE_add_cert(store.get(), ca_certificate.get()) != 1) {
    return Status::Internal("cannot build the client CA store");
  }
  SSL_CTX_set_cert_store(&context, store.release());
  if (SSL_CTX_add_client_CA(&context, ca_certificate.get()) != 1) return Status::Internal("cannot name the client CA");
  // A certificate is optional at the TLS layer (enrollment has none). One that does not verify
  // still completes the handshake, its verify result kept: every request with it is then
  // refused 401 saying why (a TLS alert would leave the client guessing).
  SSL_CTX_set_verify(&context, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
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

HttpResponse JsonError(int status, const std::string& reason) {
  // API.md: every error answer is {"error": "..."}, also the guard's and the front end's.
  return HttpResponse{status, "application/json", nlohmann::json{{"error", reason}}.dump(), {}, std::nullopt};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// HttpsServer

struct HttpsServer::Impl {
  struct RouteEntry {
    std::string method;
    std::regex pattern;
    RouteOptions options;
    RouteHandler handler;
  };
  struct Peer {
    Identity identity;
    std::string serial;
  };

  static constexpr std::size_t kMaxVerifiedCertificates = 20000;

  Impl(const CertificateAuthority& authority, HttpsServerOptions server_options)
      : ca(authority), options(std::move(server_options)) {}

  ~Impl() {
    engine.reset();  // joined before the routes, the hub and the TLS context it uses go
    if (tls_context != nullptr) SSL_CTX_free(tls_context);
  }

  // The verified identity of the connection's client certificate, or why there is none.
  // The full check (chain, purpose, identity URI, validity) runs once per certificate; later
  // requests with the same certificate (by SHA-256 of its DER) reuse the identity but still
  // check validity at options.now() and revocation, which is what can change. Every long-poll
  // of 1,000 agents would otherwise decode PEM and rebuild a verify context (OpenSSL 3's
  // decoders serialise on global locks).
  Result<Peer> AuthenticatePeer(SSL* tls) const {
    if (tls == nullptr) return Status::FailedPrecondition("not a TLS connection");
    UniqueX509 certificate(SSL_get1_peer_certificate(tls));
    if (!certificate) return Status::FailedPrecondition("no client certificate");
    if (long verify = SSL_get_verify_result(tls); verify != X509_V_OK) {
      return Status::FailedPrecondition(VerifyFailure(certificate.get(), verify));
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
      WW_ASSIGN_OR_RETURN(std::string pem, WriteCertificatePem(certificate.get()));
      WW_ASSIGN_OR_RETURN(Identity identity, VerifyClientCertificate(ca, pem, now));
      WW_ASSIGN_OR_RETURN(std::string serial, CertificateSerialHex(pem));
      peer = Peer{std::move(identity), std::move(serial)};
      if (!key.empty()) {
        std::lock_guard lock(verified_mutex);
        if (verified.size() >= kMaxVerifiedCertificates) verified.clear();
        verified.emplace(key, *peer);
      }
    }
    if (!options.fleet.empty() && peer->identity.fleet != options.fleet) {
      return Status::FailedPrecondition(
          "client certificate " + IdentityUri(peer->identity) + " belongs to fleet \"" + peer->identity.fleet +
          "\", this reconciler serves fleet \"" + options.fleet + "\"; use a credential this reconciler issued");
    }
    if (options.is_revoked && options.is_revoked(peer->serial)) {
      return Status::FailedPrecondition("client certificate " + peer->serial + " is revoked");
    }
    return std::move(*peer);
  }

  // Why the certificate presented on this connection failed verification; nullopt when none
  // was presented or it verified.
  std::optional<std::string> PresentedCertificateFailure(SSL* tls) const {
    if (tls == nullptr) return std::nullopt;
    UniqueX509 certificate(SSL_get1_peer_certificate(tls));
    if (!certificate) return std::nullopt;
    long verify = SSL_get_verify_result(tls);
    if (verify == X509_V_OK) return std::nullopt;
    return VerifyFailure(certificate.get(), verify);
  }

  // Why a presented certificate did not verify, naming what it claims to be: "another
  // WireWarp install" is the likely story when a CA of the same name did not sign it.
  std::string VerifyFailure(X509* certificate, long verify) const {
    std::string reason = X509_verify_cert_error_string(verify);
    bool foreign = verify == X509_V_ERR_CERT_SIGNATURE_FAILURE || verify == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
                   verify == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                   verify == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE || verify == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT;
    if (!foreign) return "client certificate did not verify: " + reason;
    Result<std::string> pem = WriteCertificatePem(certificate);
    Result<CertificateClaims> claims = pem.ok() ? ReadCertificateClaims(*pem) : Result<CertificateClaims>(pem.status());
    std::string theirs = "it was not signed by this reconciler's CA";
    if (claims.ok()) {
      theirs = "it names issuer \"" + claims->issuer_common_name + "\"";
      if (claims->identity) theirs += " and fleet \"" + claims->identity->fleet + "\"";
      theirs += ", but was not signed by this reconciler's CA";
    }
    std::string ours = "\"" + ca_common_name + "\"";
    if (!options.fleet.empty()) ours += " (fleet \"" + options.fleet + "\")";
    return "client certificate refused (" + reason + "): " + theirs + " " + ours +
           " — a credential of another WireWarp install? Use one this reconciler issued";
  }

  // The index of the route for `method` and the decoded `path`, or -1.
  int FindRoute(const std::string& method, const std::string& path) const {
    const std::string routed_method = method == "HEAD" ? std::string("GET") : method;
    for (std::size_t i = 0; i < routes.size(); ++i) {
      if (routes[i].method == routed_method && std::regex_match(path, routes[i].pattern)) return static_cast<int>(i);
    }
    return -1;
  }

  // On an I/O thread, before any body is read: the guard, the route, its body limit and its
  // certificate requirement.
  HeadDecision CheckHead(const RequestHead& head) const {
    HeadDecision decision;
    RequestView view{head.method, head.target, head.headers};
    GuardLimits limits = options.limits;
    limits.max_body = largest_body;
    if (GuardVerdict verdict = CheckRequest(view, limits); !verdict.Allowed()) {
      decision.refusal = JsonError(verdict.status, verdict.reason);
      return decision;
    }
    // The path is short and clean now, so matching route regexes on it is safe.
    std::optional<RequestTarget> target = SplitTarget(head.target);
    int route = target ? FindRoute(head.method, target->path) : -1;
    limits.max_body = route >= 0 ? routes[static_cast<std::size_t>(route)].options.max_body : options.limits.max_body;
    if (GuardVerdict verdict = CheckRequest(view, limits); !verdict.Allowed()) {
      decision.refusal = JsonError(verdict.status, verdict.reason);
      return decision;
    }
    if (route < 0) {
      decision.refusal = JsonError(404, "no route for " + head.method + " " + (target ? target->path : head.target));
      return decision;
    }
    const RouteEntry& entry = routes[static_cast<std::size_t>(route)];
    if (entry.options.client_certificate == ClientCertificate::kRequired) {
      if (Result<Peer> peer = AuthenticatePeer(head.tls); !peer.ok()) {
        decision.refusal = JsonError(401, peer.status().message());
        return decision;
      }
    } else if (std::optional<std::string> failure = PresentedCertificateFailure(head.tls)) {
      // Optional means "none is fine", not "any is fine": the handshake let it through only
      // so that this answer can say why.
      decision.refusal = JsonError(401, *failure);
      return decision;
    }
    decision.max_body = entry.options.max_body;
    decision.route = route;
    return decision;
  }

  // On a worker thread, with the body read.
  HttpResponse Handle(RequestHead head, std::string body, int route) const {
    const RouteEntry& entry = routes.at(static_cast<std::size_t>(route));
    std::optional<RequestTarget> target = SplitTarget(head.target);
    if (!target) return JsonError(400, "malformed request target");  // CheckHead refused it already
    HttpRequest call;
    call.method = std::move(head.method);
    call.path = std::move(target->path);
    call.query = std::move(target->query);
    std::smatch match;
    if (std::regex_match(call.path, match, entry.pattern)) {
      for (std::size_t i = 1; i < match.size(); ++i) call.path_parameters.push_back(match[i].str());
    }
    call.headers = std::move(head.headers);
    call.body = std::move(body);
    call.remote_addr = std::move(head.remote_addr);
    call.remote_port = head.remote_port;
    // Checked again here so a handler never runs unauthenticated, whatever the head check did.
    if (Result<Peer> peer = AuthenticatePeer(head.tls); peer.ok()) {
      if (options.on_authenticated) options.on_authenticated(peer->identity, peer->serial);
      if (on_authenticated) on_authenticated(peer->identity, peer->serial);
      call.identity = std::move(peer->identity);
      call.certificate_serial = std::move(peer->serial);
    } else if (entry.options.client_certificate == ClientCertificate::kRequired) {
      return JsonError(401, peer.status().message());
    }
    return entry.handler(call);
  }

  const CertificateAuthority& ca;
  std::string ca_common_name;  // for refusal messages
  mutable std::mutex verified_mutex;
  // SHA-256 of a certificate's DER -> its checked identity; GUARDED_BY(verified_mutex).
  mutable std::unordered_map<std::string, Peer> verified;
  HttpsServerOptions options;
  SSL_CTX* tls_context = nullptr;
  std::vector<RouteEntry> routes;  // complete before Start(); read-only after
  AuthenticationObserver on_authenticated;  // set before Start(); read-only after
  std::size_t largest_body = 0;
  LongPollHub hub;
  std::unique_ptr<HttpEngine> engine;
};

Result<std::unique_ptr<HttpsServer>> HttpsServer::Create(const CertificateAuthority& ca, HttpsServerOptions options) {
  if (!options.now) {
    options.now = [] {
      return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  auto impl = std::make_unique<Impl>(ca, std::move(options));
  if (Result<CertificateClaims> claims = ReadCertificateClaims(ca.CertificatePem()); claims.ok()) {
    impl->ca_common_name = claims->subject_common_name;
  }
  impl->largest_body = impl->options.limits.max_body;
  WW_ASSIGN_OR_RETURN(UniqueSslContext context, MakeServerTlsContext(impl->options.server_certificate_pem,
                                                                     impl->options.server_private_key_pem));
  impl->tls_context = context.release();
  WW_RETURN_IF_ERROR(ConfigureClientVerification(*impl->tls_context, impl->ca));

  Impl* raw = impl.get();
  HttpEngineOptions engine;
  engine.name = "the API server";
  engine.limits = raw->options.http;
  engine.io_threads = raw->options.io_threads;
  engine.worker_threads = raw->options.worker_threads;
  engine.tls_context = raw->tls_context;
  engine.long_polls = &raw->hub;
  engine.check_head = [raw](const RequestHead& head) { return raw->CheckHead(head); };
  engine.handle = [raw](RequestHead head, std::string body, int route) {
    return raw->Handle(std::move(head), std::move(body), route);
  };
  engine.refusal = JsonError;
  WW_ASSIGN_OR_RETURN(impl->engine, HttpEngine::Create(std::move(engine)));
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
  impl_->routes.push_back(
      Impl::RouteEntry{std::string(MethodName(method)), std::move(compiled), options, std::move(handler)});
  impl_->largest_body = std::max(impl_->largest_body, options.max_body);
  return Status::Ok();
}

void HttpsServer::OnAuthenticated(AuthenticationObserver observer) { impl_->on_authenticated = std::move(observer); }

Result<int> HttpsServer::Start(const std::string& host, int port) { return impl_->engine->Listen(host, port); }

void HttpsServer::Stop() {
  impl_->hub.Shutdown();  // parked polls are answered 503 before the engine stops
  impl_->engine->Stop();
}

LongPollHub& HttpsServer::long_polls() { return impl_->hub; }

std::size_t HttpsServer::OpenConnections() const { return impl_->engine->OpenConnections(); }

}  // namespace ww
