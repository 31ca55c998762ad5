#include "reconciler/client/enroll_client.h"

#include <httplib.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <exception>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "reconciler/client/https_url.h"
#include "reconciler/pki/certificate_authority.h"

namespace ww {
namespace {

constexpr std::size_t kMaxCaResponse = 64 * 1024;
constexpr std::size_t kMaxEnrollResponse = 64 * 1024;

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* certificate) const { X509_free(certificate); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

// Only the first certificate of `pem`, re-encoded: ca.pem is a trust anchor, so whatever else
// an unverified server appended must not end up in it.
Result<std::string> FirstCertificate(const std::string& pem) {
  std::unique_ptr<BIO, BioFree> in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!in) return Status::Internal("out of memory");
  std::unique_ptr<X509, X509Free> certificate(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr));
  if (!certificate) return Status::FailedPrecondition("the reconciler's /v1/ca answer holds no certificate");
  std::unique_ptr<BIO, BioFree> out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_X509(out.get(), certificate.get()) != 1) return Status::Internal("encoding the CA failed");
  char* data = nullptr;
  long size = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// True when `certificate_pem` certifies the public half of `key_pem`.
bool CertificateMatchesKey(const std::string& certificate_pem, const std::string& key_pem) {
  std::unique_ptr<BIO, BioFree> certificate_bio(
      BIO_new_mem_buf(certificate_pem.data(), static_cast<int>(certificate_pem.size())));
  std::unique_ptr<BIO, BioFree> key_bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  if (!certificate_bio || !key_bio) return false;
  std::unique_ptr<X509, X509Free> certificate(PEM_read_bio_X509(certificate_bio.get(), nullptr, nullptr, nullptr));
  std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  return certificate && key && X509_check_private_key(certificate.get(), key.get()) == 1;
}

void ConfigureConnection(httplib::SSLClient& client, std::chrono::seconds timeout) {
  client.set_connection_timeout(static_cast<time_t>(timeout.count()));
  client.set_read_timeout(static_cast<time_t>(timeout.count()));
  client.set_write_timeout(static_cast<time_t>(timeout.count()));
  // A request leaves in more than one write: without this, Nagle and delayed ACKs add ~40 ms.
  client.set_tcp_nodelay(true);
}

std::string ErrorMessage(const std::string& body) {
  try {
    nlohmann::json parsed = nlohmann::json::parse(body);
    if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_string()) {
      return parsed["error"].get<std::string>();
    }
  } catch (const std::exception&) {
  }
  return body.substr(0, 200);
}

}  // namespace

Result<std::string> FetchPinnedCa(const std::string& url, const std::vector<std::string>& pins,
                                  std::chrono::seconds timeout) {
  WW_ASSIGN_OR_RETURN(HttpsUrl target, ParseHttpsUrl(url));
  // Unverified on purpose: nothing secret is sent, and the answer is trusted only by its pin.
  httplib::SSLClient client(target.host, target.port);
  client.enable_server_certificate_verification(false);
  ConfigureConnection(client, timeout);
  httplib::Result response = client.Get("/v1/ca");
  if (!response) {
    return Status::Unavailable("fetching the CA from " + url + " failed: " + httplib::to_string(response.error()));
  }
  if (response->status != 200) {
    return Status::FailedPrecondition("fetching the CA from " + url + " answered HTTP " +
                                      std::to_string(response->status));
  }
  if (response->body.size() > kMaxCaResponse) return Status::FailedPrecondition("the CA answer is too large");
  WW_ASSIGN_OR_RETURN(std::string ca_pem, FirstCertificate(response->body));
  if (!PinMatches(ca_pem, pins)) {
    Result<std::string> seen = SpkiPin(ca_pem);
    return Status::FailedPrecondition("the reconciler at " + url + " presented CA " +
                                      (seen.ok() ? *seen : std::string("(unreadable)")) +
                                      ", which matches no --ca-pin; nothing was sent");
  }
  return ca_pem;
}

Result<EnrollResult> Enroll(const EnrollRequest& request) {
  if (!request.write_file) return Status::InvalidArgument("enrollment needs a file writer");
  WW_ASSIGN_OR_RETURN(HttpsUrl target, ParseHttpsUrl(request.url));
  WW_ASSIGN_OR_RETURN(std::string ca_pem, FetchPinnedCa(request.url, request.ca_pins, request.timeout));
  WW_RETURN_IF_ERROR(request.write_file(kAgentCaCertificateFile, ca_pem));

  WW_ASSIGN_OR_RETURN(std::string key_pem, GenerateP256Key());
  WW_RETURN_IF_ERROR(request.write_file(kAgentTlsKeyFile, key_pem));
  WW_ASSIGN_OR_RETURN(std::string csr, MakeCsr(key_pem, request.name.empty() ? "agent" : request.name));

  nlohmann::json body{{"token", request.token},
                      {"csr", csr},
                      {"wireguardPublicKey", request.wireguard_public_key.ToBase64()},
                      {"hostname", request.hostname},
                      {"mode", request.mode}};
  if (!request.name.empty()) body["name"] = request.name;
  if (!request.version.empty()) body["version"] = request.version;

  // A new client that trusts only the pinned CA (a path, not a store: a store alone would add
  // the system CAs) and checks the host name.
  httplib::SSLClient client(target.host, target.port);
  client.set_ca_cert_path((request.state_dir + "/" + std::string(kAgentCaCertificateFile)).c_str());
  client.enable_server_certificate_verification(true);
  ConfigureConnection(client, request.timeout);
  httplib::Result response = client.Post("/v1/enroll", body.dump(), "application/json");
  if (!response) {
    return Status::Unavailable("enrolling at " + request.url + " failed: " + httplib::to_string(response.error()));
  }
  if (response->status != 200) {
    return Status::InvalidArgument("the reconciler refused the enrollment (HTTP " + std::to_string(response->status) +
                                   "): " + ErrorMessage(response->body));
  }
  if (response->body.size() > kMaxEnrollResponse) return Status::FailedPrecondition("the enrollment answer is too large");
  EnrollResult result;
  result.ca_certificate_pem = ca_pem;
  try {
    nlohmann::json parsed = nlohmann::json::parse(response->body);
    result.certificate_pem = parsed.at("certificate").get<std::string>();
    result.agent_name = parsed.at("agent").get<std::string>();
  } catch (const std::exception&) {
    return Status::FailedPrecondition("the reconciler's enrollment answer is not the expected JSON");
  }
  if (!CertificateMatchesKey(result.certificate_pem, key_pem)) {
    return Status::FailedPrecondition("the reconciler returned a certificate for another key");
  }
  WW_RETURN_IF_ERROR(request.write_file(kAgentTlsCertificateFile, result.certificate_pem));
  return result;
}

}  // namespace ww
