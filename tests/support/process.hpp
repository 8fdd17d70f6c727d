// A child process for integration tests: the real `atrium` binary, started with arguments and
// environment, its stdout read line by line (JSON logs), signalled and reaped.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace atrium::testing {

class Process {
 public:
  // Starts `argv[0]` with `env` added to (and overriding) the current environment.
  Process(std::vector<std::string> argv, std::map<std::string, std::string> env = {});
  ~Process();  // SIGKILLs a child still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Reads stdout until a line satisfies `match` or `timeout` passes; returns that line.
  std::optional<std::string> wait_for_line(const std::function<bool(const std::string&)>& match,
                                           std::chrono::milliseconds timeout);
  // Everything read from stdout and stderr so far (for failure messages).
  const std::string& output() const { return output_; }

  void signal(int sig);
  // Exit code (or 128 + signal); nullopt if still running after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  int pid() const { return pid_; }

 private:
  bool read_some(std::chrono::milliseconds timeout);
  int pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
  std::string output_;
  std::optional<int> status_;
};

// Runs to completion (up to `timeout`), returning exit code and combined output.
struct RunResult {
  int exit_code = -1;
  std::string output;
};
RunResult run(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace atrium::testing
