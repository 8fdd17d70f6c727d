// Polls a condition until it holds or a deadline passes: how tests wait, never by sleeping a fixed
// time.
#pragma once

#include <chrono>
#include <thread>

namespace atrium::testing {

// True as soon as `done()` holds; false if it still does not after `timeout` (checked once more
// at the deadline).
template <class F>
bool eventually(F&& done, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

}  // namespace atrium::testing
