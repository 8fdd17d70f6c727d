// A small HTTP/1.1 server on 127.0.0.1 for tests of outbound clients: real sockets, one thread
// per connection, and a script per request that writes whatever bytes it likes — a JSON answer,
// a server-sent event stream in pieces, an error, or nothing at all until the client gives up.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace atrium::testing {

struct FakeRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// The connection a script answers on. Closed when the script returns.
class FakeExchange {
 public:
  explicit FakeExchange(int fd, const std::atomic<bool>& stopping) : fd_(fd), stopping_(stopping) {}
  // Writes bytes; false once the client has gone.
  bool write(std::string_view bytes);
  // A complete answer with Content-Length.
  bool respond(int status, std::string_view content_type, std::string_view body,
               const std::map<std::string, std::string>& headers = {});
  // Starts a text/event-stream answer (closed when the script returns).
  bool start_events();
  bool event(std::string_view data);  // "data: <data>\n\n"
  // Waits until the client closes the connection, the server stops, or `limit` passes.
  void wait_for_close(std::chrono::milliseconds limit);

 private:
  int fd_;
  const std::atomic<bool>& stopping_;
};

class FakeHttpServer {
 public:
  using Script = std::function<void(const FakeRequest&, FakeExchange&)>;

  explicit FakeHttpServer(Script script);
  ~FakeHttpServer();  // stops accepting, unblocks scripts waiting for a close, joins

  std::uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<FakeRequest> requests() const;

 private:
  void accept_loop();
  void serve(int fd);

  Script script_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::vector<FakeRequest> requests_;
  std::vector<int> open_fds_;
  std::vector<std::thread> connections_;
  std::thread acceptor_;
};

}  // namespace atrium::testing
