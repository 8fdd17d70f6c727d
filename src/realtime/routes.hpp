// GET /ws (the WebSocket) and POST /api/realtime/ticket.
//
// GET /ws is declared public in the route table because a browser cannot send an Authorization
// header on a WebSocket: the handler authenticates itself, before any upgrade, from exactly one
// of: the Authorization header (verified by the pipeline), the subprotocols
// `atrium.v1, bearer.<token>` (answered with `atrium.v1` only), or `?ticket=`. A token in the
// query string is never looked at. No valid credential → 401; a browser Origin outside the
// allow-list → 403; a principal without an organization → 403; the organization at its
// connection cap → 429. Nothing is upgraded unless all of that passes.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "http/router.hpp"
#include "realtime/session.hpp"
#include "realtime/tickets.hpp"

namespace atrium::realtime {

struct RealtimeRoutes {
  Tickets* tickets = nullptr;
  SessionDeps session;  // hub, task lookup, blocking runner, revocation check
  // Verifies an access token (the `bearer.<token>` subprotocol).
  std::function<Result<Principal>(std::string_view token)> authenticate_token;
  std::vector<std::string> allowed_origins;  // beyond the server's own origin
};

void add_routes(http::Router& router, RealtimeRoutes deps);

// True when a browser's Origin may open the WebSocket: the request's own origin (same Host), or
// one configured. Requests without Origin (non-browser clients) are allowed.
bool origin_allowed(const http::Request& req, const std::vector<std::string>& allowed);

}  // namespace atrium::realtime
