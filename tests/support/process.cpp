#include "support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace atrium::testing {

Process::Process(std::vector<std::string> argv, std::map<std::string, std::string> env) {
  std::map<std::string, std::string> merged;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) merged[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (auto& [k, v] : env) merged[k] = v;
  std::vector<std::string> env_strings;
  for (auto& [k, v] : merged) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  for (auto& s : argv) args.push_back(s.data());
  args.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  // The child must not inherit the test's blocked signal mask.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  int rc = posix_spawn(&pid_, args[0], &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    throw std::runtime_error("cannot start " + argv[0]);
  }
  out_fd_ = fds[0];
  wake_fd_ = eventfd(0, EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::runtime_error("eventfd failed");
  reader_ = std::thread([this] { read_loop(); });
}

Process::~Process() {
  if (!status_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    wait(std::chrono::seconds(5));
  }
  if (reader_.joinable()) {
    const std::uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
    reader_.join();
  }
  if (wake_fd_ >= 0) close(wake_fd_);
  if (out_fd_ >= 0) close(out_fd_);
}

void Process::read_loop() {
  pollfd fds[2] = {{out_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  char buf[65536];
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents) return;
    if (!fds[0].revents) continue;
    const ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    {
      std::lock_guard lock(mu_);
      output_.append(buf, static_cast<std::size_t>(n));
    }
    cv_.notify_all();
  }
  {
    std::lock_guard lock(mu_);
    eof_ = true;
  }
  cv_.notify_all();
}

std::string Process::output() const {
  std::lock_guard lock(mu_);
  return output_;
}

std::optional<std::string> Process::wait_for_line(
    const std::function<bool(const std::string&)>& match, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mu_);
  for (;;) {
    const auto nl = output_.find('\n', line_start_);
    if (nl != std::string::npos) {
      std::string line = output_.substr(line_start_, nl - line_start_);
      line_start_ = nl + 1;
      lock.unlock();
      const bool matched = match(line);
      lock.lock();
      if (matched) return line;
      continue;
    }
    // EOF: the child is gone; nothing more will come.
    if (eof_) return std::nullopt;
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout &&
        output_.find('\n', line_start_) == std::string::npos) {
      return std::nullopt;
    }
  }
}

void Process::signal(int sig) {
  if (!status_ && pid_ > 0) kill(pid_, sig);
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      // What the child wrote last is still in the pipe; a daemon it started may hold the pipe
      // open, so EOF is not waited for long.
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(2), [&] { return eof_; });
      return status_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

RunResult run(std::vector<std::string> argv, std::map<std::string, std::string> env,
              std::chrono::milliseconds timeout) {
  Process p(std::move(argv), std::move(env));
  auto code = p.wait(timeout);
  return {code.value_or(-1), p.output()};
}

}  // namespace atrium::testing
