#include "tasks/echo_executor.hpp"

#include <condition_variable>
#include <mutex>

namespace atrium::tasks {
namespace {

struct Options {
  int steps = 0;
  int step_delay_ms = 0;
  bool fail = false;
};

// The echo options of an input; field errors name what is wrong. Inputs that are not objects
// carry no options and are echoed as they are.
Result<Options> read_options(const nlohmann::json& input) {
  Options o;
  if (!input.is_object()) return o;
  std::vector<FieldError> errors;
  auto integer = [&](const char* name, int max, int& out) {
    auto it = input.find(name);
    if (it == input.end() || it->is_null()) return;
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0 || it->get<std::int64_t>() > max) {
      errors.push_back(
          {std::string("input.") + name, "must be an integer from 0 to " + std::to_string(max)});
      return;
    }
    out = it->get<int>();
  };
  integer("steps", EchoExecutor::kMaxSteps, o.steps);
  integer("step_delay_ms", EchoExecutor::kMaxStepDelayMs, o.step_delay_ms);
  if (auto it = input.find("fail"); it != input.end() && !it->is_null()) {
    if (!it->is_boolean()) {
      errors.push_back({"input.fail", "must be true or false"});
    } else {
      o.fail = it->get<bool>();
    }
  }
  if (!errors.empty()) {
    std::string detail = errors.front().field + ": " + errors.front().message;
    return fail(Error::invalid(std::move(detail), std::move(errors)));
  }
  return o;
}

}  // namespace

Result<void> EchoExecutor::validate(const nlohmann::json& input) const {
  auto o = read_options(input);
  if (!o) return fail(o.error());
  return {};
}

Outcome EchoExecutor::run(Execution& ex) {
  auto options = read_options(ex.task.input);
  if (!options) return tl::unexpected(ExecutionError{options.error().detail, false});

  std::mutex mu;
  std::condition_variable_any cv;
  for (int step = 1; step <= options->steps; ++step) {
    if (options->step_delay_ms > 0) {
      std::unique_lock lock(mu);
      cv.wait_for(lock, ex.stop, std::chrono::milliseconds(options->step_delay_ms),
                  [] { return false; });
    }
    if (ex.stop.stop_requested()) return tl::unexpected(ExecutionError{"stopped", false});
    ex.report(Progress{step, options->steps, std::nullopt});
  }
  if (options->fail) {
    return tl::unexpected(ExecutionError{"echo failed as asked (input.fail = true)", false});
  }
  return nlohmann::json{{"echo", ex.task.input}};
}

}  // namespace atrium::tasks
