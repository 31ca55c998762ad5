#pragma once
// JSON request bodies and answers for the reconciler's HTTP handlers (enrollment.cc,
// fleet_routes.cc). Internal to reconciler/server: it brings nlohmann/json along.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "reconciler/api/https_server.h"
#include "reconciler/server/access_policy.h"
#include "schema/result.h"

namespace ww {

// `body` serialised compactly; invalid UTF-8 in a string (e.g. echoed from a request) is
// replaced, never thrown.
HttpResponse JsonResponse(int status, const nlohmann::json& body);
// {"error": message}, as every error answer of API.md.
HttpResponse ErrorResponse(int status, const std::string& message);
// The request body as a JSON object nested at most `max_depth` deep; kInvalidArgument with
// a message fit for a 400 answer otherwise (a duplicate key is invalid JSON). Linear in the
// size of the body (schema/json_document.h). No exception escapes.
Result<nlohmann::json> ParseJsonObject(const std::string& body, int max_depth);
// The string at `key` of `object`, "" when absent or null; kInvalidArgument "field \"PATH\"
// must be a string" otherwise, PATH being `path` (e.g. "peers[2].publicKey") or else `key`.
Result<std::string> OptionalText(const nlohmann::json& object, std::string_view key, std::string_view path = {});

// A 403 answer unless the caller's role may do `operation` (access_policy.h), else nullopt.
std::optional<HttpResponse> RefuseUnlessAllowed(const HttpRequest& request, Operation operation,
                                                std::string_view action);

// The integer at `key` of `object`, `fallback` when absent or null; kInvalidArgument naming
// the field (and quoting the value) when it is not an integer from `min` to `max`.
Result<std::int64_t> OptionalInteger(const nlohmann::json& object, std::string_view key, std::int64_t fallback,
                                     std::int64_t min, std::int64_t max);

}  // namespace ww
