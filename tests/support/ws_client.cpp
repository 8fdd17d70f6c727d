#include "support/ws_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

namespace atrium::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;

struct WsClient::Impl {
  net::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buffer;

  // Runs the io_context until `done`; the operation's own timeout bounds the wait.
  void run_until(const bool& done) {
    ioc.restart();
    while (!done && ioc.run_one() > 0) {
    }
  }
};

WsClient::WsClient(std::uint16_t port, std::string target,
                   const std::map<std::string, std::string>& headers,
                   const std::vector<std::string>& subprotocols)
    : impl_(std::make_unique<Impl>()) {
  auto& ws = impl_->ws;
  beast::get_lowest_layer(ws).connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  std::string protocols;
  for (const auto& p : subprotocols) protocols += (protocols.empty() ? "" : ", ") + p;
  ws.set_option(
      websocket::stream_base::decorator([headers, protocols](websocket::request_type& req) {
        for (const auto& [k, v] : headers) req.set(k, v);
        if (!protocols.empty()) req.set(beast::http::field::sec_websocket_protocol, protocols);
      }));
  websocket::response_type res;
  beast::error_code ec;
  bool done = false;
  beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(10));
  ws.async_handshake(res, "127.0.0.1", target, [&](beast::error_code e) {
    ec = e;
    done = true;
  });
  impl_->run_until(done);
  beast::get_lowest_layer(ws).expires_never();
  status_ = static_cast<int>(res.result_int());
  body_ = res.body();
  if (auto p = res.find(beast::http::field::sec_websocket_protocol); p != res.end())
    subprotocol_ = std::string(p->value());
  open_ = !ec;
}

WsClient::~WsClient() {
  beast::error_code ec;
  beast::get_lowest_layer(impl_->ws).socket().close(ec);
}

void WsClient::send(std::string_view text) {
  impl_->ws.text(true);
  impl_->ws.write(net::buffer(text.data(), text.size()));
}

void WsClient::send_binary(std::string_view data) {
  impl_->ws.binary(true);
  impl_->ws.write(net::buffer(data.data(), data.size()));
  impl_->ws.text(true);
}

std::optional<std::string> WsClient::read(std::chrono::milliseconds timeout) {
  if (closed_) return std::nullopt;
  auto& ws = impl_->ws;
  net::steady_timer timer(impl_->ioc);
  timer.expires_after(timeout);
  bool done = false, timed_out = false;
  beast::error_code ec;
  timer.async_wait([&](beast::error_code e) {
    if (!e && !done) {
      timed_out = true;
      beast::get_lowest_layer(ws).socket().cancel();
    }
  });
  ws.async_read(impl_->buffer, [&](beast::error_code e, std::size_t) {
    ec = e;
    done = true;
    timer.cancel();
  });
  impl_->run_until(done);
  impl_->ioc.restart();
  impl_->ioc.poll();  // let the cancelled timer finish
  if (ec) {
    if (!timed_out) {
      closed_ = true;
      if (ec == websocket::error::closed) close_code_ = ws.reason().code;
    }
    return std::nullopt;
  }
  std::string text = beast::buffers_to_string(impl_->buffer.data());
  impl_->buffer.consume(impl_->buffer.size());
  return text;
}

void WsClient::close(int code) {
  beast::error_code ec;
  websocket::close_reason why;
  why.code = static_cast<std::uint16_t>(code);
  impl_->ws.close(why, ec);
  closed_ = true;
}

}  // namespace atrium::testing
