#include "platform/error.hpp"

namespace atrium {

Error Error::invalid(std::string detail, std::vector<FieldError> fields) {
  return Error{Code::kInvalidRequest, std::move(detail), std::move(fields), 0};
}

Error Error::field(std::string field, std::string message) {
  std::string detail = field + ": " + message;
  return invalid(std::move(detail), {FieldError{std::move(field), std::move(message)}});
}

Error Error::unauthenticated(std::string detail) {
  return Error{Code::kUnauthenticated, std::move(detail), {}, 0};
}

Error Error::permission_denied(std::string_view permission) {
  return Error{Code::kPermissionDenied, "missing permission: " + std::string(permission), {}, 0};
}

Error Error::not_found(std::string detail) {
  return Error{Code::kNotFound, std::move(detail), {}, 0};
}

Error Error::conflict(std::string detail) {
  return Error{Code::kConflict, std::move(detail), {}, 0};
}

Error Error::unavailable(std::string detail) {
  return Error{Code::kUnavailable, std::move(detail), {}, 1};
}

Error Error::internal() { return Error{Code::kInternal, "internal error", {}, 0}; }

namespace {

struct CodeInfo {
  int status;
  std::string_view name;
  std::string_view title;
};

constexpr CodeInfo info(Code code) {
  switch (code) {
    case Code::kInvalidRequest:
      return {400, "invalid_request", "Invalid request"};
    case Code::kUnauthenticated:
      return {401, "unauthenticated", "Unauthenticated"};
    case Code::kInvalidCredentials:
      return {401, "invalid_credentials", "Invalid credentials"};
    case Code::kPermissionDenied:
      return {403, "permission_denied", "Permission denied"};
    case Code::kPrivilegeEscalation:
      return {403, "privilege_escalation", "Privilege escalation"};
    case Code::kNotFound:
      return {404, "not_found", "Not found"};
    case Code::kMethodNotAllowed:
      return {405, "method_not_allowed", "Method not allowed"};
    case Code::kRequestTimeout:
      return {408, "request_timeout", "Request timeout"};
    case Code::kConflict:
      return {409, "conflict", "Conflict"};
    case Code::kPayloadTooLarge:
      return {413, "payload_too_large", "Payload too large"};
    case Code::kUriTooLong:
      return {414, "uri_too_long", "URI too long"};
    case Code::kUnsupportedMediaType:
      return {415, "unsupported_media_type", "Unsupported media type"};
    case Code::kRateLimited:
      return {429, "rate_limited", "Too many requests"};
    case Code::kHeadersTooLarge:
      return {431, "headers_too_large", "Request header fields too large"};
    case Code::kInternal:
      return {500, "internal", "Internal server error"};
    case Code::kUnavailable:
      return {503, "unavailable", "Service unavailable"};
  }
  return {500, "internal", "Internal server error"};
}

}  // namespace

int http_status(Code code) { return info(code).status; }
std::string_view code_name(Code code) { return info(code).name; }
std::string_view title(Code code) { return info(code).title; }

}  // namespace atrium
