#include "support/http_client.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <stdexcept>

namespace atrium::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

std::string HttpResponse::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

nlohmann::json HttpResponse::json() const { return nlohmann::json::parse(body); }

struct HttpConnection::Impl {
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
};

HttpConnection::HttpConnection(std::uint16_t port, std::string host)
    : impl_(std::make_unique<Impl>()) {
  impl_->stream.connect(tcp::endpoint(net::ip::make_address(host), port));
}

HttpConnection::~HttpConnection() {
  boost::system::error_code ec;
  impl_->stream.socket().close(ec);
}

void HttpConnection::send(std::string_view bytes) {
  net::write(impl_->stream.socket(), net::buffer(bytes.data(), bytes.size()));
}

std::optional<HttpResponse> HttpConnection::read(std::chrono::milliseconds timeout) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 << 20);
  impl_->stream.expires_after(timeout);
  boost::system::error_code ec;
  bool done = false;
  bhttp::async_read(impl_->stream, impl_->buffer, parser,
                    [&](boost::system::error_code e, std::size_t) {
                      ec = e;
                      done = true;
                    });
  impl_->ioc.restart();
  while (!done) impl_->ioc.run_one();
  if (ec) return std::nullopt;
  HttpResponse out;
  auto& res = parser.get();
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto [it, inserted] = out.headers.emplace(name, std::string(f.value()));
    if (!inserted) it->second += ", " + std::string(f.value());
  }
  out.body = res.body();
  return out;
}

bool HttpConnection::closed_by_peer(std::chrono::milliseconds timeout) {
  // Plain poll + peek on the descriptor: after Beast's timeout machinery has run, its stream
  // cannot be trusted to report a later end-of-file.
  if (impl_->buffer.size() > 0) return false;  // the peer sent more, so it was still talking
  const int fd = impl_->stream.socket().native_handle();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) return false;
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0) return true;
    if (n == 0) return false;
    char byte;
    ssize_t r = ::recv(fd, &byte, 1, 0);
    if (r <= 0) return true;  // end of file or reset
    // Data arrived (e.g. the rest of an answer): keep waiting for the close.
  }
}

HttpResponse request(std::uint16_t port, std::string_view method, std::string_view target,
                     std::string_view body, const std::map<std::string, std::string>& headers) {
  HttpConnection conn(port);
  std::string raw =
      std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  bool has_type = false;
  for (const auto& [k, v] : headers) {
    raw += k + ": " + v + "\r\n";
    if (beast::iequals(k, "Content-Type")) has_type = true;
  }
  if (!body.empty() && !has_type) raw += "Content-Type: application/json\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
    raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  raw += "Connection: close\r\n\r\n";
  raw += body;
  conn.send(raw);
  auto res = conn.read();
  if (!res)
    throw std::runtime_error("no response to " + std::string(method) + " " + std::string(target));
  return *res;
}

}  // namespace atrium::testing
