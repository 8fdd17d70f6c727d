// The server's limits and lifecycle, over real TCP connections on loopback.
#include "http/server.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "support/eventually.hpp"
#include "support/http_client.hpp"
#include "support/ws_client.hpp"

namespace atrium::http {
namespace {

using atrium::testing::eventually;
using atrium::testing::HttpConnection;
using namespace std::chrono_literals;

// A gate a handler can wait on, opened by the test.
class Gate {
 public:
  void open() {
    std::lock_guard l(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return open_; });
  }
  void arrived() {
    std::lock_guard l(mu_);
    ++arrived_;
    cv_.notify_all();
  }
  bool wait_arrived(int n, std::chrono::milliseconds timeout) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, timeout, [&] { return arrived_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int arrived_ = 0;
};

// Echoes text; "flood" makes it push 64 KiB messages until the client is dropped; "bye" makes
// it close with 4001.
class EchoSession final : public WebSocketSession {
 public:
  std::atomic<bool> closed{false};
  std::atomic<int> opened{0};

  void on_open(std::shared_ptr<WebSocketConnection> c) override {
    connection_ = std::move(c);
    opened.fetch_add(1);
  }
  void on_message(std::string_view text) override {
    if (text == "flood") {
      std::string big(64 * 1024, 'x');
      for (int i = 0; i < 2000 && !closed.load(); ++i) connection_->send(big);
    } else if (text == "later") {
      // Stays silent for three idle periods, then answers: the scenario a keep-alive must survive.
      std::thread([c = connection_] {
        std::this_thread::sleep_for(600ms);
        c->send("late answer");
      }).detach();
    } else if (text == "bye") {
      connection_->close(4001, "token expired");
    } else {
      connection_->send("echo:" + std::string(text));
    }
  }
  void on_close() override {
    closed.store(true);
    connection_.reset();
  }
  // The handle given to on_open (valid to read once `opened` is non-zero, until on_close).
  std::shared_ptr<WebSocketConnection> connection() const { return connection_; }

 private:
  std::shared_ptr<WebSocketConnection> connection_;
};

class TestHandler final : public RequestHandler {
 public:
  Gate gate;
  std::atomic<int> rejected{0};
  std::shared_ptr<EchoSession> session = std::make_shared<EchoSession>();

  bool may_block(Request& req) override { return req.path != "/inline"; }

  Response handle(Request& req) override {
    if (req.path == "/ws") {
      Response r;
      r.status = 101;
      r.headers.set("Sec-WebSocket-Protocol", "atrium.v1");
      r.websocket = session;
      return r;
    }
    if (req.path == "/split") {
      Response r = Response::json(200, {});
      r.headers.set("X-Echo", "a\r\nSet-Cookie: evil=1");
      return r;
    }
    if (req.path == "/block") {
      static const HeaderBlock block({{"X-Frame-Options", "DENY"}, {"Cache-Control", "no-store"}});
      Response r = Response::json(200, nlohmann::json::object());
      r.headers.set("Cache-Control", "max-age=60");
      r.headers.set_block(block);
      r.headers.set("X-After", "1");
      return r;
    }
    if (req.path == "/slow") {
      gate.arrived();
      gate.wait();
    }
    return Response::json(200,
                          {{"path", req.path}, {"body", req.body}, {"method", req.method_text}});
  }

  Response reject(Request&, const Error& error) override {
    rejected.fetch_add(1);
    return problem(error, "test-request");
  }
};

class ServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions options = {}) {
    options.port = 0;
    server_ = std::make_unique<Server>(options, handler_);
    ASSERT_TRUE(server_->start());
  }
  void TearDown() override {
    handler_.gate.open();
    if (server_) server_->stop(2s);
  }
  std::uint16_t port() const { return server_->port(); }

  TestHandler handler_;
  std::unique_ptr<Server> server_;
};

std::string get(std::string_view target, std::string_view extra = {}) {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: x\r\n" + std::string(extra) + "\r\n";
}

TEST_F(ServerTest, AnswersAndKeepsAlive) {
  start();
  HttpConnection c(port());
  c.send(get("/a?x=1"));
  auto r1 = c.read();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r1->json()["path"], "/a");
  c.send("POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  auto r2 = c.read();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->json()["body"], "hello");
  EXPECT_EQ(r2->json()["method"], "POST");
}

TEST_F(ServerTest, HeaderValuesCannotSplitTheResponse) {
  start();
  HttpConnection c(port());
  c.send(get("/split"));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("x-echo"), "a  Set-Cookie: evil=1");
  EXPECT_EQ(r->header("set-cookie"), "");
}

TEST_F(ServerTest, HeaderBlocksAreWritten) {
  start();
  HttpConnection c(port());
  c.send(get("/block"));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("x-frame-options"), "DENY");
  EXPECT_EQ(r->header("cache-control"), "no-store");
  EXPECT_EQ(r->header("x-after"), "1");
  EXPECT_EQ(r->header("content-type"), "application/json");
  EXPECT_EQ(r->json(), nlohmann::json::object());
}

TEST_F(ServerTest, Http10KeepAliveIsExplicit) {
  start();
  HttpConnection c(port());
  c.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("connection"), "keep-alive");
  c.send("GET /b HTTP/1.0\r\n\r\n");  // no keep-alive: answered, then closed
  auto r2 = c.read();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->json()["path"], "/b");
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(ServerTest, ChunkedBodiesAreRead) {
  start();
  HttpConnection c(port());
  c.send(
      "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
      "chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->json()["body"], "abcde");
}

TEST_F(ServerTest, BodyOverLimitIs413) {
  ServerOptions o;
  o.max_body_bytes = 1024;
  start(o);
  {
    HttpConnection c(port());
    c.send(
        "POST /x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
        "1025\r\n\r\n");
    auto r = c.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(r->header("content-type"), "application/problem+json");
    EXPECT_EQ(r->json()["code"], "payload_too_large");
    EXPECT_TRUE(c.closed_by_peer());
  }
  {
    // Chunked: the limit trips while reading, not from a declared length.
    HttpConnection c(port());
    std::string chunk(600, 'a');
    c.send("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n" + chunk +
           "\r\n258\r\n" + chunk + "\r\n0\r\n\r\n");
    auto r = c.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
  }
  {
    // Exactly at the limit is fine.
    HttpConnection c(port());
    c.send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n" + std::string(1024, 'b'));
    auto r = c.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
}

TEST_F(ServerTest, LongRequestLineIs414) {
  start();
  HttpConnection c(port());
  c.send(get("/" + std::string(9000, 'a')));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 414);
  EXPECT_EQ(r->json()["code"], "uri_too_long");
  // A request line beyond the whole header limit is 414 too.
  HttpConnection d(port());
  d.send(get("/" + std::string(20000, 'a')));
  auto r2 = d.read();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 414);
}

TEST_F(ServerTest, LargeHeadersAre431) {
  start();
  HttpConnection c(port());
  std::string fields;
  for (int i = 0; i < 40; ++i)
    fields += "X-Filler-" + std::to_string(i) + ": " + std::string(500, 'v') + "\r\n";
  c.send(get("/a", fields));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(r->json()["code"], "headers_too_large");
}

TEST_F(ServerTest, ContentLengthWithTransferEncodingIs400) {
  start();
  HttpConnection c(port());
  c.send(
      "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: "
      "chunked\r\n\r\n0\r\n\r\n");
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->header("content-type"), "application/problem+json");
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(ServerTest, MalformedRequestIs400) {
  start();
  HttpConnection c(port());
  c.send("THIS IS NOT HTTP\r\n\r\n");
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->json()["code"], "invalid_request");
}

TEST_F(ServerTest, SlowHeadersTimeOut) {
  ServerOptions o;
  o.header_timeout = 200ms;
  start(o);
  HttpConnection c(port());
  c.send("GET /a HTTP/1.1\r\nHost: x\r\n");  // never finished
  // Either a 408 arrives, or the connection is closed; both within the deadline.
  auto r = c.read(5s);
  if (r) {
    EXPECT_EQ(r->status, 408);
  }
  EXPECT_TRUE(c.closed_by_peer(5s));
}

TEST_F(ServerTest, IdleKeepAliveConnectionsAreClosed) {
  ServerOptions o;
  o.idle_timeout = 200ms;
  start(o);
  HttpConnection c(port());
  c.send(get("/a"));
  ASSERT_TRUE(c.read());
  EXPECT_TRUE(c.closed_by_peer(5s));
}

TEST_F(ServerTest, ConnectionsOverTheCapAre503) {
  ServerOptions o;
  o.max_connections = 2;
  start(o);
  HttpConnection a(port()), b(port());
  a.send(get("/a"));  // make sure both are accepted before the third arrives
  ASSERT_TRUE(a.read());
  b.send(get("/a"));
  ASSERT_TRUE(b.read());
  HttpConnection c(port());
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->json()["code"], "unavailable");
}

TEST_F(ServerTest, BlockingHandlersDoNotStallTheIoThread) {
  start();
  HttpConnection slow(port());
  slow.send(get("/slow"));
  ASSERT_TRUE(handler_.gate.wait_arrived(1, 5s));
  HttpConnection quick(port());
  quick.send(get("/inline"));
  auto r = quick.read(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  handler_.gate.open();
  auto s = slow.read();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->status, 200);
}

TEST_F(ServerTest, GracefulShutdownFinishesInFlightRequests) {
  start();
  HttpConnection idle(port());
  idle.send(get("/a"));
  ASSERT_TRUE(idle.read());
  HttpConnection busy(port());
  busy.send(get("/slow"));
  ASSERT_TRUE(handler_.gate.wait_arrived(1, 5s));

  auto stopped = std::async(std::launch::async, [&] { server_->stop(10s); });
  EXPECT_TRUE(idle.closed_by_peer(5s));  // idle connections close at once
  handler_.gate.open();
  auto r = busy.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("connection"), "close");
  ASSERT_EQ(stopped.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(server_->active_connections(), 0);
}

TEST_F(ServerTest, ExpectContinueIsHonoured) {
  start();
  HttpConnection c(port());
  c.send("POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
  auto interim = c.read();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  c.send("ok");
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->json()["body"], "ok");
}

TEST_F(ServerTest, WebSocketUpgradeAndEcho) {
  start();
  atrium::testing::WsClient ws(port(), "/ws", {}, {"atrium.v1"});
  ASSERT_TRUE(ws.open()) << ws.status();
  EXPECT_EQ(ws.subprotocol(), "atrium.v1");
  ws.send("hello");
  EXPECT_EQ(ws.read(), "echo:hello");
  EXPECT_EQ(server_->websocket_connections(), 1);
  ws.close();
  EXPECT_TRUE(eventually([&] { return handler_.session->closed.load(); }));
  EXPECT_TRUE(eventually([&] { return server_->websocket_connections() == 0; }));
}

TEST_F(ServerTest, WebSocketOversizedMessageCloses1009) {
  ServerOptions o;
  o.websocket.max_message_bytes = 64 * 1024;
  start(o);
  atrium::testing::WsClient ws(port(), "/ws");
  ASSERT_TRUE(ws.open());
  ws.send(std::string(64 * 1024, 'a'));  // exactly the limit is fine
  ASSERT_TRUE(ws.read());
  ws.send(std::string(64 * 1024 + 1, 'a'));
  EXPECT_FALSE(ws.read());
  EXPECT_EQ(ws.close_code(), 1009);
}

TEST_F(ServerTest, WebSocketServerCloseCarriesTheCode) {
  start();
  atrium::testing::WsClient ws(port(), "/ws");
  ASSERT_TRUE(ws.open());
  ws.send("bye");
  EXPECT_FALSE(ws.read());
  EXPECT_EQ(ws.close_code(), 4001);
  EXPECT_TRUE(eventually([&] { return handler_.session->closed.load(); }));
}

TEST_F(ServerTest, WebSocketBinaryFramesAreRefused) {
  start();
  atrium::testing::WsClient ws(port(), "/ws");
  ASSERT_TRUE(ws.open());
  ws.send_binary("\x01\x02");
  EXPECT_FALSE(ws.read());
  EXPECT_EQ(ws.close_code(), 1003);
}

TEST_F(ServerTest, WebSocketClientThatDoesNotReadIsDropped) {
  ServerOptions o;
  o.websocket.max_queued_bytes = 1 << 20;
  start(o);
  atrium::testing::WsClient ws(port(), "/ws");
  ASSERT_TRUE(ws.open());
  ws.send("flood");  // ~128 MiB offered; the client reads nothing
  EXPECT_TRUE(eventually([&] { return handler_.session->closed.load(); }, 20s));
  EXPECT_TRUE(eventually([&] { return server_->websocket_connections() == 0; }));
}

TEST_F(ServerTest, WebSocketSilentClientTimesOut) {
  ServerOptions o;
  o.websocket.idle_timeout = 200ms;  // ping after 200 ms of silence, close after 400 ms
  start(o);
  atrium::testing::WsClient ws(port(), "/ws");
  ASSERT_TRUE(ws.open());
  // The client never reads, so it never answers the server's ping.
  EXPECT_TRUE(eventually([&] { return handler_.session->closed.load(); }));
}

TEST_F(ServerTest, WebSocketKeepAlivePingsKeepAnswering) {
  ServerOptions o;
  o.websocket.idle_timeout = 200ms;
  start(o);
  atrium::testing::WsClient ws(port(), "/ws");
  ASSERT_TRUE(ws.open());
  // The server is silent for 600 ms; the client's pending read answers the server's pings, so
  // the connection survives to deliver the late answer.
  ws.send("later");
  EXPECT_EQ(ws.read(5s), "late answer");
  EXPECT_FALSE(handler_.session->closed.load());
}

TEST_F(ServerTest, ShutdownClosesWebSocketsWithGoingAway) {
  start();
  atrium::testing::WsClient ws(port(), "/ws");
  ASSERT_TRUE(ws.open());
  auto stopped = std::async(std::launch::async, [&] { server_->stop(10s); });
  EXPECT_FALSE(ws.read(10s));
  EXPECT_EQ(ws.close_code(), 1001);
  ASSERT_EQ(stopped.wait_for(10s), std::future_status::ready);
}

TEST_F(ServerTest, HandlesUsedWhileTheServerIsDestroyedAreHarmless) {
  start();
  atrium::testing::WsClient ws(port(), "/ws");
  ASSERT_TRUE(ws.open());
  ws.send("hello");  // answered after on_open, so the handle is in place
  ASSERT_EQ(ws.read(5s), "echo:hello");
  ASSERT_EQ(handler_.session->opened.load(), 1);
  auto handle = handler_.session->connection();
  ASSERT_TRUE(handle);
  // An application thread keeps using its handle (as the hub's fan-out does) while the server
  // stops and is destroyed: a handle must never be what keeps a connection past its io_context.
  std::atomic<bool> done{false};
  std::thread user([&] {
    while (!done.load()) handle->send("tick");
  });
  server_->stop(2s);
  server_.reset();
  done.store(true);
  user.join();
  handle->send("after");  // into nothing
  SUCCEED();
}

TEST_F(ServerTest, UpgradeAnswerWithoutUpgradeRequestIs400) {
  start();
  HttpConnection c(port());
  c.send(get("/ws"));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

}  // namespace
}  // namespace atrium::http
