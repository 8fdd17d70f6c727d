// The agents routes (API.md, Agents), tenant-scoped by the caller's organization:
//   GET    /api/agents        agents:read     ?limit&cursor → {items, next_cursor}, newest first
//   POST   /api/agents        agents:create   {name, description?, executor, model?,
//                                             instructions?, config?} → 201 agent
//   GET    /api/agents/{id}   agents:read     → agent
//   PATCH  /api/agents/{id}   agents:manage   any of the create fields → agent
//   DELETE /api/agents/{id}   agents:manage   → 204 (its tasks go with it)
// Another tenant's agent is 404 like a missing one, checked before the body's own rules.
#pragma once

#include "agents/service.hpp"
#include "http/router.hpp"

namespace atrium::agents {

inline constexpr std::size_t kMaxName = 100;
inline constexpr std::size_t kMaxDescription = 2000;
inline constexpr std::size_t kMaxModel = 200;
inline constexpr std::size_t kMaxInstructions = 32 * 1024;
inline constexpr std::size_t kMaxConfigBytes = 16 * 1024;

void add_routes(http::Router& router, AgentService& service);

}  // namespace atrium::agents
