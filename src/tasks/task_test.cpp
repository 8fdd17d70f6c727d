#include "tasks/task.hpp"

#include <gtest/gtest.h>

namespace atrium::tasks {
namespace {

std::string dumped(const Task& t) {
  return to_json(t).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TEST(TaskJson, TextIsTheBytesOfTheObject) {
  Task queued;
  queued.id = "01a21ee9-1ad2-7001-8dbc-f8132fd782db";
  queued.agent_id = "01a21ee9-1a27-7000-aea6-7057fd36a00e";
  queued.input = {{"bench", true}, {"n", 3}, {"list", {1, 2.5, "x"}}};
  queued.created_at = "2026-11-27T21:00:00.000000Z";
  EXPECT_EQ(json_text(queued), dumped(queued));

  Task finished = queued;
  finished.status = Status::kFailed;
  finished.attempts = 3;
  finished.input = {{"z", "caf\u00e9 \U0001F600"}, {"a", nullptr}, {"m", {{"b", 1}, {"a", 2}}}};
  finished.output = {{"text", "line\nbreak \"quoted\" back\\slash \x01"}};
  finished.error = std::string("bad \xff byte\ttab");
  finished.created_by = "user-1";
  finished.started_at = "2026-11-27T21:00:01Z";
  finished.finished_at = "2026-11-27T21:00:02Z";
  EXPECT_EQ(json_text(finished), dumped(finished));
  EXPECT_EQ(nlohmann::json::parse(json_text(finished))["status"], "failed");
}

}  // namespace
}  // namespace atrium::tasks
