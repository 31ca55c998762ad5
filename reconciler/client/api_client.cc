#include "reconciler/client/api_client.h"

#include <httplib.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "reconciler/client/https_url.h"

namespace ww {
namespace {

struct X509Free {
  void operator()(X509* certificate) const { X509_free(certificate); }
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
  void operator()(BIO* bio) const { BIO_free_all(bio); }
};

std::unique_ptr<BIO, X509Free> MemoryBio(const std::string& pem) {
  return std::unique_ptr<BIO, X509Free>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// httplib trusts only a CA given as a file path (a store would add the system CAs). The CA
// goes into a memory file (memfd) named by its /proc/self/fd path: no file on disk, so an
// interrupted or killed process cannot leave one behind.
Result<int> WriteMemoryFile(const std::string& contents) {
  int descriptor = memfd_create("wirewarp-ca", MFD_CLOEXEC);
  if (descriptor < 0) return Status::Internal(std::string("cannot create a memory file for the CA: ") + std::strerror(errno));
  size_t written = 0;
  while (written < contents.size()) {
    ssize_t count = write(descriptor, contents.data() + written, contents.size() - written);
    if (count <= 0) {
      close(descriptor);
      return Status::Internal("cannot write the CA to a memory file");
    }
    written += static_cast<size_t>(count);
  }
  if (access(("/proc/self/fd/" + std::to_string(descriptor)).c_str(), R_OK) != 0) {
    close(descriptor);
    return Status::Internal("cannot hand the CA to the TLS library: /proc is not mounted");
  }
  return descriptor;
}

std::string Seconds(std::chrono::seconds value) { return std::to_string(value.count()) + "s"; }

// The reason OpenSSL recorded for this thread's last failure ("wrong version number",
// "tlsv13 alert certificate required"), clearing the queue; "" when none.
std::string TakeOpenSslReason() {
  unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "";
  const char* reason = ERR_reason_error_string(code);
  return reason != nullptr ? reason : "";
}

// Retry-After as delta-seconds (an HTTP date is not something the reconciler sends).
std::optional<std::int64_t> RetryAfterSeconds(const std::string& value) {
  if (value.empty() || value.size() > 9 || value.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoll(value);
}

// Why a TCP connection to host:port fails, found by trying once more: httplib reports every
// failure as "Connection" and keeps no errno.
std::string DiagnoseConnection(const std::string& host, int port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string service = std::to_string(port);
  if (int error = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); error != 0) {
    return "cannot resolve host \"" + host + "\" (" + gai_strerror(error) + ") — is the name right, and does DNS work here?";
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> addresses(found, freeaddrinfo);
  int error = ETIMEDOUT;
  for (addrinfo* address = found; address != nullptr; address = address->ai_next) {
    int descriptor = socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, address->ai_protocol);
    if (descriptor < 0) continue;
    error = connect(descriptor, address->ai_addr, address->ai_addrlen) == 0 ? 0 : errno;
    if (error == EINPROGRESS) {
      pollfd poll_descriptor{descriptor, POLLOUT, 0};
      int ready = poll(&poll_descriptor, 1, static_cast<int>(timeout.count()));
      socklen_t length = sizeof error;
      if (ready <= 0) {
        error = ETIMEDOUT;
      } else if (getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
        error = errno;
      }
    }
    close(descriptor);
    if (error == 0) break;
  }
  switch (error) {
    case 0:
      return "the connection failed (it works now: retry)";
    case ECONNREFUSED:
      return "connection refused — is the reconciler running, and listening on port " + service + "?";
    case ETIMEDOUT:
      return "no answer to the connection — is the address right, and does a firewall let port " + service + " through?";
    default:
      return std::string(std::strerror(error)) + " — is the address right, and is the network up?";
  }
}

}  // namespace

struct ApiClient::Impl {
  ApiClientOptions options;
  HttpsUrl target;
  int ca_descriptor = -1;  // the memory file holding the CA
  std::unique_ptr<httplib::SSLClient> client;
  std::chrono::seconds read_timeout{0};  // of the request in flight

  ~Impl() {
    client.reset();
    if (ca_descriptor >= 0) close(ca_descriptor);
  }

  void SetReadTimeout(std::chrono::seconds timeout) {
    read_timeout = timeout.count() > 0 ? timeout : options.read_timeout;
    client->set_read_timeout(static_cast<time_t>(read_timeout.count()));
  }

  // " (\"server\" in FILE, from --config)": where to fix `field`, when known.
  std::string Check(std::string_view field) const {
    if (options.settings_source.empty()) return "";
    return " (\"" + std::string(field) + "\" in " + options.settings_source + ")";
  }

  std::string Failure(httplib::Error error, std::string_view method, const std::string& path,
                      std::chrono::steady_clock::duration elapsed) {
    const std::string& url = options.url;
    const bool connect_timed_out = elapsed + std::chrono::milliseconds(200) >= options.connect_timeout;
    const bool read_timed_out = elapsed + std::chrono::milliseconds(200) >= read_timeout;
    std::string reason = TakeOpenSslReason();
    switch (error) {
      case httplib::Error::Connection:
      case httplib::Error::ConnectionTimeout:
        if (connect_timed_out) {
          return "cannot reach " + url + ": no answer to the connection within " + Seconds(options.connect_timeout) +
                 " — is the address right, and does a firewall let port " + std::to_string(target.port) + " through?" +
                 Check("server");
        }
        return "cannot reach " + url + ": " + DiagnoseConnection(target.host, target.port, std::chrono::seconds(2)) +
               Check("server");
      case httplib::Error::SSLConnection:
        if (connect_timed_out) {
          return "TLS handshake with " + url + " timed out after " + Seconds(options.connect_timeout) +
                 " — is this the reconciler's API port (--listen), not another service?" + Check("server");
        }
        return "TLS handshake with " + url + " failed" + (reason.empty() ? "" : " (" + reason + ")") +
               " — is this the reconciler's API port (--listen), and does it still accept this client certificate?" +
               Check("server");
      case httplib::Error::SSLServerVerification: {
        long verify = client->get_openssl_verify_result();
        if (verify != X509_V_OK) {
          return "the server at " + url + " presented a certificate the configured CA did not sign (" +
                 X509_verify_cert_error_string(verify) +
                 ") — is this the reconciler the config was written for? A reconciler whose data directory was "
                 "recreated has a new CA and writes a new admin.wwctl.yaml" + Check("caCertificate");
        }
        return "the certificate of " + url + " is not valid for host \"" + target.host +
               "\" — use the address the reconciler advertises (--advertise)" + Check("server");
      }
      case httplib::Error::SSLLoadingCerts:
        return "cannot load the CA certificate to check " + url + Check("caCertificate");
      case httplib::Error::Read:
        if (read_timed_out) {
          return "no answer from " + url + " to " + std::string(method) + " " + path + " within " + Seconds(read_timeout) +
                 " — is the reconciler overloaded, or the network slow?" +
                 (options.timeout_flag.empty() ? "" : " A longer " + options.timeout_flag + " waits longer") +
                 Check("server");
        }
        return url + " closed the connection without answering " + std::string(method) + " " + path +
               (reason.empty() ? "" : " (" + reason + ")") +
               " — a reconciler refuses client certificates it did not issue or has revoked" + Check("clientCertificate");
      case httplib::Error::Write:
        return "sending " + std::string(method) + " " + path + " to " + url + " failed" +
               (reason.empty() ? "" : " (" + reason + ")") + Check("server");
      default:
        return std::string(method) + " " + url + path + " failed: " + httplib::to_string(error) + Check("server");
    }
  }

  // A kept-alive connection the server has closed meanwhile (its idle timeout) fails on the
  // first write, before the request left this host: that one is sent again on a new
  // connection. Any other failure is reported as it is.
  template <typename Call>
  httplib::Result Send(Call call) {
    httplib::Result result = call();
    if (!result && result.error() == httplib::Error::Write) {
      client->stop();  // drops the stale connection
      result = call();
    }
    return result;
  }

  template <typename Call>
  Result<ApiResponse> Request(std::string_view method, const std::string& path, Call call) {
    ERR_clear_error();
    auto started = std::chrono::steady_clock::now();
    httplib::Result result = Send(call);
    auto elapsed = std::chrono::steady_clock::now() - started;
    std::string milliseconds =
        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()) + " ms";
    if (!result) {
      std::string message = Failure(result.error(), method, path, elapsed);
      if (options.trace) options.trace(std::string(method) + " " + options.url + path + " failed after " + milliseconds);
      return Status::Unavailable(message);
    }
    if (options.trace) {
      options.trace(std::string(method) + " " + options.url + path + " -> " + std::to_string(result->status) + " (" +
                    milliseconds + ")");
    }
    return ApiResponse{result->status, result->body, RetryAfterSeconds(result->get_header_value("Retry-After"))};
  }
};

ApiClient::ApiClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ApiClient::~ApiClient() = default;

Result<std::unique_ptr<ApiClient>> ApiClient::Create(ApiClientOptions options) {
  WW_ASSIGN_OR_RETURN(HttpsUrl target, ParseHttpsUrl(options.url));
  if (options.ca_certificate_pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return Status::InvalidArgument("the reconciler's CA certificate is missing or not PEM");
  }
  auto impl = std::make_unique<Impl>();
  if (options.client_certificate_pem.empty()) {
    impl->client = std::make_unique<httplib::SSLClient>(target.host, target.port);
  } else {
    auto certificate_bio = MemoryBio(options.client_certificate_pem);
    std::unique_ptr<X509, X509Free> certificate(
        PEM_read_bio_X509(certificate_bio.get(), nullptr, nullptr, nullptr));
    auto key_bio = MemoryBio(options.client_key_pem);
    std::unique_ptr<EVP_PKEY, X509Free> key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
    if (!certificate) return Status::InvalidArgument("the client certificate is not a PEM certificate");
    if (!key) return Status::InvalidArgument("the client key is not a PEM private key");
    if (X509_check_private_key(certificate.get(), key.get()) != 1) {
      return Status::InvalidArgument("the client key does not belong to the client certificate");
    }
    // httplib takes its own references (SSL_CTX_use_certificate / _PrivateKey).
    impl->client = std::make_unique<httplib::SSLClient>(target.host, target.port, certificate.get(), key.get());
  }
  if (!impl->client->is_valid()) return Status::Internal("cannot set up a TLS client for " + options.url);
  impl->target = target;
  WW_ASSIGN_OR_RETURN(impl->ca_descriptor, WriteMemoryFile(options.ca_certificate_pem));
  std::string ca_path = "/proc/self/fd/" + std::to_string(impl->ca_descriptor);
  impl->client->set_ca_cert_path(ca_path.c_str());
  impl->client->enable_server_certificate_verification(true);
  impl->client->set_connection_timeout(static_cast<time_t>(options.connect_timeout.count()));
  impl->client->set_write_timeout(static_cast<time_t>(options.connect_timeout.count()));
  impl->client->set_keep_alive(true);
  // Small requests and answers: without this, Nagle and delayed ACKs hold a long-poll's
  // answer back ~40 ms.
  impl->client->set_tcp_nodelay(true);
  impl->options = std::move(options);
  return std::unique_ptr<ApiClient>(new ApiClient(std::move(impl)));
}

Result<ApiResponse> ApiClient::Get(const std::string& path_and_query, std::chrono::seconds read_timeout) {
  impl_->SetReadTimeout(read_timeout);
  return impl_->Request("GET", path_and_query, [&] { return impl_->client->Get(path_and_query); });
}

Result<ApiResponse> ApiClient::Post(const std::string& path, std::string_view json_body,
                                    std::chrono::seconds read_timeout) {
  impl_->SetReadTimeout(read_timeout);
  return impl_->Request("POST", path, [&] {
    return impl_->client->Post(path, json_body.data(), json_body.size(), "application/json");
  });
}

Result<ApiResponse> ApiClient::Delete(const std::string& path) {
  impl_->SetReadTimeout({});
  return impl_->Request("DELETE", path, [&] { return impl_->client->Delete(path); });
}

const std::string& ApiClient::url() const { return impl_->options.url; }

std::string ApiErrorMessage(const ApiResponse& response) {
  try {
    nlohmann::json parsed = nlohmann::json::parse(response.body);
    if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_string()) {
      return parsed["error"].get<std::string>();
    }
  } catch (const std::exception&) {
  }
  if (response.body.empty()) return "HTTP " + std::to_string(response.status);
  return response.body.substr(0, 200);
}

}  // namespace ww
