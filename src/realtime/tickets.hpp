// Single-use WebSocket tickets (POST /api/realtime/ticket → GET /ws?ticket=…): a browser cannot
// set an Authorization header on a WebSocket, and a long-lived credential must never go in a URL,
// so it trades its access token for a short-lived, single-use ticket.
//
// Tickets live in the database (stored hashed), so one issued through replica A is good at
// replica B, and "single use" holds across replicas: redeeming is one conditional UPDATE.
// Thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "db/database.hpp"
#include "platform/clock.hpp"
#include "platform/principal.hpp"

namespace atrium::realtime {

class Tickets {
 public:
  Tickets(db::Database& db, const Clock& clock,
          std::chrono::seconds ttl = std::chrono::seconds(30));

  // A new ticket standing for `principal` (shown once). Expired tickets are swept here.
  Result<std::string> issue(const Principal& principal);

  // The principal, once; Code::kUnauthenticated for an unknown, used or expired ticket.
  Result<Principal> redeem(std::string_view ticket);

  std::chrono::seconds ttl() const { return ttl_; }

 private:
  db::Database& db_;
  const Clock& clock_;
  const std::chrono::seconds ttl_;
};

}  // namespace atrium::realtime
