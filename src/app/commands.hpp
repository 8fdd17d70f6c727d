// The atrium subcommands. Each returns the process exit code.
#pragma once

#include <optional>
#include <string>

#include "platform/config.hpp"

namespace atrium::app {

int serve(Config config);  // migrate, seed, then serve HTTP until SIGTERM/SIGINT
// Distributed mode: runs tasks from the shared queue until SIGTERM/SIGINT, then gives running
// ones back; serves only /healthz, /readyz and /metrics. Needs ATRIUM_BROKER_URL=amqp://….
int worker(Config config);
int migrate(const Config& config);
int seed(const Config& config);
// atrium routes: prints the route table serve() answers with (no database, no server).
int print_routes(const Config& config, bool json);

// atrium token mint: prints an access token (or with `json`, the whole token bundle) for the user
// with `email` in organization `org` (default: their first). The seed's createEnrichedToken.
int mint_token(Config config, const std::string& email, const std::optional<std::string>& org,
               bool json);
// atrium admin create-superadmin: creates or promotes a global SUPER_ADMIN. The password comes
// from ATRIUM_ADMIN_PASSWORD, else the first line of standard input (never from a flag).
int create_superadmin(Config config, const std::string& email);

}  // namespace atrium::app
