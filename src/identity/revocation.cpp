#include "identity/revocation.hpp"

#include <nlohmann/json.hpp>

#include "platform/ids.hpp"
#include "platform/log.hpp"

namespace atrium::identity {
namespace {

constexpr std::string_view kTopic = "auth.revoke";
// A row may commit a little after its created_at; re-reading this far back catches it.
constexpr std::chrono::seconds kPollOverlap{30};
constexpr int kPurgeEvery = 100;  // polls between deletions of expired rows

std::int64_t to_ms(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

TimePoint from_ms(std::int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

std::optional<Revocation::Kind> parse_kind(std::string_view name) {
  using K = Revocation::Kind;
  for (K k : {K::kSession, K::kMember, K::kUser, K::kOrganization, K::kApiKey})
    if (kind_name(k) == name) return k;
  return std::nullopt;
}

}  // namespace

std::string_view kind_name(Revocation::Kind kind) {
  switch (kind) {
    case Revocation::Kind::kSession:
      return "session";
    case Revocation::Kind::kMember:
      return "member";
    case Revocation::Kind::kUser:
      return "user";
    case Revocation::Kind::kOrganization:
      return "organization";
    case Revocation::Kind::kApiKey:
      return "api_key";
  }
  return "session";
}

std::string Revocation::to_json() const {
  return nlohmann::json{{"id", id},
                        {"kind", kind_name(kind)},
                        {"subject", subject},
                        {"org_id", org_id ? nlohmann::json(*org_id) : nlohmann::json(nullptr)},
                        {"cutoff_ms", cutoff_ms},
                        {"expires_ms", expires_ms}}
      .dump();
}

std::optional<Revocation> Revocation::from_json(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto id = j.find("id");
  auto kind = j.find("kind");
  auto subject = j.find("subject");
  auto org = j.find("org_id");
  auto cutoff = j.find("cutoff_ms");
  auto expires = j.find("expires_ms");
  if (id == j.end() || !id->is_string() || kind == j.end() || !kind->is_string() ||
      subject == j.end() || !subject->is_string() || cutoff == j.end() ||
      !cutoff->is_number_integer() || expires == j.end() || !expires->is_number_integer())
    return std::nullopt;
  auto k = parse_kind(kind->get<std::string>());
  if (!k) return std::nullopt;
  Revocation r;
  r.id = id->get<std::string>();
  r.kind = *k;
  r.subject = subject->get<std::string>();
  if (org != j.end() && org->is_string()) r.org_id = org->get<std::string>();
  if (r.kind == Kind::kMember && !r.org_id) return std::nullopt;
  r.cutoff_ms = cutoff->get<std::int64_t>();
  r.expires_ms = expires->get<std::int64_t>();
  return r;
}

// --- RevocationList --------------------------------------------------------------------------

void RevocationList::raise(std::unordered_map<std::string, Cutoff>& map, const std::string& key,
                           const Revocation& r) {
  auto [it, fresh] = map.try_emplace(key, Cutoff{r.cutoff_ms, r.expires_ms});
  if (!fresh) {
    it->second.cutoff_ms = std::max(it->second.cutoff_ms, r.cutoff_ms);
    it->second.expires_ms = std::max(it->second.expires_ms, r.expires_ms);
  }
}

bool RevocationList::apply(const Revocation& r) {
  {
    std::unique_lock lock(mu_);
    if (!applied_.try_emplace(r.id, r.expires_ms).second) return false;
    switch (r.kind) {
      case Revocation::Kind::kSession:
        raise(sessions_, r.subject, r);
        break;
      case Revocation::Kind::kUser:
        raise(users_, r.subject, r);
        break;
      case Revocation::Kind::kOrganization:
        raise(organizations_, r.subject, r);
        break;
      case Revocation::Kind::kApiKey:
        raise(api_keys_, r.subject, r);
        break;
      case Revocation::Kind::kMember: {
        auto& list = members_[r.subject];
        auto it = std::find_if(list.begin(), list.end(),
                               [&](const MemberCutoff& m) { return m.org_id == *r.org_id; });
        if (it == list.end()) {
          list.push_back({*r.org_id, {r.cutoff_ms, r.expires_ms}});
        } else {
          it->cutoff.cutoff_ms = std::max(it->cutoff.cutoff_ms, r.cutoff_ms);
          it->cutoff.expires_ms = std::max(it->cutoff.expires_ms, r.expires_ms);
        }
        break;
      }
    }
    empty_.store(false, std::memory_order_release);
  }
  std::vector<std::function<void(const Revocation&)>> listeners;
  {
    std::lock_guard lock(listeners_mu_);
    listeners = listeners_;
  }
  for (const auto& l : listeners) l(r);
  return true;
}

bool RevocationList::revoked(const AccessClaims& c) const {
  if (empty_.load(std::memory_order_acquire)) return false;
  const std::int64_t issued = c.issued_ms();
  std::shared_lock lock(mu_);
  if (sessions_.count(c.sid)) return true;
  if (auto it = users_.find(c.sub); it != users_.end() && issued < it->second.cutoff_ms)
    return true;
  if (c.org_id) {
    if (auto it = organizations_.find(*c.org_id);
        it != organizations_.end() && issued < it->second.cutoff_ms)
      return true;
    if (auto it = members_.find(c.sub); it != members_.end()) {
      for (const auto& m : it->second)
        if (m.org_id == *c.org_id && issued < m.cutoff.cutoff_ms) return true;
    }
  }
  return false;
}

bool RevocationList::api_key_revoked(std::string_view key_id) const {
  if (empty_.load(std::memory_order_acquire)) return false;
  std::shared_lock lock(mu_);
  return api_keys_.count(std::string(key_id)) > 0;
}

void RevocationList::prune(std::int64_t now_ms) {
  std::unique_lock lock(mu_);
  auto expired = [&](const auto& entry) { return entry.second.expires_ms <= now_ms; };
  std::erase_if(sessions_, expired);
  std::erase_if(users_, expired);
  std::erase_if(organizations_, expired);
  std::erase_if(api_keys_, expired);
  std::erase_if(applied_, [&](const auto& entry) { return entry.second <= now_ms; });
  for (auto& [user, list] : members_)
    std::erase_if(list, [&](const MemberCutoff& m) { return m.cutoff.expires_ms <= now_ms; });
  std::erase_if(members_, [](const auto& entry) { return entry.second.empty(); });
  empty_.store(sessions_.empty() && users_.empty() && organizations_.empty() && api_keys_.empty() &&
                   members_.empty(),
               std::memory_order_release);
}

std::size_t RevocationList::size() const {
  std::shared_lock lock(mu_);
  std::size_t n = sessions_.size() + users_.size() + organizations_.size() + api_keys_.size();
  for (const auto& [user, list] : members_) n += list.size();
  return n;
}

void RevocationList::on_apply(std::function<void(const Revocation&)> listener) {
  std::lock_guard lock(listeners_mu_);
  listeners_.push_back(std::move(listener));
}

// --- Revocations -----------------------------------------------------------------------------

Revocations::Revocations(db::Database& db, broker::EventBus* bus, const Clock& clock)
    : db_(db), bus_(bus), clock_(clock) {
  if (bus_) {
    subscription_ =
        bus_->subscribe({std::string(kTopic), std::nullopt}, [this](const broker::Event& e) {
          if (auto r = Revocation::from_json(e.payload)) {
            list_.apply(*r);
          } else {
            log::warn("ignored a malformed revocation event", {{"topic", e.topic}});
          }
        });
  }
}

Revocations::~Revocations() { subscription_.reset(); }

namespace {

Revocation make(Revocation::Kind kind, std::string subject, std::optional<std::string> org,
                TimePoint now, std::chrono::seconds lifetime) {
  Revocation r;
  r.id = new_id();
  r.kind = kind;
  r.subject = std::move(subject);
  r.org_id = std::move(org);
  r.cutoff_ms = to_ms(now);
  r.expires_ms = to_ms(now + lifetime);
  return r;
}

// An access token issued just before the cutoff stays valid this long, leeway included.
constexpr std::chrono::seconds kTokenLifetime =
    kAccessTokenTtl + kLeeway + std::chrono::seconds(60);
// API keys are checked against the store once their cache entry is gone; this only needs to
// outlive the cache.
constexpr std::chrono::seconds kApiKeyLifetime{600};

}  // namespace

Revocation Revocations::session(std::string id) const {
  return make(Revocation::Kind::kSession, std::move(id), std::nullopt, clock_.now(),
              kTokenLifetime);
}
Revocation Revocations::member(std::string user, std::string org) const {
  return make(Revocation::Kind::kMember, std::move(user), std::move(org), clock_.now(),
              kTokenLifetime);
}
Revocation Revocations::user(std::string user) const {
  return make(Revocation::Kind::kUser, std::move(user), std::nullopt, clock_.now(), kTokenLifetime);
}
Revocation Revocations::organization(std::string org) const {
  return make(Revocation::Kind::kOrganization, std::move(org), std::nullopt, clock_.now(),
              kTokenLifetime);
}
Revocation Revocations::api_key(std::string id) const {
  return make(Revocation::Kind::kApiKey, std::move(id), std::nullopt, clock_.now(),
              kApiKeyLifetime);
}

Result<void> Revocations::stage(db::Tx& tx, const Revocation& r) {
  auto ok = tx.execute(
      "INSERT INTO token_revocations (id, kind, subject, organization_id, cutoff_at, expires_at,"
      " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
      {r.id, kind_name(r.kind), r.subject, r.org_id, format_time(from_ms(r.cutoff_ms)),
       format_time(from_ms(r.expires_ms)), format_time(clock_.now())});
  if (!ok) return fail(ok.error());
  return {};
}

void Revocations::announce(const Revocation& r) {
  list_.apply(r);
  if (!bus_) return;
  broker::Event event{std::string(kTopic), r.org_id.value_or(""), r.to_json()};
  if (r.kind == Revocation::Kind::kOrganization) event.tenant = r.subject;
  if (auto ok = bus_->publish(std::move(event)); !ok) {
    log::warn("revocation not published; replicas catch up by polling",
              {{"error", ok.error().detail}});
  }
}

Result<void> Revocations::poll() {
  std::lock_guard lock(poll_mu_);
  const TimePoint now = clock_.now();
  // First poll: everything still live. Later: what was written since, with an overlap for
  // rows that committed a little after their created_at; ids already applied are skipped.
  const bool first = !watermark_.has_value();
  auto rows = db_.transact({.read_only = true}, [&](db::Tx& tx) {
    return first ? tx.query(
                       "SELECT id, kind, subject, organization_id, cutoff_at, expires_at"
                       " FROM token_revocations WHERE expires_at > $1",
                       {format_time(now)})
                 : tx.query(
                       "SELECT id, kind, subject, organization_id, cutoff_at, expires_at"
                       " FROM token_revocations WHERE created_at > $1",
                       {format_time(*watermark_ - kPollOverlap)});
  });
  if (!rows) return fail(rows.error());
  for (const auto& row : *rows) {
    auto kind = parse_kind(row.text(1));
    auto cutoff = parse_time(row.text(4));
    auto expires = parse_time(row.text(5));
    if (!kind || !cutoff || !expires) continue;
    Revocation r;
    r.id = row.text(0);
    r.kind = *kind;
    r.subject = row.text(2);
    r.org_id = row.optional_text(3);
    if (r.kind == Revocation::Kind::kMember && !r.org_id) continue;
    r.cutoff_ms = to_ms(*cutoff);
    r.expires_ms = to_ms(*expires);
    if (r.expires_ms > to_ms(now)) list_.apply(r);
  }
  watermark_ = now;
  list_.prune(to_ms(now));

  if (++polls_ % kPurgeEvery == 0) {
    auto purged = db_.transact({}, [&](db::Tx& tx) {
      return tx.execute("DELETE FROM token_revocations WHERE expires_at < $1",
                        {format_time(now - std::chrono::hours(1))});
    });
    if (!purged)
      log::warn("could not purge expired revocations", {{"error", purged.error().detail}});
  }
  return {};
}

}  // namespace atrium::identity
