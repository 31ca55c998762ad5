#include "agent/daemon/control_plane.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <ctime>
#include <exception>
#include <nlohmann/json.hpp>
#include <utility>

#include "reconciler/client/enroll_client.h"
#include "reconciler/pki/certificate_authority.h"

namespace ww::agent {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* certificate) const { X509_free(certificate); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

constexpr size_t kMaxPemFile = 64 * 1024;
constexpr size_t kMaxRenewalAnswer = 64 * 1024;
constexpr std::chrono::seconds kRenewalTimeout{30};

std::unique_ptr<X509, X509Free> ReadCertificate(std::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  return std::unique_ptr<X509, X509Free>(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

// True when `certificate_pem` certifies the public half of `key_pem`.
bool CertificateMatchesKey(std::string_view certificate_pem, std::string_view key_pem) {
  std::unique_ptr<X509, X509Free> certificate = ReadCertificate(certificate_pem);
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  if (!certificate || !bio) return false;
  std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  return key && X509_check_private_key(certificate.get(), key.get()) == 1;
}

Result<std::string> ReadRequired(const StateDir& state, std::string_view name) {
  WW_ASSIGN_OR_RETURN(std::optional<std::string> text, state.ReadFile(name, kMaxPemFile));
  if (!text) {
    return Status::FailedPrecondition(state.FilePath(name) + " is missing: enroll this agent first (wirewarp-agent enroll)");
  }
  return std::move(*text);
}

// Replaces tls.key and tls.pem with a pair that is already safe in the .next files.
Status InstallPair(StateDir& state, std::string_view key_pem, std::string_view certificate_pem) {
  WW_RETURN_IF_ERROR(state.WriteFileAtomically(kAgentTlsKeyFile, key_pem));
  WW_RETURN_IF_ERROR(state.WriteFileAtomically(kAgentTlsCertificateFile, certificate_pem));
  WW_RETURN_IF_ERROR(state.RemoveFile(kNextTlsCertificateFile));
  return state.RemoveFile(kNextTlsKeyFile);
}

class ApiControlPlaneClient : public ControlPlaneClient {
 public:
  explicit ApiControlPlaneClient(std::unique_ptr<ApiClient> client) : client_(std::move(client)) {}
  Result<ApiResponse> Get(const std::string& path_and_query, std::chrono::seconds read_timeout) override {
    return client_->Get(path_and_query, read_timeout);
  }
  Result<ApiResponse> Post(const std::string& path, std::string_view json_body,
                           std::chrono::seconds read_timeout) override {
    return client_->Post(path, json_body, read_timeout);
  }

 private:
  std::unique_ptr<ApiClient> client_;
};

}  // namespace

Result<TlsCredentials> LoadTlsCredentials(StateDir& state) {
  WW_ASSIGN_OR_RETURN(std::optional<std::string> next_key, state.ReadFile(kNextTlsKeyFile, kMaxPemFile));
  WW_ASSIGN_OR_RETURN(std::optional<std::string> next_certificate, state.ReadFile(kNextTlsCertificateFile, kMaxPemFile));
  if (next_key && next_certificate && CertificateMatchesKey(*next_certificate, *next_key)) {
    WW_RETURN_IF_ERROR(InstallPair(state, *next_key, *next_certificate));
  } else if (next_key || next_certificate) {
    // The renewal never got its certificate: the old pair is still the valid one.
    WW_RETURN_IF_ERROR(state.RemoveFile(kNextTlsCertificateFile));
    WW_RETURN_IF_ERROR(state.RemoveFile(kNextTlsKeyFile));
  }
  TlsCredentials credentials;
  WW_ASSIGN_OR_RETURN(credentials.ca_certificate_pem, ReadRequired(state, kAgentCaCertificateFile));
  WW_ASSIGN_OR_RETURN(credentials.certificate_pem, ReadRequired(state, kAgentTlsCertificateFile));
  WW_ASSIGN_OR_RETURN(credentials.key_pem, ReadRequired(state, kAgentTlsKeyFile));
  return credentials;
}

ControlPlaneClientFactory ApiClientFactory(std::string url, StateDir& state) {
  return [url = std::move(url), &state]() -> Result<std::unique_ptr<ControlPlaneClient>> {
    WW_ASSIGN_OR_RETURN(TlsCredentials credentials, LoadTlsCredentials(state));
    ApiClientOptions options;
    options.url = url;
    options.ca_certificate_pem = std::move(credentials.ca_certificate_pem);
    options.client_certificate_pem = std::move(credentials.certificate_pem);
    options.client_key_pem = std::move(credentials.key_pem);
    WW_ASSIGN_OR_RETURN(std::unique_ptr<ApiClient> client, ApiClient::Create(std::move(options)));
    return std::unique_ptr<ControlPlaneClient>(std::make_unique<ApiControlPlaneClient>(std::move(client)));
  };
}

Result<CertificateValidity> ReadCertificateValidity(std::string_view certificate_pem) {
  std::unique_ptr<X509, X509Free> certificate = ReadCertificate(certificate_pem);
  if (!certificate) return Status::InvalidArgument("the agent certificate is not a PEM certificate");
  auto to_unix = [](const ASN1_TIME* time) -> std::optional<int64_t> {
    std::tm parts{};
    if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) return std::nullopt;
    return static_cast<int64_t>(timegm(&parts));
  };
  std::optional<int64_t> not_before = to_unix(X509_get0_notBefore(certificate.get()));
  std::optional<int64_t> not_after = to_unix(X509_get0_notAfter(certificate.get()));
  if (!not_before || !not_after) return Status::InvalidArgument("the agent certificate has unreadable validity dates");
  return CertificateValidity{*not_before, *not_after};
}

bool RenewalDue(const CertificateValidity& validity, int64_t now) {
  int64_t lifetime = validity.not_after - validity.not_before;
  return (validity.not_after - now) * 3 < lifetime;
}

Result<RenewalOutcome> RenewCertificate(ControlPlaneClient& client, StateDir& state, const std::string& agent_name) {
  WW_ASSIGN_OR_RETURN(std::string key_pem, GenerateP256Key());
  WW_ASSIGN_OR_RETURN(std::string csr, MakeCsr(key_pem, agent_name));
  WW_RETURN_IF_ERROR(state.WriteFileAtomically(kNextTlsKeyFile, key_pem));
  nlohmann::json body{{"csr", csr}};
  Result<ApiResponse> response = client.Post("/v1/agents/" + agent_name + "/certificate", body.dump(), kRenewalTimeout);
  if (!response.ok()) return response.status().WithContext("renewing the agent certificate");
  if (response->status == 429) {
    std::chrono::seconds retry_after = response->retry_after_seconds ? std::chrono::seconds(*response->retry_after_seconds)
                                                                      : kRenewalRetryDelay;
    return RenewalOutcome{RenewalVerdict::kRateLimited, std::max(retry_after, std::chrono::seconds(1))};
  }
  if (response->status != 200) {
    return Status::FailedPrecondition("the reconciler refused to renew the agent certificate (HTTP " +
                                      std::to_string(response->status) + "): " + ApiErrorMessage(*response));
  }
  std::string certificate_pem;
  try {
    if (response->body.size() > kMaxRenewalAnswer) throw std::length_error("too large");
    certificate_pem = nlohmann::json::parse(response->body).at("certificate").get<std::string>();
  } catch (const std::exception&) {
    return Status::FailedPrecondition("the reconciler's renewal answer is not {\"certificate\": PEM}");
  }
  if (!CertificateMatchesKey(certificate_pem, key_pem)) {
    return Status::FailedPrecondition("the reconciler returned a certificate for another key");
  }
  WW_RETURN_IF_ERROR(state.WriteFileAtomically(kNextTlsCertificateFile, certificate_pem));
  WW_RETURN_IF_ERROR(InstallPair(state, key_pem, certificate_pem));
  return RenewalOutcome{RenewalVerdict::kRenewed, std::chrono::seconds(0)};
}

}  // namespace ww::agent
