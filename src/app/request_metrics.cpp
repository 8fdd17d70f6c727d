#include "app/request_metrics.hpp"

namespace atrium::app {

namespace {

constexpr std::string_view kRequests = "atrium_http_requests_total";
constexpr std::string_view kRequestsHelp = "HTTP requests by route, method and status";
constexpr std::string_view kLatency = "atrium_http_request_duration_seconds";
constexpr std::string_view kLatencyHelp = "HTTP request latency by route";

}  // namespace

RequestMetrics::RequestMetrics(metrics::Registry& registry, const http::Router& router)
    : registry_(registry), router_(router) {
  auto make = [&](std::string route, std::string method) {
    auto s = std::make_unique<Series>();
    s->latency =
        &registry_.histogram(kLatency, kLatencyHelp, {{"route", route}, {"method", method}});
    s->route = std::move(route);
    s->method = std::move(method);
    return s;
  };
  for (const auto& r : router_.routes())
    routes_.push_back(make(r.path, std::string(http::method_name(r.method))));
  for (std::string_view label : {"static", "unmatched"}) {
    for (int m = 0; m < kMethods; ++m)
      unrouted_.push_back(
          make(std::string(label), std::string(http::method_name(static_cast<http::Method>(m)))));
  }
}

RequestMetrics::Series& RequestMetrics::series(const http::Route* route, std::string_view label,
                                               http::Method method) {
  if (route) return *routes_[static_cast<std::size_t>(route - router_.routes().data())];
  const int base = label == "static" ? 0 : kMethods;
  return *unrouted_[static_cast<std::size_t>(base + static_cast<int>(method))];
}

void RequestMetrics::record(const http::Route* route, std::string_view label, http::Method method,
                            int status, double seconds) {
  Series& s = series(route, label, method);
  s.latency->observe(seconds);
  if (status < 100 || status > 599) return;
  auto& slot = s.by_status[static_cast<std::size_t>(status - 100)];
  metrics::Counter* counter = slot.load(std::memory_order_acquire);
  if (!counter) {
    // Two threads may resolve the same series at once; the registry returns the same counter.
    counter = &registry_.counter(
        kRequests, kRequestsHelp,
        {{"route", s.route}, {"method", s.method}, {"status", std::to_string(status)}});
    slot.store(counter, std::memory_order_release);
  }
  counter->inc();
}

}  // namespace atrium::app
