#include "platform/log.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
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

 public:
  // A finished line (ending in '\n') straight to the buffer, under the same lock as spdlog's
  // writes and flushes: the access log skips spdlog's message and formatter (~1k instructions
  // per request, callgrind), which with the "%v" pattern only copied the text.
  void write_line(std::string_view line, bool flush) {
    std::lock_guard lock(mutex_);
    std::fwrite(line.data(), 1, line.size(), stdout);
    if (flush) std::fflush(stdout);
  }
};

struct Output {
  std::shared_ptr<BufferedStdoutSink> sink;
  std::shared_ptr<spdlog::logger> logger;
};

Output& output() {
  // Lines below warn are flushed within a second; started once with the logger.
  static const bool periodic = [] {
    spdlog::flush_every(std::chrono::seconds(1));
    return true;
  }();
  (void)periodic;
  // The JSON object is the whole line; spdlog only serialises writes and flushes.
  static Output instance = [] {
    // A file or pipe gets 64 KiB writes instead of stdio's 4 KiB: at 50k requests a second the
    // access log is 15 MB/s, and each write is a system call on the I/O thread.
    // The buffer is given: with a null one glibc ignores the size and keeps 4 KiB (strace: a
    // write(2) every ~19 requests instead of every ~300).
    static char buffer[std::size_t{1} << 16];
    if (!isatty(STDOUT_FILENO)) std::setvbuf(stdout, buffer, _IOFBF, sizeof buffer);
    auto sink = std::make_shared<BufferedStdoutSink>();
    auto l = std::make_shared<spdlog::logger>("atrium", sink);
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    spdlog::register_logger(l);
    l->flush_on(spdlog::level::warn);
    return Output{std::move(sink), std::move(l)};
  }();
  return instance;
}

spdlog::logger& logger() { return *output().logger; }

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

// Whether any of the 8 bytes in `w` needs escaping (below 0x20, '"', '\\', 0x7f): the classic
// "has a byte less than n" and "has a zero byte" tests, exact as a yes/no answer.
bool word_needs_escape(std::uint64_t w) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  const auto has_zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  const std::uint64_t below_space = (w - kOnes * 0x20) & ~w & kHigh;
  return (below_space | has_zero(w ^ (kOnes * '"')) | has_zero(w ^ (kOnes * '\\')) |
          has_zero(w ^ (kOnes * 0x7f))) != 0;
}

// The length of the prefix of `s` that needs no escaping, 8 bytes at a time; the last bytes are
// checked as one word too (overlapping, or padded with plain bytes).
std::size_t plain_run(std::string_view s) {
  std::size_t run = 0;
  std::uint64_t w;
  for (; run + 8 <= s.size(); run += 8) {
    std::memcpy(&w, s.data() + run, sizeof w);
    if (word_needs_escape(w)) break;
  }
  if (run == s.size()) return run;
  if (run + 8 > s.size()) {  // no escape found so far: only the tail is left
    if (s.size() >= 8) {
      std::memcpy(&w, s.data() + s.size() - 8, sizeof w);
    } else {
      w = 0x6161616161616161ULL;  // 'a' in every byte
      std::memcpy(&w, s.data(), s.size());
    }
    if (!word_needs_escape(w)) return s.size();
  }
  while (run < s.size() && !needs_escape(s[run])) ++run;
  return run;
}

// `,"key":` (and the opening quote of a string value) in one append.
void append_key(std::string& out, std::string_view k, bool quote) {
  char text[64];
  if (k.size() + 5 > sizeof text) {
    out.append(",\"", 2).append(k).append(quote ? "\":\"" : "\":", quote ? 3 : 2);
    return;
  }
  char* p = text;
  *p++ = ',';
  *p++ = '"';
  std::memcpy(p, k.data(), k.size());
  p += k.size();
  *p++ = '"';
  *p++ = ':';
  if (quote) *p++ = '"';
  out.append(text, static_cast<std::size_t>(p - text));
}

void append_escaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  while (!s.empty()) {
    // Copy the run that needs no escaping in one go (the common case is the whole string).
    const std::size_t run = plain_run(s);
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

// format_time(now) appended to `out`. The text up to the seconds changes once a second, so each
// thread keeps it and formats only the microseconds.
void append_time(std::string& out, std::chrono::system_clock::time_point now) {
  using namespace std::chrono;
  thread_local sys_seconds cached_second{seconds::min()};
  thread_local char cached[19];  // "2026-11-27T02:44:23"
  const auto us = floor<microseconds>(now);
  const auto second = floor<seconds>(us);
  if (second != cached_second) {
    const std::string full = format_time(second);
    std::memcpy(cached, full.data(), sizeof cached);
    cached_second = second;
  }
  char fraction[8] = {'.', '0', '0', '0', '0', '0', '0', 'Z'};
  auto micros = (us - second).count();
  for (int i = 6; i >= 1; --i, micros /= 10) fraction[i] = static_cast<char>('0' + micros % 10);
  out.append(cached, sizeof cached);
  out.append(fraction, sizeof fraction);
}

// Lines are built in a buffer kept per thread: a Line takes it and gives it back once written,
// so the access log allocates nothing per request once warm. (A Line built while another is
// alive on the same thread simply starts with an empty buffer.)
thread_local std::string spare_text;
constexpr std::size_t kSpareMax = 16 * 1024;  // a rare huge line is not kept

}  // namespace

Line::Line(Level level, std::string_view message) : active_(enabled(level)), level_(level) {
  if (!active_) return;
  text_.swap(spare_text);
  text_.clear();
  text_.reserve(512);
  text_.append(R"({"ts":")");
  append_time(text_, std::chrono::system_clock::now());
  text_.append(R"(","level":")");
  text_.append(name(level));
  text_.append(R"(","msg":")");
  append_escaped(text_, message);
  text_ += '"';
}

Line::~Line() { emit(); }

void Line::key(std::string_view k) {
  append_key(text_, k, false);  // an identifier (log.hpp): nothing to escape
}

Line& Line::field(std::string_view k, std::string_view value) {
  if (!active_) return *this;
  append_key(text_, k, true);
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
  text_.append("}\n", 2);
  output().sink->write_line(text_, level_ >= Level::kWarn);
  if (text_.capacity() <= kSpareMax) {
    text_.clear();
    spare_text.swap(text_);
  }
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
