#include "support/services.hpp"

#include <sstream>
#include <stdexcept>

#include "support/process.hpp"

namespace atrium::testing {
namespace {

const std::string kScript = std::string(ATRIUM_SOURCE_DIR) + "/scripts/test-services";

}  // namespace

PrivateServices::PrivateServices(const std::vector<std::string>& services,
                                 std::map<std::string, std::string> extra_env) {
  std::vector<std::string> argv{kScript, "start"};
  argv.insert(argv.end(), services.begin(), services.end());
  // A fresh start knows no state directory: never act on the shared servers'.
  extra_env["ATRIUM_TEST_SERVICES_DIR"] = "";
  auto r = testing::run(argv, extra_env, std::chrono::minutes(3));
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("export ")) continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    exports_[line.substr(7, eq - 7)] = line.substr(eq + 1);
  }
  if (r.exit_code != 0 || env("ATRIUM_TEST_SERVICES_DIR").empty()) {
    if (!env("ATRIUM_TEST_SERVICES_DIR").empty()) run({"stop"});
    throw std::runtime_error("scripts/test-services start failed: " + r.output);
  }
}

PrivateServices::~PrivateServices() {
  try {
    run({"stop"});
  } catch (const std::exception&) {
    // The next `start` cleans up a directory whose owner has gone.
  }
}

std::string PrivateServices::env(const std::string& name) const {
  auto it = exports_.find(name);
  return it == exports_.end() ? std::string() : it->second;
}

void PrivateServices::pause(const std::string& service) { run({"pause", service}); }
void PrivateServices::resume(const std::string& service) { run({"resume", service}); }

void PrivateServices::run(const std::vector<std::string>& args) {
  std::vector<std::string> argv{kScript};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = testing::run(argv, {{"ATRIUM_TEST_SERVICES_DIR", env("ATRIUM_TEST_SERVICES_DIR")}},
                        std::chrono::minutes(1));
  if (r.exit_code != 0) {
    throw std::runtime_error("scripts/test-services " + args.front() + " failed: " + r.output);
  }
}

}  // namespace atrium::testing
