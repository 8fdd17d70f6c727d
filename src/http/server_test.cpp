// The server's limits and lifecycle, over real TCP connections on loopback.
#include "http/server.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "support/http_client.hpp"

namespace atrium::http {
namespace {

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

class TestHandler final : public RequestHandler {
 public:
  Gate gate;
  std::atomic<int> rejected{0};

  bool may_block(Request& req) override { return req.path != "/inline"; }

  Response handle(Request& req) override {
    if (req.path == "/split") {
      Response r = Response::json(200, {});
      r.headers.set("X-Echo", "a\r\nSet-Cookie: evil=1");
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

}  // namespace
}  // namespace atrium::http
