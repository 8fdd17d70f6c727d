// Brute-force protection for sign-in: failed attempts are counted per account (the email as
// typed, lower-cased — known or not, so the answer reveals nothing) and per client address over
// a sliding window; once either reaches its limit, attempts are refused with 429 and Retry-After
// until the oldest failure leaves the window. A successful sign-in clears the account's count
// (not the address's, shared by everyone behind one NAT).
//
// Counts are kept in memory per replica, bounded in size (the least recently failed keys are
// forgotten first). Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "platform/clock.hpp"

namespace atrium::identity {

class LoginThrottle {
 public:
  struct Options {
    int per_account = 5;   // failures per window
    int per_address = 30;  // failures per window
    std::chrono::seconds window{300};
    std::size_t max_keys = 100000;
  };

  LoginThrottle(const Clock& clock, Options options);

  // Seconds to wait when the account or the address is over its limit; nullopt to go ahead.
  std::optional<int> blocked(std::string_view account, std::string_view address);
  void failed(std::string_view account, std::string_view address);
  void succeeded(std::string_view account);

 private:
  struct Entry {
    std::deque<TimePoint> failures;  // oldest first, at most the limit kept
    std::list<std::string>::iterator lru;
  };

  std::optional<int> wait_for(const std::string& key, int limit, TimePoint now);
  void record(const std::string& key, int limit, TimePoint now);
  void forget(const std::string& key);

  const Clock& clock_;
  const Options options_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;  // most recently failed first
};

}  // namespace atrium::identity
