#include "http/pipeline.hpp"

namespace atrium::http {

void Pipeline::use(std::string name, Middleware middleware) {
  steps_.emplace_back(std::move(name), std::move(middleware));
}

std::vector<std::string> Pipeline::names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : steps_) out.push_back(name);
  return out;
}

Result<Response> Pipeline::call(std::size_t index, Request& req, const Handler& terminal) const {
  if (index == steps_.size()) return terminal(req);
  return steps_[index].second(req, Next(this, index + 1, &terminal));
}

}  // namespace atrium::http
