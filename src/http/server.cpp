#include "http/server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_set>

#include "platform/log.hpp"

namespace atrium::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::size_t kReadChunk = 4096;

struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  bool idle = true;  // touched only on the connection's executor (one thread, or a strand)
};

// The request line is the bytes before the first CRLF; when the header limit trips, it tells
// 414 (the line itself is too long) from 431 (too many or too large fields).
Error classify_header_limit(const beast::flat_buffer& buffer, std::size_t max_line) {
  auto data = buffer.data();
  std::string_view text(static_cast<const char*>(data.data()), data.size());
  auto eol = text.find("\r\n");
  if (eol == std::string_view::npos || eol > max_line)
    return Error{Code::kUriTooLong, "request line too long", {}, 0};
  return Error{Code::kHeadersTooLarge, "request header fields too large", {}, 0};
}

// Parses a request header that has already arrived in `buffer`, as async_read_header would but
// without an asynchronous operation: a keep-alive request's header usually comes whole in the
// read that woke the session. True when the header is complete; false with `ec` clear when more
// must be read, with `ec` set when it is malformed or over a limit.
bool parse_buffered_header(bhttp::request_parser<bhttp::string_body>& parser,
                           beast::flat_buffer& buffer, error_code& ec) {
  ec = {};
  while (buffer.size() > 0 && !parser.is_header_done()) {
    const std::size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == bhttp::error::need_more) {
      ec = {};
      return false;
    }
    if (ec) return false;
  }
  return parser.is_header_done();
}

// Writes as much of `out` as the socket takes now (it is non-blocking) and drops that prefix.
// Most answers fit the send buffer whole; they then skip the asynchronous write, its timer and a
// turn of the event loop. False on a hard error.
bool write_now(tcp::socket& socket, std::string_view& out) {
  error_code ec;
  const std::size_t n = socket.write_some(net::buffer(out.data(), out.size()), ec);
  if (ec) return ec == net::error::would_block || ec == net::error::try_again;
  out.remove_prefix(n);
  return true;
}

void fill_request(Request& req, const bhttp::request_header<>& h) {
  req.method_text = std::string(h.method_string());
  req.method = parse_method(req.method_text);
  std::string_view target = h.target();
  auto q = target.find('?');
  req.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
  for (const auto& field : h)
    req.headers.add(std::string(field.name_string()), std::string(field.value()));
}

// Writes the status line and header block ourselves, into one buffer sent with one write. Beast's
// serializer walks a buffer sequence per field and cost ~27k instructions per response here
// (callgrind), a third of a small request's whole cost; this is ~2k. Parsing stays with Beast.
void append_header(std::string& out, std::string_view name, std::string_view value) {
  // A field never carries CR or LF: no response splitting, whatever a handler put in a value.
  // Two vectorised scans: string_view::find_first_of calls memchr once per byte of the text
  // (callgrind: ~10k instructions per response).
  auto clean = [&out](std::string_view text) {
    if (text.empty() || (std::memchr(text.data(), '\r', text.size()) == nullptr &&
                         std::memchr(text.data(), '\n', text.size()) == nullptr)) {
      out += text;
      return;
    }
    for (char c : text) out.push_back(c == '\r' || c == '\n' ? ' ' : c);
  };
  clean(name);
  out.append(": ", 2);
  clean(value);
  out.append("\r\n", 2);
}

void append_number(std::string& out, std::size_t n) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
  out.append(digits, static_cast<std::size_t>(end - digits));
}

std::string serialize(Response& res, bool keep_alive, bool head, unsigned version) {
  const bool bodiless = res.status < 200 || res.status == 204 || res.status == 304;
  std::string out;
  const HeaderBlock* block = res.headers.block();
  out.reserve(128 + 48 * res.headers.own_fields().size() + (block ? block->wire().size() : 0) +
              (head || bodiless ? 0 : res.body.size()));
  using namespace std::string_view_literals;  // appends without strlen
  out += version == 10 ? "HTTP/1.0 "sv : "HTTP/1.1 "sv;
  out += std::to_string(res.status);
  out += ' ';
  out += bhttp::obsolete_reason(static_cast<bhttp::status>(res.status));
  out += "\r\n"sv;
  for (const auto& [name, value] : res.headers.own_fields()) {
    if (beast::iequals(name, "Content-Length") || beast::iequals(name, "Connection") ||
        beast::iequals(name, "Transfer-Encoding"))
      continue;  // framing is the server's business
    append_header(out, name, value);
  }
  if (block) out += block->wire();  // checked when it was built: no framing field, no CR or LF
  if (!bodiless) {
    out += "Content-Length: "sv;
    append_number(out, res.body.size());
    out += "\r\n"sv;
  }
  if (!keep_alive) {
    out += "Connection: close\r\n"sv;
  } else if (version == 10) {
    out += "Connection: keep-alive\r\n"sv;
  }
  out += "\r\n"sv;
  if (!head && !bodiless) out += res.body;
  return out;
}

}  // namespace

class WsConnection;

// Told when a WebSocket connection has ended (the server's registry of live connections).
class WsRegistry {
 public:
  virtual void finished(const std::shared_ptr<WsConnection>& connection) = 0;

 protected:
  ~WsRegistry() = default;
};

// One WebSocket connection after its handshake: completion handlers on the connection's executor
// (no coroutine frames), a read always pending, a write only while messages are queued, a bounded
// queue between the application and the writer.
//
// Ten thousand idle connections must stay small (issue 8: <= 4 KiB RSS each), so an idle one
// holds Beast's stream state, one pending read with a small buffer, Beast's idle timer and this
// object: no HTTP parser, no handshake headers, no queue storage, no write timer. Measured with
// heaptrack per connection: docs/BENCHMARKS.md "Real-time".
class WsConnection final : public std::enable_shared_from_this<WsConnection> {
 public:
  WsConnection(tcp::socket socket, const WebSocketOptions& options,
               std::shared_ptr<WebSocketSession> session, WsRegistry& registry)
      : ws(std::move(socket)),
        options_(options),
        session_(std::move(session)),
        registry_(registry) {}

  void start() { read(); }

  void send(std::shared_ptr<const std::string> text) {
    net::post(ws.get_executor(), [self = shared_from_this(), text = std::move(text)]() mutable {
      self->enqueue(std::move(text));
    });
  }

  void close(std::uint16_t code, std::string reason) {
    net::post(ws.get_executor(),
              [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
                self->request_close(code, std::move(reason));
              });
  }

  // No permessage-deflate: frames are small JSON, and its per-connection state is large.
  websocket::stream<tcp::socket, false> ws;

 private:
  // While no message is in progress the pending read holds this much buffer; a longer message is
  // read on in larger steps (Beast enforces read_message_max on each frame header).
  static constexpr std::size_t kIdleReadBytes = 128;

  void read() {
    const std::size_t step = ws.is_message_done() ? kIdleReadBytes : options_.max_message_bytes;
    ws.async_read_some(buffer_, step, [self = shared_from_this()](error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(error_code ec) {
    if (ec) {  // closed (either side), message too big (Beast answered 1009), timeout
      reader_done_ = true;
      if (writing_) drop();  // a write blocked on a gone client ends now
      maybe_finish();
      return;
    }
    if (!ws.is_message_done()) return read();
    if (!ws.got_text()) {
      request_close(static_cast<std::uint16_t>(websocket::close_code::unknown_data),
                    "text frames only");
    } else {
      auto data = buffer_.data();
      session_->on_message(std::string_view(static_cast<const char*>(data.data()), data.size()));
    }
    buffer_.consume(buffer_.size());
    if (buffer_.capacity() > kIdleReadBytes) buffer_.shrink_to_fit();
    read();
  }

  void enqueue(std::shared_ptr<const std::string> text) {
    if (reader_done_ || close_code_ != 0) return;
    if (queue_.size() - head_ >= options_.max_queued_messages ||
        queued_bytes_ + text->size() > options_.max_queued_bytes) {
      // The client stops reading: drop it rather than buffer without bound.
      log::warn("websocket client not reading; dropped", {{"queued", queue_.size() - head_}});
      drop();
      return;
    }
    queued_bytes_ += text->size();
    queue_.push_back(std::move(text));
    if (!writing_) write_next();
  }

  void request_close(std::uint16_t code, std::string reason) {
    if (reader_done_ || close_code_ != 0) return;
    close_code_ = code;
    close_reason_ = std::move(reason);
    if (!writing_) write_next();
  }

  void write_next() {
    writing_ = false;
    if (reader_done_) {
      maybe_finish();
      return;
    }
    if (head_ < queue_.size()) {
      writing_ = true;
      ws.async_write(
          net::buffer(*queue_[head_]),
          [self = shared_from_this()](error_code ec, std::size_t) { self->on_written(ec); });
      return;
    }
    std::vector<std::shared_ptr<const std::string>>().swap(queue_);  // idle: no storage
    head_ = 0;
    if (close_code_ != 0 && !close_sent_) {
      close_sent_ = true;
      writing_ = true;
      websocket::close_reason why;
      why.code = close_code_;
      why.reason = close_reason_;
      // The reader then sees the peer's answer (or the timeout) and ends.
      ws.async_close(why, [self = shared_from_this()](error_code) { self->write_next(); });
    }
  }

  void on_written(error_code ec) {
    queued_bytes_ -= queue_[head_]->size();
    queue_[head_++].reset();
    if (ec) {
      writing_ = false;
      drop();  // the reader ends too
      maybe_finish();
      return;
    }
    write_next();
  }

  void drop() {
    error_code ignored;
    ws.next_layer().close(ignored);
  }

  void maybe_finish() {
    if (finished_ || !reader_done_ || writing_) return;
    finished_ = true;
    std::vector<std::shared_ptr<const std::string>>().swap(queue_);
    session_->on_close();
    session_.reset();
    registry_.finished(shared_from_this());
  }

  const WebSocketOptions& options_;
  std::shared_ptr<WebSocketSession> session_;
  WsRegistry& registry_;
  beast::flat_buffer buffer_;
  std::vector<std::shared_ptr<const std::string>> queue_;  // [head_, end) waits to be written
  std::size_t head_ = 0;
  std::size_t queued_bytes_ = 0;
  std::string close_reason_;
  std::uint16_t close_code_ = 0;  // a close was requested
  bool close_sent_ = false;
  bool writing_ = false;  // a write or the close is in flight
  bool reader_done_ = false;
  bool finished_ = false;
};

// Whether the server's io_context still runs. A handle's caller briefly holds a strong reference
// to its connection; if that reference were the last one and outlived the io_context, the
// connection's socket would be destroyed against a dead one. Handles therefore act under the
// shared lock and stop() flips `alive` under the exclusive lock once its threads have ended.
struct WsLifetime {
  std::shared_mutex mu;
  bool alive = true;
};

// What the application holds: a weak handle, so a session that keeps it past the connection's
// end (or the server's) sends into nothing instead of touching freed state.
class WsHandle final : public WebSocketConnection {
 public:
  WsHandle(std::weak_ptr<WsConnection> c, std::shared_ptr<WsLifetime> lifetime)
      : connection_(std::move(c)), lifetime_(std::move(lifetime)) {}
  void send(std::string text) override {
    send(std::make_shared<const std::string>(std::move(text)));
  }
  void send(std::shared_ptr<const std::string> text) override {
    std::shared_lock lock(lifetime_->mu);
    if (!lifetime_->alive) return;
    if (auto c = connection_.lock()) c->send(std::move(text));
  }
  void close(std::uint16_t code, std::string reason) override {
    std::shared_lock lock(lifetime_->mu);
    if (!lifetime_->alive) return;
    if (auto c = connection_.lock()) c->close(code, std::move(reason));
  }

 private:
  std::weak_ptr<WsConnection> connection_;
  std::shared_ptr<WsLifetime> lifetime_;
};

struct Server::Impl final : WsRegistry {
  Impl(ServerOptions o, RequestHandler& h)
      : options(std::move(o)),
        handler(h),
        ioc(options.io_threads),
        acceptor(net::make_strand(ioc)),
        pool(static_cast<std::size_t>(options.handler_threads)) {}

  ServerOptions options;
  RequestHandler& handler;
  net::io_context ioc;
  tcp::acceptor acceptor;
  // Declared after ioc so it is joined first on destruction: a handler still running on it may
  // complete into a coroutine frame that the io_context owns.
  net::thread_pool pool;
  std::vector<std::thread> threads;
  std::uint16_t bound_port = 0;

  std::atomic<bool> stopping{false};
  std::atomic<int> active{0};
  std::mutex mu;
  std::condition_variable drained;
  std::unordered_set<std::shared_ptr<Connection>> connections;
  std::unordered_set<std::shared_ptr<WsConnection>> websockets;
  std::shared_ptr<WsLifetime> ws_lifetime = std::make_shared<WsLifetime>();
  bool stopped = false;

  // Takes over an upgraded connection (the HTTP session has answered 101 through Beast).
  net::awaitable<void> upgrade(beast::tcp_stream& stream, bhttp::request<bhttp::string_body> req,
                               Response res);
  void finished(const std::shared_ptr<WsConnection>& connection) override;

  net::awaitable<void> accept_loop();
  net::awaitable<void> session(std::shared_ptr<Connection> conn);
  net::awaitable<void> refuse(tcp::socket socket);
  // The rest of an answer that write_now() could not send, with the write timeout.
  net::awaitable<bool> write_rest(beast::tcp_stream& stream, std::string_view out);
  net::awaitable<bool> write(beast::tcp_stream& stream, Response res, bool keep_alive, bool head,
                             unsigned version = 11);
};

net::awaitable<void> Server::Impl::accept_loop() {
  net::steady_timer backoff(acceptor.get_executor());
  for (;;) {
    error_code ec;
    // A connection needs a strand only when several threads run the io_context. A strand does
    // not fit asio's type-erased executor in place, so every operation on its socket allocated
    // (callgrind: ~20 allocations per request).
    tcp::socket socket = co_await acceptor.async_accept(
        options.io_threads == 1 ? net::any_io_executor(ioc.get_executor())
                                : net::any_io_executor(net::make_strand(ioc)),
        net::redirect_error(net::use_awaitable, ec));
    if (stopping.load()) co_return;
    if (ec) {
      if (ec == net::error::operation_aborted) co_return;
      // Out of descriptors or similar: back off instead of spinning on the error.
      log::warn("accept failed", {{"error", ec.message()}});
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(net::redirect_error(net::use_awaitable, ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    socket.non_blocking(true, ec);  // for write_now(); asynchronous operations are unaffected
    if (active.load() >= options.max_connections) {
      auto ex = socket.get_executor();
      net::co_spawn(ex, refuse(std::move(socket)), net::detached);
      continue;
    }
    auto conn = std::make_shared<Connection>(std::move(socket));
    {
      std::lock_guard lock(mu);
      connections.insert(conn);
    }
    active.fetch_add(1);
    net::co_spawn(conn->stream.get_executor(), session(conn), [this, conn](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log::error("connection failed", {{"error", ex.what()}});
        }
      }
      std::lock_guard lock(mu);
      connections.erase(conn);
      active.fetch_sub(1);
      drained.notify_all();
    });
  }
}

net::awaitable<void> Server::Impl::refuse(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  Request req;
  error_code ec;
  req.remote_ip = stream.socket().remote_endpoint(ec).address().to_string();
  Response res = handler.reject(req, Error{Code::kUnavailable, "too many connections", {}, 1});
  co_await write(stream, std::move(res), false, false);
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
}

net::awaitable<bool> Server::Impl::write(beast::tcp_stream& stream, Response res, bool keep_alive,
                                         bool head, unsigned version) {
  const std::string text = serialize(res, keep_alive, head, version);
  std::string_view out = text;
  if (!write_now(stream.socket(), out)) co_return false;
  co_return out.empty() || co_await write_rest(stream, out);
}

net::awaitable<bool> Server::Impl::write_rest(beast::tcp_stream& stream, std::string_view out) {
  stream.expires_after(options.write_timeout);
  error_code ec;
  co_await net::async_write(stream, net::buffer(out.data(), out.size()),
                            net::redirect_error(net::use_awaitable, ec));
  co_return !ec;
}

net::awaitable<void> Server::Impl::session(std::shared_ptr<Connection> conn) {
  auto& stream = conn->stream;
  beast::flat_buffer buffer;
  error_code ec;
  const std::string remote_ip = stream.socket().remote_endpoint(ec).address().to_string();
  bool first = true;

  for (;;) {
    // Wait for the first bytes of the next request. Shutdown cancels only this wait, so a
    // request that has begun always gets its answer.
    if (buffer.size() == 0) {
      conn->idle = true;
      if (stopping.load()) break;
      stream.expires_after(first ? options.header_timeout : options.idle_timeout);
      std::size_t n = co_await stream.async_read_some(buffer.prepare(kReadChunk),
                                                      net::redirect_error(net::use_awaitable, ec));
      conn->idle = false;
      if (ec) break;  // closed, idle too long or shut down: nobody is waiting for an answer
      buffer.commit(n);
    }
    conn->idle = false;
    first = false;

    Request req;
    req.remote_ip = remote_ip;

    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
    parser.body_limit(options.max_body_bytes);
    if (!parse_buffered_header(parser, buffer, ec) && !ec) {
      stream.expires_after(options.header_timeout);
      co_await bhttp::async_read_header(stream, buffer, parser,
                                        net::redirect_error(net::use_awaitable, ec));
    }
    if (ec) {
      if (ec == bhttp::error::end_of_stream || ec == net::error::eof ||
          ec == net::error::connection_reset)
        break;
      Error error = Error::invalid("malformed HTTP request");
      if (ec == bhttp::error::header_limit) {
        error = classify_header_limit(buffer, options.max_request_line_bytes);
      } else if (ec == bhttp::error::body_limit) {
        error = Error{Code::kPayloadTooLarge, "request body exceeds the limit", {}, 0};
      } else if (ec == beast::error::timeout) {
        error = Error{Code::kRequestTimeout, "request headers not received in time", {}, 0};
      }
      if (parser.got_some()) {
        try {
          fill_request(req, parser.get());
        } catch (...) {
        }
      }
      co_await write(stream, handler.reject(req, error), false, false);
      break;
    }

    const auto& header = parser.get();
    fill_request(req, header);
    std::optional<Error> refusal;
    if (header.target().size() > options.max_request_line_bytes) {
      refusal = Error{Code::kUriTooLong, "request target too long", {}, 0};
    } else if (header.count(bhttp::field::content_length) &&
               header.count(bhttp::field::transfer_encoding)) {
      refusal = Error::invalid("both Content-Length and Transfer-Encoding");
    } else if (req.path.empty() || req.path.front() != '/') {
      refusal = Error::invalid("request target must be an absolute path");
    }
    if (refusal) {
      co_await write(stream, handler.reject(req, *refusal), false, false);
      break;
    }
    bool keep_alive = parser.keep_alive();
    const bool may_block = handler.may_block(req);

    if (!parser.is_done()) {
      if (auto expect = req.headers.get("Expect");
          expect && beast::iequals(*expect, "100-continue")) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        stream.expires_after(options.write_timeout);
        co_await net::async_write(stream, net::buffer(kContinue.data(), kContinue.size()),
                                  net::redirect_error(net::use_awaitable, ec));
        if (ec) break;
      }
      stream.expires_after(options.body_timeout);
      co_await bhttp::async_read(stream, buffer, parser,
                                 net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        Error error = Error::invalid("malformed request body");
        if (ec == bhttp::error::body_limit) {
          error = Error{Code::kPayloadTooLarge, "request body exceeds the limit", {}, 0};
        } else if (ec == beast::error::timeout) {
          error = Error{Code::kRequestTimeout, "request body not received in time", {}, 0};
        } else if (ec == bhttp::error::end_of_stream || ec == net::error::connection_reset) {
          break;
        }
        co_await write(stream, handler.reject(req, error), false, false);
        break;
      }
    }
    req.body = std::move(parser.get().body());

    Response res;
    if (may_block) {
      res = co_await net::co_spawn(
          pool, [this, &req]() -> net::awaitable<Response> { co_return handler.handle(req); },
          net::use_awaitable);
    } else {
      res = handler.handle(req);
    }
    if (res.status == 101 && res.websocket && websocket::is_upgrade(header) && !stopping.load()) {
      // The stream moves into the WebSocket; this HTTP session ends without touching it again.
      co_await upgrade(stream, std::move(parser.get()), std::move(res));
      co_return;
    }
    if (res.status == 101) {
      if (res.websocket) res.websocket->on_close();  // accepted, but there is nothing to upgrade
      res = handler.reject(req, Error::invalid("not a WebSocket upgrade"));
    }
    keep_alive = keep_alive && !stopping.load();
    // Not through write(): the usual answer is sent whole by write_now(), and a coroutine call
    // per request for it cost a frame and a resumption.
    const std::string text =
        serialize(res, keep_alive, req.method == Method::kHead, header.version());
    std::string_view out = text;
    if (!write_now(stream.socket(), out)) break;
    if (!out.empty() && !co_await write_rest(stream, out)) break;
    if (!keep_alive) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.close();
}

net::awaitable<void> Server::Impl::upgrade(beast::tcp_stream& stream,
                                           bhttp::request<bhttp::string_body> req, Response res) {
  // The WebSocket runs on the bare socket: it keeps its own timeouts, and beast::tcp_stream's
  // state (two timers, its own allocation) would stay with every idle connection.
  auto conn = std::make_shared<WsConnection>(stream.release_socket(), options.websocket,
                                             res.websocket, *this);
  auto& ws = conn->ws;
  ws.set_option(websocket::stream_base::timeout{options.websocket.handshake_timeout,
                                                options.websocket.idle_timeout, true});
  ws.read_message_max(options.websocket.max_message_bytes);
  // One frame per message, written straight from the shared buffer: Beast's auto-fragmenting
  // would cut a message at its write buffer size, one write (and syscall) per piece.
  ws.auto_fragment(false);
  ws.set_option(websocket::stream_base::decorator(
      [headers = std::move(res.headers)](websocket::response_type& answer) {
        for (const auto& [name, value] : headers) answer.set(name, value);
      }));
  error_code ec;
  co_await ws.async_accept(req, net::redirect_error(net::use_awaitable, ec));
  // The handshake's headers would otherwise stay with the connection (~1 KiB each).
  ws.set_option(websocket::stream_base::decorator([](websocket::response_type&) {}));
  if (ec) {
    res.websocket->on_close();  // accepted by the application, but the handshake failed
    co_return;
  }

  active.fetch_add(1);
  {
    std::lock_guard lock(mu);
    websockets.insert(conn);
  }
  res.websocket->on_open(std::make_shared<WsHandle>(conn, ws_lifetime));
  conn->start();
  // stop() may have closed the registered connections before this one was registered: it sets
  // `stopping` before taking `mu`, so either it saw this connection or this check sees it.
  if (stopping.load()) conn->close(1001, "server shutting down");
}

void Server::Impl::finished(const std::shared_ptr<WsConnection>& connection) {
  std::lock_guard lock(mu);
  websockets.erase(connection);
  active.fetch_sub(1);
  drained.notify_all();
}

Server::Server(ServerOptions options, RequestHandler& handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {}

Server::~Server() { stop(std::chrono::seconds(1)); }

Result<void> Server::start() {
  auto& i = *impl_;
  error_code ec;
  auto address = net::ip::make_address(i.options.host, ec);
  if (ec)
    return fail(Error::invalid("listen address '" + i.options.host + "' is not an IP address"));
  tcp::endpoint endpoint(address, i.options.port);
  i.acceptor.open(endpoint.protocol(), ec);
  if (!ec) i.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) i.acceptor.bind(endpoint, ec);
  if (!ec) i.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return fail(Error::unavailable("cannot listen on " + i.options.host + ":" +
                                   std::to_string(i.options.port) + ": " + ec.message()));
  }
  i.bound_port = i.acceptor.local_endpoint().port();
  net::co_spawn(i.acceptor.get_executor(), i.accept_loop(), net::detached);
  for (int t = 0; t < i.options.io_threads; ++t) i.threads.emplace_back([&i] { i.ioc.run(); });
  return {};
}

std::uint16_t Server::port() const { return impl_->bound_port; }

int Server::active_connections() const { return impl_->active.load(); }

int Server::websocket_connections() const {
  std::lock_guard lock(impl_->mu);
  return static_cast<int>(impl_->websockets.size());
}

void Server::stop(std::chrono::milliseconds grace) {
  auto& i = *impl_;
  {
    std::lock_guard lock(i.mu);
    if (i.stopped) return;
    i.stopped = true;
  }
  i.stopping.store(true);
  net::post(i.acceptor.get_executor(), [&i] {
    error_code ec;
    i.acceptor.close(ec);
  });
  {
    std::unique_lock lock(i.mu);
    for (const auto& ws : i.websockets) ws->close(1001, "server shutting down");
    for (const auto& conn : i.connections) {
      net::post(conn->stream.get_executor(), [conn] {
        error_code ignored;  // the socket may already be closed (timed out)
        if (conn->idle) conn->stream.socket().cancel(ignored);
      });
    }
    i.drained.wait_for(lock, grace, [&i] { return i.active.load() == 0; });
  }
  i.ioc.stop();
  for (auto& t : i.threads) t.join();
  i.threads.clear();
  i.pool.join();
  std::unique_lock lock(i.ws_lifetime->mu);
  i.ws_lifetime->alive = false;
}

}  // namespace atrium::http
