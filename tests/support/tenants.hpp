// Organizations and agents written straight into a test database, for tests of modules that
// read them (tasks, realtime) without going through the API.
#pragma once

#include <string>
#include <vector>

#include "db/database.hpp"
#include "platform/principal.hpp"

namespace atrium::testing {

// Inserts an organization; returns its id.
std::string add_organization(db::Database& db, const std::string& name);

// Inserts an agent of `org`; returns its id.
std::string add_agent(db::Database& db, const std::string& org, const std::string& executor,
                      const std::string& config_json = "{}", const std::string& model = "",
                      const std::string& instructions = "");

// A user principal of `org` holding `permissions`.
Principal member_of(const std::string& org, std::vector<std::string> permissions = {"*"});

}  // namespace atrium::testing
