#include "reconciler/api/http_message.h"

namespace ww {

std::optional<std::string> HttpRequest::QueryValue(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return value;
  }
  return std::nullopt;
}

HttpResponse ParkedResponse(LongPoll poll) {
  HttpResponse response;
  response.park = std::move(poll);
  return response;
}

}  // namespace ww
