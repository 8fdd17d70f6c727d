#include "support/serve.hpp"

#include <cstdlib>
#include <stdexcept>

namespace atrium::testing {
namespace {

Started start(const std::string& binary, const std::string& command, const std::string& ready,
              const std::map<std::string, std::string>& env) {
  Started s;
  s.process = std::make_unique<Process>(
      std::vector<std::string>{binary, command, "--listen", "127.0.0.1:0"}, env);
  auto line = s.process->wait_for_line(
      [&](const std::string& l) {
        auto j = json_line(l);
        return j && (*j)["msg"] == ready;
      },
      std::chrono::seconds(60));
  if (!line) throw std::runtime_error(ready + " never logged: " + s.process->output());
  s.port = (*json_line(*line))["port"].get<std::uint16_t>();
  return s;
}

}  // namespace

std::optional<nlohmann::json> json_line(const std::string& line) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

Started start_serve(const std::string& binary, const std::map<std::string, std::string>& env) {
  return start(binary, "serve", "listening", env);
}

Started start_worker(const std::string& binary, const std::map<std::string, std::string>& env) {
  return start(binary, "worker", "worker ready", env);
}

std::map<std::string, int> logged_successes(const std::vector<std::string>& outputs) {
  std::map<std::string, int> n;
  for (const std::string& out : outputs) {
    std::size_t start = 0;
    for (auto nl = out.find('\n'); nl != std::string::npos;
         start = nl + 1, nl = out.find('\n', start)) {
      auto j = json_line(out.substr(start, nl - start));
      if (j && (*j)["msg"] == "task" && (*j)["status"] == "succeeded")
        ++n[(*j)["task_id"].get<std::string>()];
    }
  }
  return n;
}

HttpResponse call(std::uint16_t port, const std::string& method, const std::string& path,
                  const std::string& token, const nlohmann::json& body) {
  std::map<std::string, std::string> headers;
  if (!token.empty()) headers["Authorization"] = "Bearer " + token;
  if (!body.is_null()) headers["Content-Type"] = "application/json";
  return request(port, method, path, body.is_null() ? "" : body.dump(), headers);
}

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

Serve::Serve(const std::string& binary, std::map<std::string, std::string> env) {
  env.emplace("ATRIUM_DATA_DIR", dir_.path().string());
  env.emplace("ATRIUM_WEB_ROOT", (dir_.path() / "no-web").string());
  process_ = std::make_unique<Process>(
      std::vector<std::string>{binary, "serve", "--listen", "127.0.0.1:0"}, std::move(env));
  auto line = process_->wait_for_line(
      [](const std::string& l) {
        auto j = nlohmann::json::parse(l, nullptr, false);
        return j.is_object() && j.value("msg", "") == "listening";
      },
      std::chrono::seconds(30));
  if (!line) throw std::runtime_error("serve did not start: " + process_->output());
  port_ = nlohmann::json::parse(*line)["port"].get<std::uint16_t>();
}

HttpResponse Serve::get(const std::string& path, const std::string& token) const {
  std::map<std::string, std::string> headers;
  if (!token.empty()) headers["Authorization"] = "Bearer " + token;
  return request(port_, "GET", path, {}, headers);
}

HttpResponse Serve::post(const std::string& path, const nlohmann::json& body,
                         const std::string& token) const {
  std::map<std::string, std::string> headers{{"Content-Type", "application/json"}};
  if (!token.empty()) headers["Authorization"] = "Bearer " + token;
  return request(port_, "POST", path, body.dump(), headers);
}

}  // namespace atrium::testing
