// WebSockets on the HTTP listener, without Beast in sight of the application.
//
// A handler accepts an upgrade by answering 101 with `Response::websocket` set to its session
// object (any headers it sets, e.g. Sec-WebSocket-Protocol, go on the handshake answer). The
// server then runs the connection: text frames only, a size limit per message (over it: close
// 1009), ping/pong keep-alive with an idle limit, a bounded send queue (a client that stops
// reading is dropped, never buffered without bound), and close 1001 on shutdown.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace atrium::http {

// The server's side of one connection, handed to the session. Thread-safe.
class WebSocketConnection {
 public:
  virtual ~WebSocketConnection() = default;
  // Queues a text message. When the queue is over its limit the client is not reading: the
  // connection is dropped (and the session's on_close follows).
  virtual void send(std::string text) = 0;
  // The same message to many connections without a copy each (fan-out).
  virtual void send(std::shared_ptr<const std::string> text) = 0;
  // Starts the closing handshake with `code` (1000, 1008, 4001, …). Idempotent.
  virtual void close(std::uint16_t code, std::string reason) = 0;
};

// The application's side, created by the handler that accepted the upgrade. The callbacks run
// one at a time, on the connection's strand: they must be quick and must not block.
class WebSocketSession {
 public:
  virtual ~WebSocketSession() = default;
  virtual void on_open(std::shared_ptr<WebSocketConnection> connection) = 0;
  virtual void on_message(std::string_view text) = 0;  // one complete text message
  virtual void on_close() = 0;                         // exactly once, at the end
};

struct WebSocketOptions {
  std::size_t max_message_bytes = 64 * 1024;
  std::size_t max_queued_messages = 256;
  std::size_t max_queued_bytes = 1 << 20;
  // A ping goes out after half this long without traffic from the client; the connection closes
  // when this long passes without an answer.
  std::chrono::milliseconds idle_timeout{30'000};
  std::chrono::milliseconds handshake_timeout{10'000};
};

}  // namespace atrium::http
