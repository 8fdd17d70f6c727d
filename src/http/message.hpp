// Plain request and response values. Handlers see only these — never a socket — so the same
// route table can answer from the Beast server, from tests without a network, and later from
// API Gateway events (DESIGN.md §2).
#pragma once

#include <chrono>
#include <cstddef>
#include <iterator>
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

// A constant group of response fields with distinct names — the security headers every answer
// carries — validated once and written out as one precomputed block. Headers holds it by pointer,
// so it must outlive them (give it static storage duration). Immutable, hence thread-safe.
class HeaderBlock {
 public:
  // Throws std::invalid_argument for a name or value with CR or LF, an empty or duplicate name,
  // or a framing field (Content-Length, Transfer-Encoding, Connection: the server's business).
  explicit HeaderBlock(std::vector<std::pair<std::string, std::string>> fields);

  std::optional<std::string_view> get(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }
  std::size_t size() const { return fields_.size(); }
  // "Name: value\r\n" for every field, in order.
  std::string_view wire() const { return wire_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
  std::string wire_;
};

// Header fields; names compare case-insensitively. Fields set one by one keep their order; an
// attached HeaderBlock's fields come after them.
class Headers {
 public:
  using Field = std::pair<std::string, std::string>;
  // What iteration yields: views into this object or its block, valid until it changes.
  struct FieldView {
    std::string_view name;
    std::string_view value;
  };
  class Iterator;

  std::optional<std::string_view> get(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  void set(std::string_view name, std::string value);  // replaces every field of that name
  void add(std::string name, std::string value);
  // Every field of `block` replaces the fields of its name, as set() would, without copying
  // anything. Attaching a second block turns the first into ordinary fields first; set() or add()
  // of a block's name does the same, so the result is always what set() field by field gives.
  void set_block(const HeaderBlock& block);

  Iterator begin() const;
  Iterator end() const;
  std::size_t size() const { return fields_.size() + (block_ ? block_->size() : 0); }

  // For a writer: the fields set one by one, and the block written after them (may be null).
  const std::vector<Field>& own_fields() const { return fields_; }
  const HeaderBlock* block() const { return block_; }

 private:
  void detach_block();

  std::vector<Field> fields_;
  const HeaderBlock* block_ = nullptr;
};

class Headers::Iterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = FieldView;
  using difference_type = std::ptrdiff_t;
  using pointer = void;
  using reference = FieldView;

  Iterator() = default;
  FieldView operator*() const {
    const auto& own = headers_->fields_;
    const Field& f =
        index_ < own.size() ? own[index_] : headers_->block_->fields()[index_ - own.size()];
    return {f.first, f.second};
  }
  Iterator& operator++() {
    ++index_;
    return *this;
  }
  Iterator operator++(int) {
    Iterator before = *this;
    ++index_;
    return before;
  }
  bool operator==(const Iterator& other) const { return index_ == other.index_; }

 private:
  friend class Headers;
  Iterator(const Headers* h, std::size_t i) : headers_(h), index_(i) {}
  const Headers* headers_ = nullptr;
  std::size_t index_ = 0;
};

inline Headers::Iterator Headers::begin() const { return Iterator(this, 0); }
inline Headers::Iterator Headers::end() const { return Iterator(this, size()); }

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

  // Filled by the authorizer; the only way a handler learns who calls. Shared and immutable: the
  // authenticator hands out the Principal it keeps for a verified credential, not a copy.
  std::shared_ptr<const Principal> principal;

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
