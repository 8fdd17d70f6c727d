// GET /healthz (alive), GET /readyz (every dependency answers), GET /metrics (Prometheus).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "http/router.hpp"
#include "platform/metrics.hpp"

namespace atrium::app {

struct ReadinessCheck {
  std::string component;                // "database", "broker", …
  std::function<Result<void>()> check;  // may block; must be quick
};

void add_health_routes(http::Router& router, metrics::Registry& metrics,
                       std::vector<ReadinessCheck> checks);

}  // namespace atrium::app
