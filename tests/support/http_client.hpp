// A blocking HTTP/1.1 client over a real TCP connection, for tests of the server and the binary.
// Sends raw bytes (so tests can send malformed requests) and parses answers with Beast.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace atrium::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string header(const std::string& lower_name) const;
  nlohmann::json json() const;  // throws if the body is not JSON
};

class HttpConnection {
 public:
  explicit HttpConnection(std::uint16_t port, std::string host = "127.0.0.1");
  ~HttpConnection();

  void send(std::string_view bytes);  // throws on a write error
  // The next response; nullopt if the peer closed or nothing complete arrived before `timeout`.
  std::optional<HttpResponse> read(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // True once the peer has closed the connection (polls until `timeout`).
  bool closed_by_peer(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One request on a fresh connection.
HttpResponse request(std::uint16_t port, std::string_view method, std::string_view target,
                     std::string_view body = {},
                     const std::map<std::string, std::string>& headers = {});

}  // namespace atrium::testing
