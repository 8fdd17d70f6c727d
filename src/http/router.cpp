#include "http/router.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace atrium::http {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/') return out;
  path.remove_prefix(1);
  while (true) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// A request path's segments, split without allocating (a vector cost two allocations per
// request). No route has more (add() refuses one), so a longer path matches nothing.
constexpr std::size_t kMaxSegments = 16;
struct Segments {
  std::array<std::string_view, kMaxSegments> part;
  std::size_t count = 0;
  std::size_t size() const { return count; }
  std::string_view operator[](std::size_t i) const { return part[i]; }
};

// False when the path is not absolute or has too many segments to match any route.
bool split_request_path(std::string_view path, Segments& out) {
  if (path.empty() || path.front() != '/') return false;
  path.remove_prefix(1);
  while (true) {
    if (out.count == kMaxSegments) return false;
    auto slash = path.find('/');
    out.part[out.count++] = path.substr(0, slash);
    if (slash == std::string_view::npos) return true;
    path.remove_prefix(slash + 1);
  }
}

bool is_param(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

void Router::add(Route route) {
  if (route.path.empty() || route.path.front() != '/')
    throw std::invalid_argument("route path must start with '/': " + route.path);
  std::vector<std::string> segments;
  std::size_t literals = 0;
  for (auto s : split_path(route.path)) {
    if (s.find_first_of("{}") != std::string_view::npos && !is_param(s))
      throw std::invalid_argument("malformed route segment in " + route.path);
    if (!is_param(s)) ++literals;
    segments.emplace_back(s);
  }
  if (segments.size() > kMaxSegments)
    throw std::invalid_argument("too many segments in " + route.path);
  auto pattern = std::find_if(patterns_.begin(), patterns_.end(),
                              [&](const Pattern& p) { return p.segments == segments; });
  if (pattern == patterns_.end()) {
    patterns_.push_back(Pattern{segments, literals, {}});
    pattern = std::prev(patterns_.end());
  }
  for (auto i : pattern->route_indexes) {
    if (routes_[i].method == route.method)
      throw std::invalid_argument("duplicate route " + std::string(method_name(route.method)) +
                                  " " + route.path);
  }
  pattern->route_indexes.push_back(routes_.size());
  routes_.push_back(std::move(route));
  // Most literal segments first: "/api/orgs/current" wins over "/api/orgs/{id}".
  std::stable_sort(patterns_.begin(), patterns_.end(),
                   [](const Pattern& a, const Pattern& b) { return a.literals > b.literals; });
}

Router::Match Router::match(Method method, std::string_view path) const {
  Match result;
  Segments parts;
  if (!split_request_path(path, parts)) return result;
  for (const auto& pattern : patterns_) {
    if (pattern.segments.size() != parts.size()) continue;
    std::vector<std::pair<std::string, std::string>> params;
    bool ok = true;
    for (std::size_t i = 0; i < parts.size() && ok; ++i) {
      const auto& seg = pattern.segments[i];
      if (is_param(seg)) {
        auto decoded = percent_decode(parts[i]);
        ok = decoded && !decoded->empty();
        if (ok) params.emplace_back(seg.substr(1, seg.size() - 2), std::move(*decoded));
      } else {
        ok = seg == parts[i];
      }
    }
    if (!ok) continue;

    for (auto i : pattern.route_indexes) {
      if (routes_[i].method == method ||
          (method == Method::kHead && routes_[i].method == Method::kGet)) {
        result.outcome = Match::Outcome::kFound;
        result.route = &routes_[i];
        result.params = std::move(params);
        return result;
      }
    }
    if (result.outcome == Match::Outcome::kNotFound) {
      result.outcome = Match::Outcome::kMethodNotAllowed;
      std::vector<std::string_view> names;
      for (auto i : pattern.route_indexes) names.push_back(method_name(routes_[i].method));
      std::sort(names.begin(), names.end());
      for (auto n : names) {
        if (!result.allow.empty()) result.allow += ", ";
        result.allow += n;
      }
    }
  }
  return result;
}

}  // namespace atrium::http
