#pragma once
// A mutual-TLS client for the reconciler's API (reconciler/api/API.md), used by wwctl, the
// agent daemon and the load benchmark. It trusts only the given CA (never the system store)
// and checks the server's host name; the client certificate and key come as PEM. Nothing is
// written to disk (the CA goes to the TLS library through a memory file), so a killed
// process leaves no temporary file behind. httplib stays inside api_client.cc. Not thread-safe: one ApiClient per thread (each keeps its own
// keep-alive connection), e.g. one for the agent's long-poll and one for its reports.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
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
  // Where url and the CA came from, named in connection and TLS errors so the user knows
  // what to check: "/root/admin.wwctl.yaml (from --config)". "" = not named.
  std::string settings_source;
  // The caller's flag that sets read_timeout, suggested when an answer takes too long
  // ("--timeout"); "" = none.
  std::string timeout_flag;
  // Called after every request with "GET https://HOST:PORT/PATH -> 200 (12 ms)" or the error.
  std::function<void(const std::string&)> trace;
};

struct ApiResponse {
  int status = 0;
  std::string body;
  // A Retry-After of whole seconds (429, 503), when the answer carried one.
  std::optional<std::int64_t> retry_after_seconds;
};

class ApiClient {
 public:
  // kInvalidArgument for a bad URL or unreadable PEM.
  static Result<std::unique_ptr<ApiClient>> Create(ApiClientOptions options);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // Any HTTP status is a response; kUnavailable only when no answer arrived. Its message
  // names the URL, what failed (connection refused, name not resolved, TLS handshake, a
  // server certificate the CA did not sign, a timeout) and what to check, with
  // settings_source.
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
