// Plain request and response values. Handlers see only these — never a socket — so the same
// route table can answer from the Beast server, from tests without a network, and later from
// API Gateway events (DESIGN.md §2).
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "platform/error.hpp"
#include "platform/principal.hpp"

namespace atrium::http {

class WebSocketSession;

enum class Method { kGet, kHead, kPost, kPut, kPatch, kDelete, kOptions, kOther };

Method parse_method(std::string_view name);
std::string_view method_name(Method method);

// Header fields in arrival order; names compare case-insensitively.
class Headers {
 public:
  std::optional<std::string_view> get(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  void set(std::string_view name, std::string value);  // replaces every field of that name
  void add(std::string name, std::string value);

  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }
  std::size_t size() const { return fields_.size(); }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

struct Route;

struct Request {
  Method method = Method::kGet;
  std::string method_text;  // as sent, for logs
  std::string path;         // percent-encoded, as sent (without the query)
  std::string query;        // raw, without '?'
  Headers headers;
  std::string body;
  std::string remote_ip;
  std::string request_id;
  std::chrono::steady_clock::time_point received_at = std::chrono::steady_clock::now();

  // Filled by routing.
  const Route* route = nullptr;
  std::vector<std::pair<std::string, std::string>> params;  // decoded path parameters

  // Filled by the authorizer; the only way a handler learns who calls.
  std::optional<Principal> principal;

  std::string_view param(std::string_view name) const;
  // Decoded query parameter (first occurrence); nullopt when absent.
  std::optional<std::string> query_param(std::string_view name) const;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // Set with status 101 to accept a WebSocket upgrade (see http/websocket.hpp).
  std::shared_ptr<WebSocketSession> websocket;

  static Response json(int status, const nlohmann::json& body);
  static Response no_content();
};

// application/problem+json (RFC 9457) for an error, as shared/API.md specifies.
Response problem(const Error& error, std::string_view request_id);

// Decodes %XX escapes (and '+' as space when `plus_is_space`); nullopt on a malformed escape
// or a decoded NUL byte.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space = false);

}  // namespace atrium::http
