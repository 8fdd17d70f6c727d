#include "tasks/executor.hpp"

namespace atrium::tasks {

Result<void> Executor::validate(const nlohmann::json&) const { return {}; }

void Executors::add(std::string name, std::unique_ptr<Executor> executor) {
  by_name_[std::move(name)] = std::move(executor);
}

Executor* Executors::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second.get();
}

}  // namespace atrium::tasks
