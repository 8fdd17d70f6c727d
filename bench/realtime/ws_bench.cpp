// Load client for /ws (bench/scenarios/50_realtime.sh): opens N authenticated WebSocket
// connections, subscribes each to its organization's task changes, prints "ready" once every
// subscription is confirmed, then records when each task's `succeeded` event arrives.
//
//   ws_bench PORT TOKEN CONNECTIONS
//
// After "ready SUBSCRIBED FAILED" the connections sit idle (the script reads the server's RSS)
// until the line "report TASKS" arrives on stdin: then the client waits (≤ 60 s) until every
// connection saw TASKS `succeeded` events, prints "deliveries N P50_MS P99_MS MAX_MS BYTES" (BYTES:
// the mean size of those messages) and exits.
// The latency of a delivery is its arrival time minus the task's `finished_at` (the server's
// clock, microsecond precision, same machine). Arrival is stamped when the read completes; the
// JSON is parsed only at the end, so the client adds as little as it can to what it measures.
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "platform/clock.hpp"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {

struct Arrival {
  std::chrono::system_clock::time_point at;
  std::string message;
};

struct Shared {
  // Prints "ready SUBSCRIBED FAILED" once every connection has subscribed or failed.
  void settled() {
    if (subscribed + failed != connections) return;
    std::printf("ready %zu %zu\n", subscribed, failed);
    std::fflush(stdout);
  }

  std::size_t connections = 0;
  std::size_t subscribed = 0;
  std::size_t failed = 0;
  std::vector<std::vector<Arrival>> arrivals;  // per connection: `succeeded` events
  std::vector<std::size_t> succeeded;
};

net::awaitable<void> connection(std::size_t index, unsigned short port, std::string token,
                                Shared& shared) {
  auto executor = co_await net::this_coro::executor;
  websocket::stream<beast::tcp_stream> ws(executor);
  beast::error_code ec;
  co_await beast::get_lowest_layer(ws).async_connect(
      tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
      net::redirect_error(net::use_awaitable, ec));
  if (!ec) {
    ws.set_option(websocket::stream_base::decorator([&token](websocket::request_type& req) {
      req.set(beast::http::field::authorization, "Bearer " + token);
    }));
    co_await ws.async_handshake("127.0.0.1", "/ws", net::redirect_error(net::use_awaitable, ec));
  }
  if (!ec) {
    ws.text(true);
    co_await ws.async_write(net::buffer(std::string_view(R"({"action":"task-status"})")),
                            net::redirect_error(net::use_awaitable, ec));
  }
  if (!ec)
    co_await ws.async_write(net::buffer(std::string_view(R"({"action":"ping"})")),
                            net::redirect_error(net::use_awaitable, ec));
  if (ec) {
    ++shared.failed;
    shared.settled();
    co_return;
  }
  beast::flat_buffer buffer;
  bool subscribed = false;
  for (;;) {
    co_await ws.async_read(buffer, net::redirect_error(net::use_awaitable, ec));
    if (ec) break;
    const auto now = std::chrono::system_clock::now();
    std::string message = beast::buffers_to_string(buffer.data());
    buffer.consume(buffer.size());
    if (!subscribed) {
      if (message.find("\"pong\"") != std::string::npos) {
        subscribed = true;
        ++shared.subscribed;
        shared.settled();
      }
      continue;
    }
    if (message.find("\"succeeded\"") == std::string::npos) continue;
    shared.arrivals[index].push_back({now, std::move(message)});
    ++shared.succeeded[index];
  }
  if (!subscribed) {
    ++shared.failed;
    shared.settled();
  }
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

void report(const Shared& shared) {
  std::vector<double> ms;
  std::size_t bytes = 0, messages = 0;
  for (const auto& list : shared.arrivals)
    for (const auto& a : list) {
      bytes += a.message.size();
      ++messages;
      auto j = nlohmann::json::parse(a.message, nullptr, false);
      const auto& task = j.contains("task") ? j["task"] : j;
      auto finished = atrium::parse_time(task.value("finished_at", ""));
      if (!finished) continue;
      ms.push_back(std::chrono::duration<double, std::milli>(a.at - *finished).count());
    }
  const double max = ms.empty() ? 0 : *std::max_element(ms.begin(), ms.end());
  const double p50 = percentile(ms, 0.50), p99 = percentile(ms, 0.99);
  std::printf("deliveries %zu %.3f %.3f %.3f %zu\n", ms.size(), p50, p99, max,
              messages ? bytes / messages : 0);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: ws_bench PORT TOKEN CONNECTIONS\n");
    return 2;
  }
  const auto port = static_cast<unsigned short>(std::stoi(argv[1]));
  const std::string token = argv[2];
  Shared shared;
  shared.connections = std::stoul(argv[3]);
  shared.arrivals.resize(shared.connections);
  shared.succeeded.resize(shared.connections);

  net::io_context ioc(1);
  // Connect in waves so the server's accept backlog is never the thing measured.
  net::co_spawn(
      ioc,
      [&]() -> net::awaitable<void> {
        net::steady_timer pause(ioc);
        for (std::size_t i = 0; i < shared.connections; ++i) {
          net::co_spawn(ioc, connection(i, port, token, shared), net::detached);
          if (i % 200 == 199) {
            pause.expires_after(std::chrono::milliseconds(20));
            co_await pause.async_wait(net::use_awaitable);
          }
        }
      },
      net::detached);

  std::thread commands([&] {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.rfind("report ", 0) != 0) continue;
      const std::size_t tasks = std::stoul(line.substr(7));
      net::post(ioc, [&shared, &ioc, tasks] {
        auto deadline = std::make_shared<net::steady_timer>(ioc);
        auto start = std::chrono::steady_clock::now();
        auto check = std::make_shared<std::function<void()>>();
        *check = [&shared, &ioc, tasks, deadline, start, check] {
          const bool all = std::all_of(shared.succeeded.begin(), shared.succeeded.end(),
                                       [tasks](std::size_t n) { return n >= tasks; });
          if (all || std::chrono::steady_clock::now() - start > std::chrono::seconds(60)) {
            report(shared);
            ioc.stop();
            return;
          }
          deadline->expires_after(std::chrono::milliseconds(50));
          deadline->async_wait([check](beast::error_code) { (*check)(); });
        };
        (*check)();
      });
      return;
    }
    net::post(ioc, [&ioc] { ioc.stop(); });
  });

  ioc.run();
  commands.detach();
  return shared.failed == 0 ? 0 : 1;
}
