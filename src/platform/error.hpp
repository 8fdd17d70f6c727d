// Errors as values: every fallible call returns Result<T> = tl::expected<T, Error>.
//
// An Error carries a stable Code (the API contract's `code`, see shared/API.md), a human detail
// that is safe to show to the caller (never SQL, paths or stack traces), and for validation
// failures a list of field errors. Internal causes are logged where they happen, not carried here.
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace atrium {

enum class Code {
  kInvalidRequest,        // 400 invalid_request
  kUnauthenticated,       // 401 unauthenticated
  kInvalidCredentials,    // 401 invalid_credentials
  kPermissionDenied,      // 403 permission_denied
  kPrivilegeEscalation,   // 403 privilege_escalation
  kNotFound,              // 404 not_found
  kMethodNotAllowed,      // 405 method_not_allowed
  kRequestTimeout,        // 408 request_timeout
  kConflict,              // 409 conflict
  kPayloadTooLarge,       // 413 payload_too_large
  kUriTooLong,            // 414 uri_too_long
  kUnsupportedMediaType,  // 415 unsupported_media_type
  kRateLimited,           // 429 rate_limited
  kHeadersTooLarge,       // 431 headers_too_large
  kInternal,              // 500 internal
  kUnavailable,           // 503 unavailable
};

struct FieldError {
  std::string field;
  std::string message;
};

struct Error {
  Code code = Code::kInternal;
  std::string detail;
  std::vector<FieldError> fields;  // validation failures, one per offending field
  int retry_after_seconds = 0;     // for kRateLimited / kUnavailable; 0 = not sent

  static Error invalid(std::string detail, std::vector<FieldError> fields = {});
  static Error field(std::string field, std::string message);  // one-field validation error
  static Error unauthenticated(std::string detail = "authentication required");
  static Error permission_denied(std::string_view permission);
  static Error not_found(std::string detail = "not found");
  static Error conflict(std::string detail);
  static Error unavailable(std::string detail = "service temporarily unavailable");
  static Error internal();
};

template <class T>
using Result = tl::expected<T, Error>;

// Shorthand for the error branch: `return fail(Error::not_found());`.
inline tl::unexpected<Error> fail(Error e) { return tl::unexpected<Error>(std::move(e)); }

int http_status(Code code);
std::string_view code_name(Code code);  // the contract's `code` string
std::string_view title(Code code);      // the problem's `title`

}  // namespace atrium
