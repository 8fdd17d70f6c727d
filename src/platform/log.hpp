// Structured logs: one JSON object per line on stdout (for Fluent Bit → CloudWatch).
//
//   log::info("server listening", {{"address", "127.0.0.1:8080"}});
//   → {"ts":"2026-11-27T02:44:23.123456Z","level":"info","msg":"server listening","address":"…"}
//
// Thread-safe. The logger is the one process-wide global (STYLE.md §5).
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace atrium::log {

enum class Level { kDebug, kInfo, kWarn, kError, kOff };

// Parses "debug" | "info" | "warn" | "error" | "off".
bool parse_level(std::string_view text, Level& out);

// Sets the minimum level (default info). Safe to call again.
void set_level(Level level);
bool enabled(Level level);

void write(Level level, std::string_view message, nlohmann::json fields);

inline void debug(std::string_view m, nlohmann::json f = nlohmann::json::object()) {
  if (enabled(Level::kDebug)) write(Level::kDebug, m, std::move(f));
}
inline void info(std::string_view m, nlohmann::json f = nlohmann::json::object()) {
  if (enabled(Level::kInfo)) write(Level::kInfo, m, std::move(f));
}
inline void warn(std::string_view m, nlohmann::json f = nlohmann::json::object()) {
  if (enabled(Level::kWarn)) write(Level::kWarn, m, std::move(f));
}
inline void error(std::string_view m, nlohmann::json f = nlohmann::json::object()) {
  if (enabled(Level::kError)) write(Level::kError, m, std::move(f));
}

}  // namespace atrium::log
