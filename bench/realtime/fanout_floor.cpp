// The floor under the real-time fan-out figures (bench/scenarios/50_realtime.sh): what this
// machine's kernel alone costs to deliver one message to each of N loopback TCP connections,
// with no WebSocket, no JSON and no Atrium in the way.
//
//   fanout_floor CONNECTIONS MESSAGE_BYTES ROUNDS
//
// One process writes the message to every server-side socket in turn (one send() each, as the
// server's single I/O thread does); another reads every client socket through epoll on one thread
// (as ws_bench does). Two processes, like the real thing, so each stays under the descriptor
// limit. A delivery's latency is its arrival minus the start of its round. Prints
// "floor N P50_MS P99_MS MAX_MS WRITE_MS" (WRITE_MS: median time the writer took per round).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: fanout_floor CONNECTIONS MESSAGE_BYTES ROUNDS\n");
    return 2;
  }
  const auto n = static_cast<std::size_t>(std::stoul(argv[1]));
  const auto bytes = static_cast<std::size_t>(std::stoul(argv[2]));
  const int rounds = std::stoi(argv[3]);
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);

  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), len) != 0) die("bind");
  if (listen(listener, 4096) != 0) die("listen");
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);

  // Shared between the writer (parent) and the reader (child).
  struct Shared {
    std::atomic<Clock::rep> round_start{0};
    std::atomic<int> round_done{0};
    std::atomic<std::size_t> connected{0};
  };
  void* memory =
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) die("mmap");
  auto* shared = new (memory) Shared;
  const int one = 1;

  const pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {  // the reader
    std::vector<int> clients;
    const int ep = epoll_create1(0);
    for (std::size_t i = 0; i < n; ++i) {
      const int c = socket(AF_INET, SOCK_STREAM, 0);
      if (c < 0) die("socket");
      if (connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("connect");
      epoll_event e{};
      e.events = EPOLLIN;
      e.data.u64 = i;
      epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
      clients.push_back(c);
    }
    shared->connected.store(n);
    std::vector<double> latencies;
    latencies.reserve(n * static_cast<std::size_t>(rounds));
    std::vector<std::size_t> got(n, 0);
    std::vector<epoll_event> events(1024);
    std::vector<char> buffer(64 * 1024);
    for (int r = 0; r < rounds; ++r) {
      std::size_t complete = 0;
      while (complete < n) {
        const int k = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 1000);
        for (int j = 0; j < k; ++j) {
          const auto i = events[static_cast<std::size_t>(j)].data.u64;
          const ssize_t m = read(clients[i], buffer.data(), buffer.size());
          if (m <= 0) die("read");
          const auto now = Clock::now();
          got[i] += static_cast<std::size_t>(m);
          if (got[i] == bytes * static_cast<std::size_t>(r + 1)) {
            latencies.push_back(
                ms(now - Clock::time_point(Clock::duration(shared->round_start.load()))));
            ++complete;
          }
        }
      }
      shared->round_done.store(r + 1);
    }
    const double max = *std::max_element(latencies.begin(), latencies.end());
    std::printf("%.3f %.3f %.3f", percentile(latencies, 0.50), percentile(latencies, 0.99), max);
    std::fflush(stdout);
    _exit(0);
  }

  std::vector<int> servers;
  for (std::size_t i = 0; i < n; ++i) {
    const int s = accept(listener, nullptr, nullptr);
    if (s < 0) die("accept");
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    servers.push_back(s);
  }
  while (shared->connected.load() < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  const std::string message(bytes, 'x');
  std::vector<double> writes;
  std::printf("floor %zu ", n);
  std::fflush(stdout);
  for (int r = 0; r < rounds; ++r) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // spaced like the tasks
    const auto start = Clock::now();
    shared->round_start.store(start.time_since_epoch().count());
    for (int s : servers)
      if (send(s, message.data(), message.size(), 0) != static_cast<ssize_t>(message.size()))
        die("send");
    writes.push_back(ms(Clock::now() - start));
    while (shared->round_done.load() <= r)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  int status = 0;
  waitpid(child, &status, 0);  // the child printed "P50 P99 MAX"
  std::printf(" %.3f\n", percentile(writes, 0.50));
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
