#include "platform/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>

#include "platform/clock.hpp"

namespace atrium::log {
namespace {

std::atomic<Level> min_level{Level::kInfo};

spdlog::logger& logger() {
  // The JSON object is the whole line; spdlog only serialises writes and flushes.
  static auto instance = [] {
    auto l = std::make_shared<spdlog::logger>("atrium",
                                              std::make_shared<spdlog::sinks::stdout_sink_mt>());
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return *instance;
}

constexpr std::string_view name(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
    case Level::kOff:
      return "off";
  }
  return "info";
}

}  // namespace

bool parse_level(std::string_view text, Level& out) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError, Level::kOff}) {
    if (text == name(l)) {
      out = l;
      return true;
    }
  }
  if (text == "warning") {
    out = Level::kWarn;
    return true;
  }
  return false;
}

void set_level(Level level) { min_level.store(level, std::memory_order_relaxed); }

bool enabled(Level level) {
  return level != Level::kOff && level >= min_level.load(std::memory_order_relaxed);
}

void write(Level level, std::string_view message, nlohmann::json fields) {
  nlohmann::json line = nlohmann::json::object();
  line["ts"] = format_time(std::chrono::system_clock::now());
  line["level"] = name(level);
  line["msg"] = message;
  if (fields.is_object()) {
    for (auto& [key, value] : fields.items()) line[key] = std::move(value);
  }
  // Invalid UTF-8 in a field (e.g. a client's header) must not throw from a log call.
  logger().info(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace atrium::log
