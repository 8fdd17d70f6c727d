// The openai executor against a fake OpenAI-compatible server on loopback (real HTTP).
#include "tasks/openai_executor.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "support/fake_http_server.hpp"

namespace atrium::tasks {
namespace {

using namespace std::chrono_literals;
using testing::FakeExchange;
using testing::FakeHttpServer;
using testing::FakeRequest;

std::string delta(std::string_view text) {
  return nlohmann::json{{"model", "gpt-test-1"},
                        {"choices", {{{"index", 0}, {"delta", {{"content", text}}}}}}}
      .dump();
}

std::string finish(std::string_view reason) {
  return nlohmann::json{
      {"model", "gpt-test-1"},
      {"choices", {{{"index", 0}, {"delta", nlohmann::json::object()}, {"finish_reason", reason}}}}}
      .dump();
}

void stream_hello(const FakeRequest&, FakeExchange& x) {
  x.start_events();
  for (const char* piece : {"Hel", "lo ", "there!"}) x.event(delta(piece));
  x.event(finish("stop"));
  x.event("[DONE]");
}

class OpenAiExecutorTest : public ::testing::Test {
 protected:
  OpenAiExecutorTest() {
    options_.allow_private_networks = true;  // the fake server is on loopback
    options_.retry_delay = 1ms;
    options_.max_retry_delay = 50ms;
    agent_.model = "gpt-test";
    agent_.instructions = "Be brief.";
  }

  Outcome run(const FakeHttpServer* server, nlohmann::json input = "Say hello") {
    if (server) {
      org_base_url_ = server->url() + "/v1";
      agent_.config["base_url"] = *org_base_url_;
    }
    task_.id = "task-1";
    task_.input = std::move(input);
    Execution ex{task_, agent_, stop_.get_token(),
                 [this](const Progress& p) {
                   std::lock_guard lock(mu_);
                   progress_.push_back(p);
                   if (on_progress_) on_progress_();
                 },
                 [this](std::string_view name) -> Result<std::optional<std::string>> {
                   if (name == "llm_api_key") return org_key_;
                   EXPECT_EQ(name, "llm_base_url");
                   return org_base_url_;
                 }};
    return OpenAiExecutor(options_).run(ex);
  }

  static nlohmann::json body(const FakeRequest& r) { return nlohmann::json::parse(r.body); }

  OpenAiOptions options_;
  Task task_;
  Agent agent_;
  std::stop_source stop_;
  std::optional<std::string> org_key_ = "sk-org";
  std::optional<std::string> org_base_url_;  // the secret llm_base_url; run() names its server
  std::mutex mu_;
  std::vector<Progress> progress_;
  std::function<void()> on_progress_;
};

TEST_F(OpenAiExecutorTest, StreamsTokensAsProgressAndReturnsTheCompletion) {
  FakeHttpServer server(stream_hello);
  auto out = run(&server);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ((*out)["content"], "Hello there!");
  EXPECT_EQ((*out)["model"], "gpt-test-1");
  EXPECT_EQ((*out)["finish_reason"], "stop");
  ASSERT_EQ(progress_.size(), 3u);
  EXPECT_EQ(progress_[0].step, 1);
  EXPECT_EQ(progress_[2].step, 3);
  EXPECT_FALSE(progress_[0].of);
  EXPECT_EQ(progress_[1].text, "lo ");

  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/v1/chat/completions");
  EXPECT_EQ(requests[0].headers["authorization"], "Bearer sk-org");
  EXPECT_EQ(requests[0].headers["content-type"], "application/json");
  auto sent = body(requests[0]);
  EXPECT_EQ(sent["model"], "gpt-test");
  EXPECT_EQ(sent["stream"], true);
  EXPECT_EQ(sent["messages"], nlohmann::json::parse(R"([
      {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}])"));
}

TEST_F(OpenAiExecutorTest, TakesTheInputAsPromptMessagesOrJson) {
  FakeHttpServer server(stream_hello);
  agent_.instructions.clear();
  agent_.config["temperature"] = 0.2;
  agent_.config["max_tokens"] = 64;
  ASSERT_TRUE(run(&server, {{"prompt", "Hi"}}));
  ASSERT_TRUE(run(&server, {{"messages",
                             {{{"role", "user"}, {"content", "A"}},
                              {{"role", "assistant"}, {"content", "B"}}}}}));
  ASSERT_TRUE(run(&server, {{"city", "Oslo"}}));
  auto r = server.requests();
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(body(r[0])["messages"], nlohmann::json::parse(R"([{"role":"user","content":"Hi"}])"));
  EXPECT_EQ(body(r[0])["temperature"], 0.2);
  EXPECT_EQ(body(r[0])["max_tokens"], 64);
  EXPECT_EQ(body(r[1])["messages"].size(), 2u);
  EXPECT_EQ(body(r[1])["messages"][1]["role"], "assistant");
  EXPECT_EQ(body(r[2])["messages"][0]["content"], R"({"city":"Oslo"})");
}

TEST_F(OpenAiExecutorTest, AcceptsAnAnswerThatIsNotStreamed) {
  FakeHttpServer server([](const FakeRequest&, FakeExchange& x) {
    x.respond(200, "application/json", R"({"model":"m2","choices":[{"index":0,
      "message":{"role":"assistant","content":"Whole answer"},"finish_reason":"length"}],
      "usage":{"total_tokens":7}})");
  });
  auto out = run(&server);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ((*out)["content"], "Whole answer");
  EXPECT_EQ((*out)["finish_reason"], "length");
  EXPECT_EQ((*out)["usage"]["total_tokens"], 7);
}

TEST_F(OpenAiExecutorTest, Retries429And5xxThenSucceeds) {
  std::atomic<int> calls{0};
  FakeHttpServer server([&](const FakeRequest& r, FakeExchange& x) {
    const int n = ++calls;
    if (n == 1) {
      x.respond(429, "application/json", R"({"error":{"message":"slow down"}})",
                {{"Retry-After", "0"}});
    } else if (n == 2) {
      x.respond(503, "text/plain", "overloaded");
    } else {
      stream_hello(r, x);
    }
  });
  auto out = run(&server);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ((*out)["content"], "Hello there!");
  EXPECT_EQ(calls.load(), 3);
}

TEST_F(OpenAiExecutorTest, PersistentServerErrorsEndRetryableWithTheLastError) {
  FakeHttpServer server([](const FakeRequest&, FakeExchange& x) {
    x.respond(500, "application/json", R"({"error":{"message":"model crashed"}})");
  });
  auto out = run(&server);
  ASSERT_FALSE(out);
  EXPECT_TRUE(out.error().retryable);
  EXPECT_NE(out.error().message.find("500"), std::string::npos);
  EXPECT_NE(out.error().message.find("model crashed"), std::string::npos);
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST_F(OpenAiExecutorTest, ClientErrorsFailAtOnceWithTheServersMessage) {
  FakeHttpServer server([](const FakeRequest&, FakeExchange& x) {
    x.respond(401, "application/json", R"({"error":{"message":"Invalid API key provided"}})");
  });
  auto out = run(&server);
  ASSERT_FALSE(out);
  EXPECT_FALSE(out.error().retryable);
  EXPECT_NE(out.error().message.find("401"), std::string::npos);
  EXPECT_NE(out.error().message.find("Invalid API key provided"), std::string::npos);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_F(OpenAiExecutorTest, ALongErrorBodyIsCutShort) {
  FakeHttpServer server([](const FakeRequest&, FakeExchange& x) {
    x.respond(400, "text/html", "<html>" + std::string(100000, 'x') + "</html>");
  });
  auto out = run(&server);
  ASSERT_FALSE(out);
  EXPECT_LT(out.error().message.size(), 400u);
}

TEST_F(OpenAiExecutorTest, ASilentServerTimesOut) {
  options_.timeout = 300ms;
  options_.attempts = 1;
  FakeHttpServer server([](const FakeRequest&, FakeExchange& x) { x.wait_for_close(60s); });
  auto out = run(&server);
  ASSERT_FALSE(out);
  EXPECT_TRUE(out.error().retryable);
  EXPECT_NE(out.error().message.find("in time"), std::string::npos) << out.error().message;
}

TEST_F(OpenAiExecutorTest, AStreamThatStallsTimesOut) {
  options_.idle_timeout = 200ms;
  options_.attempts = 1;
  FakeHttpServer server([](const FakeRequest&, FakeExchange& x) {
    x.start_events();
    x.event(delta("first"));
    x.wait_for_close(60s);
  });
  auto out = run(&server);  // the overall timeout is 300 s
  ASSERT_FALSE(out);
  EXPECT_TRUE(out.error().retryable);
  EXPECT_NE(out.error().message.find("stopped sending"), std::string::npos);
  EXPECT_EQ(progress_.size(), 1u);
}

TEST_F(OpenAiExecutorTest, AStreamThatEndsEarlyIsRetryable) {
  options_.attempts = 1;
  FakeHttpServer server([](const FakeRequest&, FakeExchange& x) {
    x.start_events();
    x.event(delta("cut"));
  });
  auto out = run(&server);
  ASSERT_FALSE(out);
  EXPECT_TRUE(out.error().retryable);
  EXPECT_NE(out.error().message.find("ended early"), std::string::npos);
}

TEST_F(OpenAiExecutorTest, StopsWhenAskedMidStream) {
  FakeHttpServer server([](const FakeRequest&, FakeExchange& x) {
    x.start_events();
    x.event(delta("one"));
    x.wait_for_close(60s);
  });
  on_progress_ = [this] { stop_.request_stop(); };
  auto out = run(&server);  // would wait for the 300 s timeout if the stop were not seen
  ASSERT_FALSE(out);
  EXPECT_FALSE(out.error().retryable);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_F(OpenAiExecutorTest, AnUnreachableServerIsRetryable) {
  options_.attempts = 2;
  std::string url;
  {
    FakeHttpServer gone(stream_hello);
    url = gone.url();
  }
  agent_.config["base_url"] = url + "/v1";
  org_base_url_ = url + "/v1";
  auto out = run(nullptr);
  ASSERT_FALSE(out);
  EXPECT_TRUE(out.error().retryable);
  EXPECT_NE(out.error().message.find("cannot reach"), std::string::npos) << out.error().message;
}

TEST_F(OpenAiExecutorTest, PrivateDestinationsAreRefusedUnlessAllowed) {
  options_.allow_private_networks = false;
  FakeHttpServer server(stream_hello);
  auto out = run(&server);
  ASSERT_FALSE(out);
  EXPECT_FALSE(out.error().retryable);
  EXPECT_NE(out.error().message.find("private network"), std::string::npos);
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(OpenAiExecutorTest, ThePlatformKeyGoesOnlyToTheDefaultBaseUrl) {
  FakeHttpServer server(stream_hello);
  org_key_.reset();
  options_.platform_key = "sk-platform";
  auto refused = run(&server);  // the agent names its own base_url
  ASSERT_FALSE(refused);
  EXPECT_FALSE(refused.error().retryable);
  EXPECT_NE(refused.error().message.find("llm_api_key"), std::string::npos);
  EXPECT_TRUE(server.requests().empty());

  options_.default_base_url = server.url() + "/v1";
  agent_.config.erase("base_url");
  auto out = run(nullptr);
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].headers["authorization"], "Bearer sk-platform");
}

TEST_F(OpenAiExecutorTest, TheOrganizationsKeyGoesOnlyWhereOrgManageAllowed) {
  // An agent author points base_url at their own server: the org's key must not reach it unless
  // the organization secret llm_base_url (set by org:manage) names that endpoint.
  FakeHttpServer attacker(stream_hello);
  FakeHttpServer allowed(stream_hello);
  agent_.config["base_url"] = attacker.url() + "/v1";
  for (std::optional<std::string> secret :
       {std::optional<std::string>{}, std::optional<std::string>{allowed.url() + "/v1"}}) {
    Execution ex{task_, agent_, stop_.get_token(), [](const Progress&) {},
                 [&](std::string_view name) -> Result<std::optional<std::string>> {
                   return name == "llm_api_key" ? org_key_ : secret;
                 }};
    task_.input = "Say hello";
    auto out = OpenAiExecutor(options_).run(ex);
    ASSERT_FALSE(out);
    EXPECT_FALSE(out.error().retryable);
    EXPECT_NE(out.error().message.find("llm_base_url"), std::string::npos);
  }
  EXPECT_TRUE(attacker.requests().empty());

  auto out = run(&allowed);  // llm_base_url names this server
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_EQ(allowed.requests().size(), 1u);
  EXPECT_EQ(allowed.requests()[0].headers["authorization"], "Bearer sk-org");
}

TEST_F(OpenAiExecutorTest, WithoutAnyKeyTheTaskFailsSayingWhy) {
  org_key_.reset();
  FakeHttpServer server(stream_hello);
  auto out = run(&server);
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message.find("llm_api_key"), std::string::npos);
}

TEST_F(OpenAiExecutorTest, ValidatesPromptAndMessages) {
  OpenAiExecutor e(options_);
  EXPECT_TRUE(e.validate("text"));
  EXPECT_TRUE(e.validate({{"prompt", "x"}}));
  EXPECT_TRUE(e.validate({{"anything", 1}}));
  EXPECT_FALSE(e.validate({{"prompt", 3}}));
  EXPECT_FALSE(e.validate({{"messages", "hi"}}));
  EXPECT_FALSE(e.validate({{"messages", {{{"role", "robot"}, {"content", "x"}}}}}));
  EXPECT_FALSE(e.validate({{"messages", nlohmann::json::array()}}));
}

}  // namespace
}  // namespace atrium::tasks
