#include "platform/log.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <mutex>

#include "platform/clock.hpp"

namespace atrium::log {
namespace {

std::atomic<Level> min_level{Level::kInfo};

// stdout through stdio's buffer. spdlog's stdout sink calls fflush() after every line, which is
// one write(2) per request on the I/O thread for the access log (strace: 2,000 writes for 2,000
// requests). Here lines reach the buffer and are written when it fills, when a line at warn or
// above arrives (flush_on) and every second (flush_every), as log.hpp promises.
class BufferedStdoutSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    std::fwrite(line.data(), 1, line.size(), stdout);
  }
  void flush_() override { std::fflush(stdout); }
};

spdlog::logger& logger() {
  // Lines below warn are flushed within a second; started once with the logger.
  static const bool periodic = [] {
    spdlog::flush_every(std::chrono::seconds(1));
    return true;
  }();
  (void)periodic;
  // The JSON object is the whole line; spdlog only serialises writes and flushes.
  static auto instance = [] {
    // A file or pipe gets 64 KiB writes instead of stdio's 4 KiB: at 50k requests a second the
    // access log is 15 MB/s, and each write is a system call on the I/O thread.
    if (!isatty(STDOUT_FILENO)) std::setvbuf(stdout, nullptr, _IOFBF, std::size_t{1} << 16);
    auto l = std::make_shared<spdlog::logger>("atrium", std::make_shared<BufferedStdoutSink>());
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    spdlog::register_logger(l);
    l->flush_on(spdlog::level::warn);
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

void flush() { logger().flush(); }

namespace {

constexpr auto kNeedsEscape = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 0x20; ++c) table[c] = true;
  table['"'] = table['\\'] = table[0x7f] = true;
  return table;
}();

bool needs_escape(char c) { return kNeedsEscape[static_cast<unsigned char>(c)]; }

void append_escaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  while (!s.empty()) {
    // Copy the run that needs no escaping in one go (the common case is the whole string).
    std::size_t run = 0;
    while (run < s.size() && !needs_escape(s[run])) ++run;
    out.append(s.data(), run);
    if (run == s.size()) return;
    const char c = s[run];
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default: {
        const auto u = static_cast<unsigned char>(c);
        out += "\\u00";
        out.push_back(kHex[u >> 4]);
        out.push_back(kHex[u & 0xf]);
      }
    }
    s.remove_prefix(run + 1);
  }
}

}  // namespace

Line::Line(Level level, std::string_view message) : active_(enabled(level)) {
  if (!active_) return;
  text_.reserve(256);
  text_ += "{\"ts\":\"";
  text_ += format_time(std::chrono::system_clock::now());
  text_ += "\",\"level\":\"";
  text_ += name(level);
  text_ += "\",\"msg\":\"";
  append_escaped(text_, message);
  text_ += '"';
}

Line::~Line() { emit(); }

void Line::key(std::string_view k) {
  text_ += ",\"";
  append_escaped(text_, k);
  text_ += "\":";
}

Line& Line::field(std::string_view k, std::string_view value) {
  if (!active_) return *this;
  key(k);
  text_ += '"';
  append_escaped(text_, value);
  text_ += '"';
  return *this;
}

Line& Line::field(std::string_view k, std::int64_t value) {
  if (!active_) return *this;
  key(k);
  text_ += std::to_string(value);
  return *this;
}

Line& Line::field(std::string_view k, double value) {
  if (!active_) return *this;
  key(k);
  // printf's "%.3f" text at a fraction of its cost (it runs for every request); JSON has no
  // infinities and no NaN.
  char buf[400];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed, 3);
  if (std::isfinite(value) && ec == std::errc{}) {
    text_.append(buf, end);
  } else {
    text_ += "null";
  }
  return *this;
}

Line& Line::null_field(std::string_view k) {
  if (!active_) return *this;
  key(k);
  text_ += "null";
  return *this;
}

void Line::emit() {
  if (!active_) return;
  active_ = false;
  text_ += '}';
  logger().info(text_);
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
