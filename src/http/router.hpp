// The route table: method + path template → who may call it + handler.
//
// Paths are templates of literal segments and `{name}` parameters ("/api/orgs/{id}"). Every
// route must say who may call it (Access has no default), so a route without a permission
// cannot be declared (DESIGN.md §2: deny by default). Matching is thread-safe once built.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"

namespace atrium::http {

// Who may call a route. The policy step of the pipeline enforces it.
class Access {
 public:
  enum class Kind { kPublic, kAuthenticated, kPermission };

  static Access anyone() { return Access(Kind::kPublic, {}); }
  static Access authenticated() { return Access(Kind::kAuthenticated, {}); }
  static Access permission(std::string name) { return Access(Kind::kPermission, std::move(name)); }

  Kind kind() const { return kind_; }
  const std::string& permission() const { return permission_; }  // for kPermission

 private:
  Access(Kind kind, std::string permission) : kind_(kind), permission_(std::move(permission)) {}
  Kind kind_;
  std::string permission_;
};

using Handler = std::function<Result<Response>(Request&)>;

// Where a handler runs: on the pool that may block (database, hashing), or on the I/O thread for
// handlers that only compute (health, token-only answers).
enum class Execution { kBlocking, kInline };

struct Route {
  Method method;
  std::string path;  // template
  Access access;
  Handler handler;
  Execution execution = Execution::kBlocking;
  // Optional, for a kBlocking route whose answer is usually ready in memory (e.g. GET /api/me
  // from a cache): asked on the I/O thread once the headers are parsed; true runs this request
  // inline. Must be quick and must not block.
  std::function<bool(const Request&)> inline_when;
};

class Router {
 public:
  // Adds a route; throws std::invalid_argument for a malformed template, one of more than 16
  // segments, or a duplicate method + template (a programming error found at start-up).
  void add(Route route);

  struct Match {
    enum class Outcome { kFound, kMethodNotAllowed, kNotFound };
    Outcome outcome = Outcome::kNotFound;
    const Route* route = nullptr;
    std::vector<std::pair<std::string, std::string>> params;
    std::string allow;  // for kMethodNotAllowed: "GET, POST"
  };

  // `path` is as sent (percent-encoded); parameters come back decoded. A segment that does not
  // decode (bad escape, NUL) matches no parameter.
  Match match(Method method, std::string_view path) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  struct Pattern {
    std::vector<std::string> segments;  // "{name}" for a parameter
    std::size_t literals = 0;
    std::vector<std::size_t> route_indexes;
  };
  std::vector<Route> routes_;
  std::vector<Pattern> patterns_;
};

}  // namespace atrium::http
