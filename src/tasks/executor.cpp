#include "tasks/executor.hpp"

namespace atrium::tasks {

Result<void> Executor::validate(const nlohmann::json&) const { return {}; }

std::vector<FieldError> Executor::validate_config(const nlohmann::json& config) const {
  std::vector<FieldError> out;
  for (const auto& [key, value] : config.items())
    out.push_back({"config." + key.substr(0, 100), "is not a setting of this executor"});
  return out;
}

void Executors::add(std::string name, std::unique_ptr<Executor> executor) {
  by_name_[std::move(name)] = std::move(executor);
}

std::vector<std::string> Executors::names() const {
  std::vector<std::string> out;
  for (const auto& [name, executor] : by_name_) out.push_back(name);
  return out;
}

Result<void> Executors::validate_for_all(const nlohmann::json& input) const {
  for (const auto& [name, executor] : by_name_) {
    if (auto valid = executor->validate(input); !valid) return valid;
  }
  return {};
}

Executor* Executors::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second.get();
}

}  // namespace atrium::tasks
