// Structured logs: one JSON object per line on stdout (for Fluent Bit → CloudWatch).
//
//   log::info("server listening", {{"address", "127.0.0.1:8080"}});
//   → {"ts":"2026-11-27T02:44:23.123456Z","level":"info","msg":"server listening","address":"…"}
//
// Thread-safe. The logger is the one process-wide global (STYLE.md §5).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace atrium::log {

enum class Level { kDebug, kInfo, kWarn, kError, kOff };

// Parses "debug" | "info" | "warn" | "error" | "off".
bool parse_level(std::string_view text, Level& out);

// Sets the minimum level (default info). Safe to call again.
void set_level(Level level);
bool enabled(Level level);

void write(Level level, std::string_view message, nlohmann::json fields);

// Writes buffered lines out now. Lines at warn and above are flushed at once; others within a
// second (one write per line would cost a system call per request).
void flush();

// A log line built field by field without intermediate JSON objects, for hot paths (the access
// log). Keys are identifiers written as they are (letters, digits, '_'); string values are
// escaped. The line is written by emit() (or the destructor); building one allocates nothing
// once its thread has written a line before.
class Line {
 public:
  Line(Level level, std::string_view message);
  ~Line();
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;

  Line& field(std::string_view key, std::string_view value);
  Line& field(std::string_view key, const char* value) {
    return field(key, std::string_view(value));
  }
  Line& field(std::string_view key, std::int64_t value);
  Line& field(std::string_view key, int value) { return field(key, std::int64_t{value}); }
  Line& field(std::string_view key, double value);
  Line& null_field(std::string_view key);
  void emit();
  // The JSON object as it would be written (empty when the level is disabled).
  std::string json() const { return active_ ? text_ + "}" : std::string(); }

 private:
  void key(std::string_view k);
  bool active_;
  Level level_;
  std::string text_;
};

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
