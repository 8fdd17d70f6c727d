// A private set of throwaway servers from scripts/test-services, for a test that stops and
// starts them: the servers every other test shares must never be restarted under them.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace atrium::testing {

class PrivateServices {
 public:
  // Starts `services` (e.g. {"postgres", "pgbouncer"}), with `extra_env` added to the script's
  // environment (e.g. ATRIUM_TEST_PGBOUNCER_POOL_SIZE); throws with the script's output if they
  // do not start.
  explicit PrivateServices(const std::vector<std::string>& services,
                           std::map<std::string, std::string> extra_env = {});
  ~PrivateServices();  // stops them
  PrivateServices(const PrivateServices&) = delete;
  PrivateServices& operator=(const PrivateServices&) = delete;

  // A variable the script exported, e.g. "ATRIUM_TEST_POSTGRES"; "" when absent.
  std::string env(const std::string& name) const;
  // Stops one service, keeping its data and port / starts it again. Throw on failure.
  void pause(const std::string& service);
  void resume(const std::string& service);

 private:
  void run(const std::vector<std::string>& args);
  std::map<std::string, std::string> exports_;
};

}  // namespace atrium::testing
