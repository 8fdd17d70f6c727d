// The HTTP/1.1 server: Boost.Beast on Asio with C++20 coroutines.
//
// The server does transport only: limits, timeouts, keep-alive, graceful shutdown. What a request
// means is the RequestHandler's business; handlers that may block run on a bounded pool so an I/O
// thread never waits on a database or a password hash.
//
// Limits (each refused with problem+json through RequestHandler::reject, then the connection is
// closed): request line over max_request_line_bytes → 414; header block over max_header_bytes →
// 431; body over max_body_bytes → 413; both Content-Length and Transfer-Encoding, or malformed
// HTTP → 400; headers incomplete after header_timeout → 408 (or close); a connection over
// max_connections → 503. Idle keep-alive connections are closed after idle_timeout.
// A handler answering 101 with Response::websocket turns the connection into a WebSocket
// (http/websocket.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "http/message.hpp"
#include "http/websocket.hpp"

namespace atrium::http {

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Called on the I/O thread once the headers are parsed (the body is not read yet). True sends
  // handle() to the handler pool. It may keep what it learned on `req` (the matched route) for
  // handle().
  virtual bool may_block(Request& req) = 0;
  // Answers the request. Must not throw.
  virtual Response handle(Request& req) = 0;
  // Answers a request the server refused before handling; `req` holds what could be parsed.
  // Must not throw.
  virtual Response reject(Request& req, const Error& error) = 0;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0 = any free port; see Server::port()
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_request_line_bytes = 8 * 1024;
  int max_connections = 10000;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds write_timeout{30'000};
  int io_threads = 1;
  int handler_threads = 16;
  WebSocketOptions websocket;
};

class Server {
 public:
  Server(ServerOptions options, RequestHandler& handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts the I/O and handler threads. Returns once the port is listening.
  Result<void> start();
  std::uint16_t port() const;

  // Graceful: stops accepting, closes idle connections, lets in-flight requests finish and
  // answers them with `Connection: close`, waits up to `grace`, then stops the threads.
  // Idempotent; also called by the destructor.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

  int active_connections() const;  // HTTP and WebSocket
  int websocket_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace atrium::http
