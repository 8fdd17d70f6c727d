// The built-in `echo` executor (API.md): output {"echo": <input>}; with input.steps = n (0–20)
// it reports n progress updates (step 1…n of n) before finishing; with input.fail = true it fails
// with an error message. input.step_delay_ms (0–10000, default 0) waits that long before each
// step — an addition for demos and tests that need a task to stay running for a while.
#pragma once

#include "tasks/executor.hpp"

namespace atrium::tasks {

class EchoExecutor final : public Executor {
 public:
  static constexpr int kMaxSteps = 20;
  static constexpr int kMaxStepDelayMs = 10000;

  Result<void> validate(const nlohmann::json& input) const override;
  Outcome run(Execution& execution) override;
};

}  // namespace atrium::tasks
