#include "reconciler/client/api_client.h"

#include <httplib.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cstdlib>
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

// httplib trusts only a CA given as a file path (a store would add the system CAs), so the
// CA goes into a private temporary file that lives as long as the client.
Result<std::string> WritePrivateTemporaryFile(const std::string& contents) {
  const char* directory = std::getenv("TMPDIR");
  std::string pattern = std::string(directory != nullptr && *directory != '\0' ? directory : "/tmp") +
                        "/wirewarp-ca-XXXXXX";
  int descriptor = mkstemp(pattern.data());  // mode 0600
  if (descriptor < 0) return Status::Internal("cannot create a temporary file for the CA in " + pattern);
  size_t written = 0;
  while (written < contents.size()) {
    ssize_t count = write(descriptor, contents.data() + written, contents.size() - written);
    if (count <= 0) {
      close(descriptor);
      unlink(pattern.c_str());
      return Status::Internal("cannot write the CA to " + pattern);
    }
    written += static_cast<size_t>(count);
  }
  close(descriptor);
  return pattern;
}

}  // namespace

struct ApiClient::Impl {
  ApiClientOptions options;
  std::string ca_path;
  std::unique_ptr<httplib::SSLClient> client;

  ~Impl() {
    client.reset();
    if (!ca_path.empty()) unlink(ca_path.c_str());
  }

  void SetReadTimeout(std::chrono::seconds timeout) {
    std::chrono::seconds effective = timeout.count() > 0 ? timeout : options.read_timeout;
    client->set_read_timeout(static_cast<time_t>(effective.count()));
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

  Result<ApiResponse> Convert(httplib::Result result, std::string_view method, const std::string& path) {
    if (!result) {
      return Status::Unavailable(std::string(method) + " " + options.url + path + " failed: " +
                                 httplib::to_string(result.error()));
    }
    return ApiResponse{result->status, result->body};
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
  WW_ASSIGN_OR_RETURN(impl->ca_path, WritePrivateTemporaryFile(options.ca_certificate_pem));
  impl->client->set_ca_cert_path(impl->ca_path.c_str());
  impl->client->enable_server_certificate_verification(true);
  impl->client->set_connection_timeout(static_cast<time_t>(options.connect_timeout.count()));
  impl->client->set_write_timeout(static_cast<time_t>(options.connect_timeout.count()));
  impl->client->set_keep_alive(true);
  impl->options = std::move(options);
  return std::unique_ptr<ApiClient>(new ApiClient(std::move(impl)));
}

Result<ApiResponse> ApiClient::Get(const std::string& path_and_query, std::chrono::seconds read_timeout) {
  impl_->SetReadTimeout(read_timeout);
  return impl_->Convert(impl_->Send([&] { return impl_->client->Get(path_and_query); }), "GET", path_and_query);
}

Result<ApiResponse> ApiClient::Post(const std::string& path, std::string_view json_body,
                                    std::chrono::seconds read_timeout) {
  impl_->SetReadTimeout(read_timeout);
  return impl_->Convert(
      impl_->Send([&] { return impl_->client->Post(path, json_body.data(), json_body.size(), "application/json"); }),
      "POST", path);
}

Result<ApiResponse> ApiClient::Delete(const std::string& path) {
  impl_->SetReadTimeout({});
  return impl_->Convert(impl_->Send([&] { return impl_->client->Delete(path); }), "DELETE", path);
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
