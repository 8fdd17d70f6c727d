#include "identity/me_cache.hpp"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

namespace atrium::identity {

MeCache::MeCache(const Clock& clock, std::chrono::milliseconds ttl, std::size_t max_entries)
    : clock_(clock), ttl_(ttl), max_entries_(max_entries) {}

std::string MeCache::key_of(const Principal& caller) {
  if (caller.kind == Principal::Kind::kApiKey) return "k:" + caller.api_key_id;
  std::string key = "u:" + caller.user_id;
  key += '/';
  key += caller.org_id.value_or("");
  return key;
}

const MeCache::Entry* MeCache::fresh(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end() || clock_.now() - it->second.loaded_at >= ttl_) return nullptr;
  return &it->second;
}

bool MeCache::contains(const Principal& caller) const {
  const std::string key = key_of(caller);
  std::shared_lock lock(mu_);
  return fresh(key) != nullptr;
}

std::optional<std::string> MeCache::render(const Principal& caller) const {
  const std::string key = key_of(caller);
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

void append_json_string(std::string& out, std::string_view s) {
  const bool plain =
      std::all_of(s.begin(), s.end(), [](char c) { return kPlain[static_cast<unsigned char>(c)]; });
  if (!plain) {
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
  entries_.insert_or_assign(key_of(caller), Entry{std::move(view), caller.user_id,
                                                  caller.org_id.value_or(""), clock_.now()});
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
