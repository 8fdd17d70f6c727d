#include "platform/clock.hpp"

#include <charconv>
#include <cstdio>
#include <ctime>

namespace atrium {

std::string format_time(TimePoint t) {
  // Calendar arithmetic instead of gmtime_r, which takes a lock and costs ~4k instructions: this
  // runs for every log line.
  using namespace std::chrono;
  const auto us = floor<microseconds>(t);
  const auto day = floor<days>(us);
  const year_month_day ymd{day};
  const hh_mm_ss hms{us - day};
  char buf[32];
  auto put = [&buf](int pos, int width, long long value) {
    for (int i = width - 1; i >= 0; --i, value /= 10)
      buf[pos + i] = static_cast<char>('0' + value % 10);
  };
  put(0, 4, static_cast<int>(ymd.year()));
  buf[4] = '-';
  put(5, 2, static_cast<unsigned>(ymd.month()));
  buf[7] = '-';
  put(8, 2, static_cast<unsigned>(ymd.day()));
  buf[10] = 'T';
  put(11, 2, hms.hours().count());
  buf[13] = ':';
  put(14, 2, hms.minutes().count());
  buf[16] = ':';
  put(17, 2, hms.seconds().count());
  buf[19] = '.';
  put(20, 6, hms.subseconds().count());
  buf[26] = 'Z';
  return std::string(buf, 27);
}

namespace {

bool read_int(std::string_view s, std::size_t pos, std::size_t len, int& out) {
  if (pos + len > s.size()) return false;
  auto first = s.data() + pos;
  auto [ptr, ec] = std::from_chars(first, first + len, out);
  return ec == std::errc{} && ptr == first + len;
}

}  // namespace

std::optional<TimePoint> parse_time(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)
  int year, mon, day, hour, min, sec;
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
    return std::nullopt;
  if (!read_int(s, 0, 4, year) || !read_int(s, 5, 2, mon) || !read_int(s, 8, 2, day) ||
      !read_int(s, 11, 2, hour) || !read_int(s, 14, 2, min) || !read_int(s, 17, 2, sec))
    return std::nullopt;
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
    return std::nullopt;
  std::size_t pos = 19;
  long long micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 6) micros = micros * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 6; ++digits) micros *= 10;
  }
  int offset_minutes = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (pos + 6 > s.size() || s[pos + 3] != ':' || !read_int(s, pos + 1, 2, oh) ||
        !read_int(s, pos + 4, 2, om))
      return std::nullopt;
    offset_minutes = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;

  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  std::time_t secs = timegm(&tm);
  if (secs == static_cast<std::time_t>(-1)) return std::nullopt;
  secs -= offset_minutes * 60;
  return TimePoint{std::chrono::seconds(secs) + std::chrono::microseconds(micros)};
}

}  // namespace atrium
