// A child process for integration tests: the real `atrium` binary, started with arguments and
// environment, its stdout read line by line (JSON logs), signalled and reaped.
//
// A thread reads the child's stdout and stderr from the start, whatever the test is doing: a
// child never blocks on a full pipe (which would freeze every one of its threads that logs), and
// output() holds everything it wrote.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace atrium::testing {

class Process {
 public:
  // Starts `argv[0]` with `env` added to (and overriding) the current environment.
  Process(std::vector<std::string> argv, std::map<std::string, std::string> env = {});
  ~Process();  // SIGKILLs a child still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Waits until a line not yet looked at satisfies `match` or `timeout` passes; returns that
  // line. Lines looked at (matching or not) are not offered again.
  std::optional<std::string> wait_for_line(const std::function<bool(const std::string&)>& match,
                                           std::chrono::milliseconds timeout);
  // Everything read from stdout and stderr so far (for failure messages and log checks).
  std::string output() const;

  void signal(int sig);
  // Exit code (or 128 + signal); nullopt if still running after `timeout`. Once it returns a
  // code, output() holds what the child wrote.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  int pid() const { return pid_; }

 private:
  void read_loop();

  int pid_ = -1;
  int out_fd_ = -1;
  int wake_fd_ = -1;  // an eventfd that ends read_loop
  std::optional<int> status_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string output_;          // guarded by mu_
  std::size_t line_start_ = 0;  // guarded by mu_: where the next unread line begins
  bool eof_ = false;            // guarded by mu_
  std::thread reader_;
};

// Runs to completion (up to `timeout`), returning exit code and combined output.
struct RunResult {
  int exit_code = -1;
  std::string output;
};
RunResult run(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace atrium::testing
