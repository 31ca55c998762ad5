#pragma once
// Status and Result<T>: errors as values across module boundaries.
// Library exceptions (yaml-cpp, nlohmann/json, CLI11) are caught in the one adapter that
// calls the library and turned into a Status there. Success costs one empty string.
// Alias Result<T> to std::expected when the project moves to C++23.

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace ww {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // bad input from outside: the message names file, field and value
  kNotFound,
  kFailedPrecondition,  // the world is not in a state where this can run
  kUnavailable,         // retryable: the caller may back off and try again
  kInternal,
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string message) { return Status(StatusCode::kInvalidArgument, std::move(message)); }
  static Status NotFound(std::string message) { return Status(StatusCode::kNotFound, std::move(message)); }
  static Status FailedPrecondition(std::string message) { return Status(StatusCode::kFailedPrecondition, std::move(message)); }
  static Status Unavailable(std::string message) { return Status(StatusCode::kUnavailable, std::move(message)); }
  static Status Internal(std::string message) { return Status(StatusCode::kInternal, std::move(message)); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

  // Prefixes context ("reading fleet.yaml: ...") while keeping the code.
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

  friend bool operator==(const Status&, const Status&) = default;

 private:
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : value_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(value_).ok() && "Result built from an OK status has no value");
  }

  bool ok() const { return std::holds_alternative<T>(value_); }
  // The error; Status::Ok() when a value is present.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(value_); }

  // REQUIRES: ok().
  const T& value() const& { return std::get<T>(value_); }
  T& value() & { return std::get<T>(value_); }
  T&& value() && { return std::get<T>(std::move(value_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  std::variant<T, Status> value_;
};

}  // namespace ww

// Propagates a failed Status from an expression returning Status.
#define WW_RETURN_IF_ERROR(expr)              \
  do {                                        \
    ::ww::Status ww_status_ = (expr);         \
    if (!ww_status_.ok()) return ww_status_;  \
  } while (0)

#define WW_CONCAT_INNER(a, b) a##b
#define WW_CONCAT(a, b) WW_CONCAT_INNER(a, b)
// Declares `lhs` from a Result<T> expression, or returns its Status.
#define WW_ASSIGN_OR_RETURN(lhs, expr) WW_ASSIGN_OR_RETURN_IMPL(WW_CONCAT(ww_result_, __LINE__), lhs, expr)
#define WW_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
