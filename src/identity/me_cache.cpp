#include "identity/me_cache.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>

namespace atrium::identity {

MeCache::MeCache(const Clock& clock, std::chrono::milliseconds ttl, std::size_t max_entries)
    : clock_(clock), ttl_(ttl), max_entries_(max_entries) {}

std::string_view MeCache::key_of(const Principal& caller) {
  // Looked up twice per GET /api/me; a fresh string each time was two allocations per request.
  thread_local std::string key;
  key.clear();
  if (caller.kind == Principal::Kind::kApiKey) {
    key.append("k:").append(caller.api_key_id);
  } else {
    key.append("u:").append(caller.user_id).append("/").append(caller.org_id.value_or(""));
  }
  return key;
}

const MeCache::Entry* MeCache::fresh(std::string_view key) const {
  auto it = entries_.find(key);
  if (it == entries_.end() || clock_.now() - it->second.loaded_at >= ttl_) return nullptr;
  return &it->second;
}

bool MeCache::contains(const Principal& caller) const {
  const std::string_view key = key_of(caller);
  std::shared_lock lock(mu_);
  return fresh(key) != nullptr;
}

std::optional<std::string> MeCache::render(const Principal& caller) const {
  const std::string_view key = key_of(caller);
  std::shared_lock lock(mu_);
  const Entry* e = fresh(key);
  if (!e) return std::nullopt;
  return compose(caller, e->view);
}

namespace {

// A JSON string. Printable ASCII without quotes or backslashes (catalog names, ids) is written as
// is; anything else goes through nlohmann-json. Building a JSON array to dump it cost ~15k
// instructions per GET /api/me (callgrind).
constexpr auto kPlain = [] {
  std::array<bool, 256> table{};
  for (int c = 0x20; c < 0x7f; ++c) table[c] = c != '"' && c != '\\';
  return table;
}();

// Whether all 8 bytes of `w` are plain: none below 0x20, at or above 0x7f, '"' or '\\' (the
// "has a byte less than n" and "has a zero byte" tests, exact as a yes/no answer).
bool plain_word(std::uint64_t w) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  const auto has_zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  return ((w & kHigh) | ((w - kOnes * 0x20) & ~w & kHigh) | has_zero(w ^ (kOnes * 0x7f)) |
          has_zero(w ^ (kOnes * '"')) | has_zero(w ^ (kOnes * '\\'))) == 0;
}

// Eight bytes at a time: the permission list alone is a few hundred characters per request.
bool plain(std::string_view s) {
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, sizeof w);
    if (!plain_word(w)) return false;
  }
  for (; i < s.size(); ++i)
    if (!kPlain[static_cast<unsigned char>(s[i])]) return false;
  return true;
}

void append_json_string(std::string& out, std::string_view s) {
  if (!plain(s)) {
    out += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
  out += '"';
  out += s;
  out += '"';
}

}  // namespace

std::string MeCache::compose(const Principal& caller, const View& view) {
  // Members in the order nlohmann-json writes objects (sorted by name).
  std::string out;
  out.reserve(view.user.size() + view.organization.size() + view.memberships.size() +
              24 * caller.permissions.size() + 160);
  if (caller.kind == Principal::Kind::kApiKey) {
    out += "{\"api_key\":{\"id\":";
    append_json_string(out, caller.api_key_id);
    out += "},";
  } else {
    out += "{";
  }
  out += "\"memberships\":";
  out += view.memberships;
  out += ",\"organization\":";
  out += view.organization;
  out += ",\"permissions\":[";
  for (std::size_t i = 0; i < caller.permissions.size(); ++i) {
    if (i > 0) out += ',';
    append_json_string(out, caller.permissions[i]);
  }
  out += ']';
  if (caller.kind != Principal::Kind::kApiKey) {
    out += ",\"session_id\":";
    append_json_string(out, caller.session_id);
  }
  out += ",\"user\":";
  out += view.user;
  out += "}";
  return out;
}

void MeCache::put(const Principal& caller, View view) {
  std::unique_lock lock(mu_);
  if (entries_.size() >= max_entries_) {
    const TimePoint now = clock_.now();
    std::erase_if(entries_, [&](const auto& e) { return now - e.second.loaded_at >= ttl_; });
    if (entries_.size() >= max_entries_) entries_.clear();
  }
  entries_.insert_or_assign(
      std::string(key_of(caller)),
      Entry{std::move(view), caller.user_id, caller.org_id.value_or(""), clock_.now()});
}

void MeCache::forget_user(std::string_view user_id) {
  std::unique_lock lock(mu_);
  std::erase_if(entries_, [&](const auto& e) { return e.second.user_id == user_id; });
}

void MeCache::forget_organization(std::string_view org_id) {
  std::unique_lock lock(mu_);
  std::erase_if(entries_, [&](const auto& e) { return e.second.org_id == org_id; });
}

void MeCache::clear() {
  std::unique_lock lock(mu_);
  entries_.clear();
}

}  // namespace atrium::identity
