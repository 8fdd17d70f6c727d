// The tasks routes (API.md, Tasks), tenant-scoped by the caller's organization:
//   POST /api/agents/{id}/tasks  tasks:create  {input, idempotency_key?} → 202 task
//   GET  /api/tasks              tasks:read    ?limit&cursor&agent_id&status → {items, next_cursor}
//   GET  /api/tasks/{id}         tasks:read    → task
//   POST /api/tasks/{id}/cancel  tasks:cancel  → task; a finished task → 409
#pragma once

#include "http/router.hpp"
#include "tasks/service.hpp"

namespace atrium::tasks {

// The largest task input, serialized (the request body limit applies too).
inline constexpr std::size_t kMaxInputBytes = 64 * 1024;

void add_routes(http::Router& router, TaskService& service);

}  // namespace atrium::tasks
