#include "platform/metrics.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace atrium::metrics {
namespace {

std::string escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string render_labels(const Labels& labels) {
  std::string out;
  for (const auto& [k, v] : labels) {
    out += out.empty() ? "" : ",";
    out += k + "=\"" + escape(v) + "\"";
  }
  return out;
}

std::string with_labels(std::string_view name, const std::string& labels,
                        std::string_view extra = {}) {
  std::string all = labels;
  if (!extra.empty()) all += (all.empty() ? "" : ",") + std::string(extra);
  return all.empty() ? std::string(name) : fmt::format("{}{{{}}}", name, all);
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::observe(double value) {
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micro_.fetch_add(static_cast<std::uint64_t>(std::max(0.0, value) * 1e6),
                       std::memory_order_relaxed);
}

const std::vector<double>& latency_buckets() {
  static const std::vector<double> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return kBuckets;
}

Registry::Family& Registry::family(std::string_view name, std::string_view help,
                                   std::string_view type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_
             .emplace(std::string(name), Family{std::string(help), std::string(type), {}, {}, {}})
             .first;
  } else if (it->second.type != type) {
    throw std::logic_error("metric " + std::string(name) + " registered with two types");
  }
  return it->second;
}

Counter& Registry::counter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& f = family(name, help, "counter");
  auto& slot = f.counters[render_labels(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help, const Labels& labels,
                               const std::vector<double>& bounds) {
  std::lock_guard lock(mu_);
  auto& f = family(name, help, "histogram");
  auto& slot = f.histograms[render_labels(labels)];
  if (!slot) slot = std::make_unique<Histogram>(bounds);
  return *slot;
}

void Registry::gauge(std::string_view name, std::string_view help,
                     std::function<std::vector<std::pair<Labels, double>>()> sample) {
  std::lock_guard lock(mu_);
  family(name, help, "gauge").sample = std::move(sample);
}

std::string Registry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, f.type);
    for (const auto& [labels, c] : f.counters)
      out += fmt::format("{} {}\n", with_labels(name, labels), c->value());
    for (const auto& [labels, h] : f.histograms) {
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i <= h->bounds_.size(); ++i) {
        cumulative += h->buckets_[i].load(std::memory_order_relaxed);
        double le = i < h->bounds_.size() ? h->bounds_[i] : INFINITY;
        out += fmt::format(
            "{} {}\n",
            with_labels(name + std::string("_bucket"), labels, "le=\"" + number(le) + "\""),
            cumulative);
      }
      out += fmt::format("{} {}\n", with_labels(name + std::string("_sum"), labels),
                         number(static_cast<double>(h->sum_micro_.load()) / 1e6));
      out += fmt::format("{} {}\n", with_labels(name + std::string("_count"), labels),
                         h->count_.load());
    }
    if (f.sample) {
      for (const auto& [labels, value] : f.sample())
        out += fmt::format("{} {}\n", with_labels(name, render_labels(labels)), number(value));
    }
  }
  return out;
}

}  // namespace atrium::metrics
