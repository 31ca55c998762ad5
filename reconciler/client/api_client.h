#pragma once
// A mutual-TLS client for the reconciler's API (reconciler/api/API.md), used by wwctl, the
// agent daemon and the load benchmark. It trusts only the given CA (never the system store)
// and checks the server's host name; the client certificate and key come as PEM. httplib
// stays inside api_client.cc. Not thread-safe: one ApiClient per thread (each keeps its own
// keep-alive connection), e.g. one for the agent's long-poll and one for its reports.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "schema/result.h"

namespace ww {

struct ApiClientOptions {
  std::string url;                     // https://HOST[:PORT]
  std::string ca_certificate_pem;      // the reconciler's CA; the only trusted root
  std::string client_certificate_pem;  // empty: no client certificate (enrollment, tests)
  std::string client_key_pem;
  std::chrono::seconds connect_timeout{10};
  // Default read timeout; a long-poll passes its own (wait + margin) per call.
  std::chrono::seconds read_timeout{30};
};

struct ApiResponse {
  int status = 0;
  std::string body;
};

class ApiClient {
 public:
  // kInvalidArgument for a bad URL or unreadable PEM.
  static Result<std::unique_ptr<ApiClient>> Create(ApiClientOptions options);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // Any HTTP status is a response; kUnavailable only when no answer arrived (connection
  // refused, TLS failure, timeout), with httplib's reason and the URL in the message.
  // `read_timeout` zero means the options' default.
  Result<ApiResponse> Get(const std::string& path_and_query, std::chrono::seconds read_timeout = {});
  Result<ApiResponse> Post(const std::string& path, std::string_view json_body,
                           std::chrono::seconds read_timeout = {});
  Result<ApiResponse> Delete(const std::string& path);

  const std::string& url() const;

 private:
  struct Impl;
  explicit ApiClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The "error" member of a JSON error answer, else the body's first 200 bytes.
std::string ApiErrorMessage(const ApiResponse& response);

}  // namespace ww
