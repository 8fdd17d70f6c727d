#include "realtime/tickets.hpp"

#include <nlohmann/json.hpp>

#include "platform/ids.hpp"

namespace atrium::realtime {

namespace {

constexpr std::size_t kTicketBytes = 32;
constexpr std::size_t kMaxTicketLength = 128;

nlohmann::json to_json(const Principal& p) {
  nlohmann::json j = {{"kind", p.kind == Principal::Kind::kApiKey ? "api_key" : "user"},
                      {"user_id", p.user_id},
                      {"api_key_id", p.api_key_id},
                      {"email", p.email},
                      {"org_id", p.org_id ? nlohmann::json(*p.org_id) : nlohmann::json()},
                      {"permissions", p.permissions},
                      {"session_id", p.session_id}};
  if (p.expires_at) j["expires_at"] = format_time(*p.expires_at);
  return j;
}

std::optional<Principal> from_json(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  try {
    Principal p;
    p.kind = j.at("kind") == "api_key" ? Principal::Kind::kApiKey : Principal::Kind::kUser;
    p.user_id = j.at("user_id").get<std::string>();
    p.api_key_id = j.at("api_key_id").get<std::string>();
    p.email = j.at("email").get<std::string>();
    if (j.at("org_id").is_string()) p.org_id = j.at("org_id").get<std::string>();
    p.permissions = j.at("permissions").get<std::vector<std::string>>();
    p.session_id = j.at("session_id").get<std::string>();
    if (j.contains("expires_at")) p.expires_at = parse_time(j.at("expires_at").get<std::string>());
    return p;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

}  // namespace

Tickets::Tickets(db::Database& db, const Clock& clock, std::chrono::seconds ttl)
    : db_(db), clock_(clock), ttl_(ttl) {}

Result<std::string> Tickets::issue(const Principal& principal) {
  const std::string ticket = random_token(kTicketBytes);
  const TimePoint now = clock_.now();
  auto r = db_.transact({}, [&](db::Tx& tx) -> Result<void> {
    auto swept =
        tx.execute("DELETE FROM realtime_tickets WHERE expires_at < $1", {format_time(now)});
    if (!swept) return fail(swept.error());
    auto ins = tx.execute(
        "INSERT INTO realtime_tickets (id, token_hash, principal, created_at, expires_at)"
        " VALUES ($1, $2, $3, $4, $5)",
        {new_id(), hash_token(ticket), to_json(principal).dump(), format_time(now),
         format_time(now + ttl_)});
    if (!ins) return fail(ins.error());
    return {};
  });
  if (!r) return fail(r.error());
  return ticket;
}

Result<Principal> Tickets::redeem(std::string_view ticket) {
  if (ticket.empty() || ticket.size() > kMaxTicketLength)
    return fail(Error::unauthenticated("invalid ticket"));
  const std::string now = format_time(clock_.now());
  auto row = db_.transact({}, [&](db::Tx& tx) {
    // One conditional update: of two concurrent redemptions (any replicas) only one matches.
    return tx.query_one(
        "UPDATE realtime_tickets SET used_at = $1"
        " WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING principal",
        {now, hash_token(ticket)});
  });
  if (!row) return fail(row.error());
  if (!*row) return fail(Error::unauthenticated("invalid, used or expired ticket"));
  auto principal = from_json((*row)->text(0));
  if (!principal) return fail(Error::unauthenticated("invalid ticket"));
  return *principal;
}

}  // namespace atrium::realtime
