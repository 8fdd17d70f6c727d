// Start-to-ready of `atrium serve` and `atrium worker` (bench/scenarios/05_startup.sh): the time
// from exec to the first 200 from /readyz, measured from outside the process, so it includes what
// the process cannot see of itself (the dynamic loader, static initialisation, reading the
// configuration).
//
//   start_bench ATRIUM_BINARY RUNS [serve|worker]
//
// serve (the default): runs `atrium serve` RUNS times on a fresh data directory (migrations and
// seed from nothing) and RUNS times on one existing data directory (the common restart), with
// every ATRIUM_* variable of the caller dropped (the embedded default).
// worker: runs `atrium worker` RUNS times with the caller's ATRIUM_* variables (its database and
// broker; the schema must exist) — ready means its /readyz found both reachable.
// One process at a time; prints for each case "CASE MEDIAN_MS MIN_MS MAX_MS RSS_KB": RSS is the
// median over the runs of the process's resident set right after it answered ready.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
namespace fs = std::filesystem;

namespace {

struct Sample {
  double ms = 0;
  long rss_kb = 0;
};

unsigned short free_port(net::io_context& ioc) {
  tcp::acceptor probe(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return probe.local_endpoint().port();
}

// One GET /readyz; its status, or nothing while nobody listens.
std::optional<unsigned> readyz(net::io_context& ioc, unsigned short port) {
  beast::error_code ec;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return std::nullopt;
  http::request<http::empty_body> req(http::verb::get, "/readyz", 11);
  req.set(http::field::host, "127.0.0.1");
  http::write(socket, req, ec);
  if (ec) return std::nullopt;
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res, ec);
  if (ec) return std::nullopt;
  return res.result_int();
}

long rss_kb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

std::optional<Sample> start_once(const std::string& binary, std::string command,
                                 const fs::path& data_dir) {
  net::io_context ioc;
  const unsigned short port = free_port(ioc);
  const bool keep_atrium_env = command == "worker";
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    if (keep_atrium_env || std::string_view(*e).rfind("ATRIUM_", 0) != 0) env.emplace_back(*e);
  env.push_back("ATRIUM_DATA_DIR=" + data_dir.string());
  env.push_back("ATRIUM_LISTEN=127.0.0.1:" + std::to_string(port));
  env.push_back("ATRIUM_WEB_ROOT=" + (data_dir / "web").string());
  env.push_back("ATRIUM_LOG_LEVEL=warn");
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string program = binary;
  char* argv[] = {program.data(), command.data(), nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    std::fprintf(stderr, "start_bench: cannot run %s\n", binary.c_str());
    return std::nullopt;
  }
  std::optional<Sample> sample;
  const auto deadline = t0 + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (readyz(ioc, port) == 200u) {
      sample = Sample{
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(),
          rss_kb(pid)};
      break;
    }
    if (waitpid(pid, nullptr, WNOHANG) == pid) {
      std::fprintf(stderr, "start_bench: atrium %s exited before it was ready\n", command.c_str());
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  if (!sample) std::fprintf(stderr, "start_bench: not ready within 10 s\n");
  return sample;
}

template <typename T>
T median(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Case "fresh" and "existing" start `serve`; case "worker" starts `worker`.
bool report(const std::string& name, const std::string& binary, int runs) {
  const bool fresh = name == "fresh";
  const std::string command = name == "worker" ? "worker" : "serve";
  const fs::path root = fs::temp_directory_path() / ("start_bench." + std::to_string(getpid()));
  std::vector<double> ms;
  std::vector<long> rss;
  const auto measure = [&] {
    // The existing-directory case starts once untimed to create it.
    if (name == "existing" && !start_once(binary, command, root / name)) return false;
    for (int i = 0; i < runs; ++i) {
      const fs::path dir = fresh ? root / ("fresh" + std::to_string(i)) : root / name;
      auto s = start_once(binary, command, dir);
      if (!s) return false;
      ms.push_back(s->ms);
      rss.push_back(s->rss_kb);
    }
    return true;
  };
  const bool measured = measure();
  fs::remove_all(root);
  if (!measured) return false;
  std::printf("%s %.1f %.1f %.1f %ld\n", name.c_str(), median(ms),
              *std::min_element(ms.begin(), ms.end()), *std::max_element(ms.begin(), ms.end()),
              median(rss));
  std::fflush(stdout);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc == 4 ? argv[3] : "serve";
  if (argc < 3 || argc > 4 || (mode != "serve" && mode != "worker")) {
    std::fprintf(stderr, "usage: start_bench ATRIUM_BINARY RUNS [serve|worker]\n");
    return 2;
  }
  const std::string binary = argv[1];
  const int runs = std::max(1, std::stoi(argv[2]));
  if (mode == "worker") return report("worker", binary, runs) ? 0 : 1;
  return report("fresh", binary, runs) && report("existing", binary, runs) ? 0 : 1;
}
