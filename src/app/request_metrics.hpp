// Per-route request metrics: atrium_http_requests_total{route,method,status} and
// atrium_http_request_duration_seconds{route,method}.
//
// The registry's labelled lookup renders label strings and takes a lock; this keeps the resolved
// series per route (and per method for requests without a route), so recording a request is a
// few atomic operations. Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string_view>
#include <vector>

#include "http/router.hpp"
#include "platform/metrics.hpp"

namespace atrium::app {

class RequestMetrics {
 public:
  RequestMetrics(metrics::Registry& registry, const http::Router& router);

  // `route` may be null: then `label` ("static" or "unmatched") names the series.
  void record(const http::Route* route, std::string_view label, http::Method method, int status,
              double seconds);

 private:
  struct Series {
    metrics::Histogram* latency = nullptr;
    std::array<std::atomic<metrics::Counter*>, 500> by_status{};  // status 100–599
    std::string route;
    std::string method;
  };
  Series& series(const http::Route* route, std::string_view label, http::Method method);

  static constexpr int kMethods = 8;
  metrics::Registry& registry_;
  const http::Router& router_;
  std::vector<std::unique_ptr<Series>> routes_;    // one per route of the router
  std::vector<std::unique_ptr<Series>> unrouted_;  // {static, unmatched} × method
};

}  // namespace atrium::app
