#include "realtime/routes.hpp"

#include <algorithm>

namespace atrium::realtime {

namespace {

constexpr std::string_view kProtocol = "atrium.v1";
constexpr std::string_view kBearerPrefix = "bearer.";

std::vector<std::string_view> offered_protocols(const http::Request& req) {
  std::vector<std::string_view> out;
  auto header = req.headers.get("Sec-WebSocket-Protocol");
  if (!header) return out;
  std::string_view rest = *header;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto item = rest.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

Result<Principal> authenticate(http::Request& req, const RealtimeRoutes& deps) {
  if (req.principal) return *req.principal;  // a valid Authorization header
  if (req.headers.has("Authorization")) return fail(Error::unauthenticated("invalid credentials"));
  for (auto p : offered_protocols(req)) {
    if (p.starts_with(kBearerPrefix))
      return deps.authenticate_token(p.substr(kBearerPrefix.size()));
  }
  if (auto ticket = req.query_param("ticket"); ticket && !ticket->empty())
    return deps.tickets->redeem(*ticket);
  return fail(
      Error::unauthenticated("a bearer token, the bearer subprotocol or a ticket is required"));
}

}  // namespace

bool origin_allowed(const http::Request& req, const std::vector<std::string>& allowed) {
  auto origin = req.headers.get("Origin");
  if (!origin) return true;
  if (std::find(allowed.begin(), allowed.end(), *origin) != allowed.end()) return true;
  auto host = req.headers.get("Host");
  if (!host) return false;
  for (std::string_view scheme : {"http://", "https://"}) {
    if (origin->size() == scheme.size() + host->size() && origin->starts_with(scheme) &&
        origin->substr(scheme.size()) == *host)
      return true;
  }
  return false;
}

void add_routes(http::Router& router, RealtimeRoutes deps) {
  router.add({http::Method::kPost, "/api/realtime/ticket", http::Access::authenticated(),
              [deps](http::Request& req) -> Result<http::Response> {
                auto ticket = deps.tickets->issue(*req.principal);
                if (!ticket) return fail(ticket.error());
                return http::Response::json(
                    200, {{"ticket", *ticket}, {"expires_in", deps.tickets->ttl().count()}});
              },
              http::Execution::kBlocking});

  // Public in the table, authenticated by the handler (see routes.hpp).
  auto session_deps = std::make_shared<const SessionDeps>(deps.session);
  router.add(
      {http::Method::kGet, "/ws", http::Access::anyone(),
       [deps, session_deps](http::Request& req) -> Result<http::Response> {
         if (!origin_allowed(req, deps.allowed_origins))
           return fail(Error{Code::kPermissionDenied, "origin not allowed", {}, 0});
         auto principal = authenticate(req, deps);
         if (!principal) return fail(principal.error());
         if (!principal->org_id)
           return fail(Error{Code::kPermissionDenied, "a WebSocket needs an organization", {}, 0});
         req.principal = std::make_shared<const Principal>(*principal);  // for the access log

         auto session = std::make_shared<Session>(*principal, session_deps);
         if (!session_deps->hub->admit(*principal->org_id, session.get()))
           return fail(
               Error{Code::kRateLimited, "too many connections for this organization", {}, 5});

         http::Response res;
         res.status = 101;
         auto offered = offered_protocols(req);
         if (std::find(offered.begin(), offered.end(), kProtocol) != offered.end())
           res.headers.set("Sec-WebSocket-Protocol", std::string(kProtocol));
         res.websocket = std::move(session);
         return res;
       },
       http::Execution::kBlocking});
}

}  // namespace atrium::realtime
