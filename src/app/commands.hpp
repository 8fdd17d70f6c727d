// The atrium subcommands. Each returns the process exit code.
#pragma once

#include "platform/config.hpp"

namespace atrium::app {

int serve(Config config);  // migrate, seed, then serve HTTP until SIGTERM/SIGINT
int migrate(const Config& config);
int seed(const Config& config);

}  // namespace atrium::app
