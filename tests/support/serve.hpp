// A real `atrium serve` on a free port with a fresh data directory, for integration tests.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace atrium::testing {

class Serve {
 public:
  // Starts `binary serve --listen 127.0.0.1:0` with ATRIUM_DATA_DIR in a fresh directory plus
  // `env`; waits for the "listening" line (throws after 30 s).
  explicit Serve(const std::string& binary, std::map<std::string, std::string> env = {});

  std::uint16_t port() const { return port_; }
  Process& process() { return *process_; }
  const TempDir& dir() const { return dir_; }

  HttpResponse get(const std::string& path, const std::string& token = {}) const;
  HttpResponse post(const std::string& path, const nlohmann::json& body,
                    const std::string& token = {}) const;

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
  std::uint16_t port_ = 0;
};

}  // namespace atrium::testing
