#include "platform/metrics.hpp"

#include <gtest/gtest.h>

namespace atrium::metrics {
namespace {

TEST(Metrics, CountersRenderWithLabels) {
  Registry r;
  r.counter("reqs_total", "Requests", {{"route", "/a"}, {"status", "200"}}).inc();
  r.counter("reqs_total", "Requests", {{"route", "/a"}, {"status", "200"}}).inc(2);
  r.counter("reqs_total", "Requests", {{"route", "/b\"x"}, {"status", "404"}}).inc();
  auto text = r.render();
  EXPECT_NE(text.find("# TYPE reqs_total counter"), std::string::npos);
  EXPECT_NE(text.find("reqs_total{route=\"/a\",status=\"200\"} 3"), std::string::npos) << text;
  EXPECT_NE(text.find("reqs_total{route=\"/b\\\"x\",status=\"404\"} 1"), std::string::npos) << text;
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Registry r;
  auto& h = r.histogram("lat_seconds", "Latency", {}, {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  auto text = r.render();
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"0.1\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"1\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"+Inf\"} 3"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_count 3"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_sum 5.55"), std::string::npos) << text;
}

TEST(Metrics, GaugesSampleAtScrape) {
  Registry r;
  int depth = 3;
  r.gauge("queue_depth", "Depth", [&] {
    return std::vector<std::pair<Labels, double>>{{{{"queue", "tasks"}}, double(depth)}};
  });
  EXPECT_NE(r.render().find("queue_depth{queue=\"tasks\"} 3"), std::string::npos);
  depth = 7;
  EXPECT_NE(r.render().find("queue_depth{queue=\"tasks\"} 7"), std::string::npos);
}

TEST(Metrics, OneNameOneType) {
  Registry r;
  r.counter("x", "x");
  EXPECT_THROW(r.histogram("x", "x"), std::logic_error);
}

}  // namespace
}  // namespace atrium::metrics
