// Fakes for the realtime tests: a WebSocket connection that records what it is asked to do.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "http/websocket.hpp"

namespace atrium::realtime::testing {

class FakeConnection final : public http::WebSocketConnection {
 public:
  void send(std::string text) override {
    send(std::make_shared<const std::string>(std::move(text)));
  }
  void send(std::shared_ptr<const std::string> text) override {
    if (before_send) before_send(nlohmann::json::parse(*text));
    std::lock_guard l(mu_);
    sent_.push_back(nlohmann::json::parse(*text));
    cv_.notify_all();
  }
  void close(std::uint16_t code, std::string) override {
    std::lock_guard l(mu_);
    if (!close_code_) close_code_ = code;
    cv_.notify_all();
  }

  // Waits (with a deadline) until `n` messages were sent; returns them all.
  std::vector<nlohmann::json> wait_for(
      std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock l(mu_);
    cv_.wait_for(l, timeout, [&] { return sent_.size() >= n; });
    return sent_;
  }
  std::optional<int> wait_for_close(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock l(mu_);
    cv_.wait_for(l, timeout, [&] { return close_code_.has_value(); });
    return close_code_;
  }
  std::vector<nlohmann::json> sent() {
    std::lock_guard l(mu_);
    return sent_;
  }

  // Called with each message as send() begins, on the sending thread (set it before the
  // connection is used).
  std::function<void(const nlohmann::json&)> before_send;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<nlohmann::json> sent_;
  std::optional<int> close_code_;
};

}  // namespace atrium::realtime::testing
