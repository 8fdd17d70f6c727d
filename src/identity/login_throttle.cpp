#include "identity/login_throttle.hpp"

#include <cmath>

namespace atrium::identity {
namespace {

std::string account_key(std::string_view account) { return "a:" + std::string(account); }
std::string address_key(std::string_view address) { return "i:" + std::string(address); }

}  // namespace

LoginThrottle::LoginThrottle(const Clock& clock, Options options)
    : clock_(clock), options_(options) {}

std::optional<int> LoginThrottle::wait_for(const std::string& key, int limit, TimePoint now) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  auto& failures = it->second.failures;
  while (!failures.empty() && failures.front() + options_.window <= now) failures.pop_front();
  if (static_cast<int>(failures.size()) < limit) return std::nullopt;
  const auto wait = failures.front() + options_.window - now;
  return std::max(1, static_cast<int>(std::ceil(std::chrono::duration<double>(wait).count())));
}

std::optional<int> LoginThrottle::blocked(std::string_view account, std::string_view address) {
  std::lock_guard lock(mu_);
  const TimePoint now = clock_.now();
  auto a = wait_for(account_key(account), options_.per_account, now);
  auto i =
      address.empty() ? std::nullopt : wait_for(address_key(address), options_.per_address, now);
  if (a && i) return std::max(*a, *i);
  return a ? a : i;
}

void LoginThrottle::record(const std::string& key, int limit, TimePoint now) {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= options_.max_keys) {
      entries_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.push_front(key);
    it = entries_.emplace(key, Entry{{}, lru_.begin()}).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  auto& failures = it->second.failures;
  failures.push_back(now);
  while (static_cast<int>(failures.size()) > limit) failures.pop_front();
}

void LoginThrottle::failed(std::string_view account, std::string_view address) {
  std::lock_guard lock(mu_);
  const TimePoint now = clock_.now();
  record(account_key(account), options_.per_account, now);
  if (!address.empty()) record(address_key(address), options_.per_address, now);
}

void LoginThrottle::forget(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

void LoginThrottle::succeeded(std::string_view account) {
  std::lock_guard lock(mu_);
  forget(account_key(account));
}

}  // namespace atrium::identity
