// Real `atrium serve` and `atrium worker` processes for integration tests: started on a free
// port, waited for until they serve, their JSON logs read back.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace atrium::testing {

// A log line as a JSON object; nullopt for anything else.
std::optional<nlohmann::json> json_line(const std::string& line);

// A started `atrium serve` or `atrium worker` and the port it serves on.
struct Started {
  std::unique_ptr<Process> process;
  std::uint16_t port = 0;
};

// Starts `binary serve|worker --listen 127.0.0.1:0` with `env` added to the environment and
// waits for the line it logs once it serves ("listening" / "worker ready"); throws with its
// output when that does not come within 60 s.
Started start_serve(const std::string& binary, const std::map<std::string, std::string>& env);
Started start_worker(const std::string& binary, const std::map<std::string, std::string>& env);

// How many times each task logged its "succeeded" transition, over the outputs of processes.
std::map<std::string, int> logged_successes(const std::vector<std::string>& outputs);

// A request with an optional bearer token and JSON body, on a fresh connection.
HttpResponse call(std::uint16_t port, const std::string& method, const std::string& path,
                  const std::string& token = {}, const nlohmann::json& body = nullptr);

// The environment variable's value; "" when unset.
std::string env_or_empty(const char* name);

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
