// A blocking WebSocket client over a real TCP connection, for tests of /ws and the server.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace atrium::testing {

class WsClient {
 public:
  // Connects and performs the opening handshake. When the server refuses the upgrade, open() is
  // false and status()/body() hold its HTTP answer.
  WsClient(std::uint16_t port, std::string target,
           const std::map<std::string, std::string>& headers = {},
           const std::vector<std::string>& subprotocols = {});
  ~WsClient();

  bool open() const { return open_; }
  int status() const { return status_; }
  const std::string& body() const { return body_; }
  const std::string& subprotocol() const { return subprotocol_; }  // as answered by the server

  void send(std::string_view text);
  void send_binary(std::string_view data);
  // The next text message; nullopt when the connection closed or nothing came in `timeout`.
  std::optional<std::string> read(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // The close code the server sent, once read() has returned nullopt because of a close.
  std::optional<int> close_code() const { return close_code_; }
  bool closed() const { return closed_; }
  void close(int code = 1000);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool open_ = false;
  bool closed_ = false;
  int status_ = 0;
  std::string body_;
  std::string subprotocol_;
  std::optional<int> close_code_;
};

}  // namespace atrium::testing
