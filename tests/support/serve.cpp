#include "support/serve.hpp"

#include <stdexcept>

namespace atrium::testing {

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
