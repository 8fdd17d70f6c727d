#include "tasks/echo_executor.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace atrium::tasks {
namespace {

using namespace std::chrono_literals;

struct EchoRun {
  Task task;
  Agent agent;
  std::vector<Progress> progress;
  std::stop_source stop;

  explicit EchoRun(nlohmann::json input) { task.input = std::move(input); }

  Outcome go() {
    Execution ex{
        task, agent, stop.get_token(), [this](const Progress& p) { progress.push_back(p); },
        [](std::string_view) -> Result<std::optional<std::string>> { return std::nullopt; }};
    return EchoExecutor().run(ex);
  }
};

TEST(EchoExecutor, EchoesTheInput) {
  for (const auto& input : {nlohmann::json::object(), nlohmann::json({{"text", "hi"}}),
                            nlohmann::json::array({1, 2}), nlohmann::json("plain")}) {
    EchoRun run(input);
    auto out = run.go();
    ASSERT_TRUE(out);
    EXPECT_EQ(*out, nlohmann::json({{"echo", input}}));
    EXPECT_TRUE(run.progress.empty());
  }
}

TEST(EchoExecutor, ReportsEachStepOfN) {
  EchoRun run(nlohmann::json{{"steps", 4}});
  auto out = run.go();
  ASSERT_TRUE(out);
  EXPECT_EQ((*out)["echo"]["steps"], 4);
  ASSERT_EQ(run.progress.size(), 4u);
  for (int k = 1; k <= 4; ++k) {
    EXPECT_EQ(run.progress[k - 1].step, k);
    EXPECT_EQ(run.progress[k - 1].of, 4);
  }
}

TEST(EchoExecutor, FailsWhenAsked) {
  EchoRun run(nlohmann::json{{"fail", true}, {"steps", 2}});
  auto out = run.go();
  ASSERT_FALSE(out);
  EXPECT_FALSE(out.error().message.empty());
  EXPECT_FALSE(out.error().retryable);
  EXPECT_EQ(run.progress.size(), 2u);
  EXPECT_TRUE(EchoRun(nlohmann::json{{"fail", false}}).go());
}

TEST(EchoExecutor, ValidatesItsOptions) {
  EchoExecutor echo;
  EXPECT_TRUE(echo.validate({{"steps", 20}, {"fail", false}, {"step_delay_ms", 10}}));
  EXPECT_TRUE(echo.validate(nlohmann::json::array()));
  for (const auto& bad :
       {nlohmann::json({{"steps", 21}}), nlohmann::json({{"steps", -1}}),
        nlohmann::json({{"steps", 2.5}}), nlohmann::json({{"steps", "3"}}),
        nlohmann::json({{"fail", "yes"}}), nlohmann::json({{"step_delay_ms", 10001}})}) {
    auto r = echo.validate(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Code::kInvalidRequest);
    ASSERT_EQ(r.error().fields.size(), 1u);
    EXPECT_TRUE(r.error().fields[0].field.starts_with("input.")) << r.error().fields[0].field;
  }
}

TEST(EchoExecutor, StopsPromptlyWhileWaitingBetweenSteps) {
  EchoRun run(nlohmann::json{{"steps", 20}, {"step_delay_ms", 10000}});
  std::thread stopper([&] { run.stop.request_stop(); });
  auto out = run.go();  // would take 200 s if the stop were not seen
  stopper.join();
  ASSERT_FALSE(out);
  EXPECT_LT(run.progress.size(), 20u);
}

}  // namespace
}  // namespace atrium::tasks
