// libjwt: the signer, and the reference verifier the fast one is held to. Independent of
// access_token.cpp on purpose: libsodium decodes base64, nlohmann-json reads the JSON.
#include <jwt.h>
#include <sodium.h>

#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>

#include "identity/access_token.hpp"

namespace atrium::identity {
namespace {

constexpr int kMaxDepth = 32;
constexpr std::size_t kMaxMembers = 64;

Error invalid_token() { return Error::unauthenticated("invalid access token"); }

struct JwtFree {
  void operator()(jwt_t* j) const { jwt_free(j); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;

std::optional<std::string> decode_segment(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::string out(text.size(), '\0');
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size())
    return std::nullopt;
  out.resize(len);
  return out;
}

// The shared JSON rules, checked while nlohmann reads the text.
class Rules final : public nlohmann::json_sax<nlohmann::json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t v) override {
    return v <= static_cast<number_unsigned_t>(INT64_MAX);
  }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t& s) override { return s.find('\0') == string_t::npos; }
  bool binary(binary_t&) override { return false; }
  bool start_object(std::size_t) override {
    if (++depth_ > kMaxDepth) return false;
    names_.emplace_back();
    return true;
  }
  bool key(string_t& k) override {
    auto& names = names_.back();
    if (k.find('\0') != string_t::npos || names.size() >= kMaxMembers) return false;
    for (const auto& n : names)
      if (n == k) return false;
    names.push_back(k);
    return true;
  }
  bool end_object() override {
    --depth_;
    names_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override { return ++depth_ <= kMaxDepth; }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  int depth_ = 0;
  std::vector<std::vector<std::string>> names_;
};

std::optional<nlohmann::json> read_object(std::string_view segment) {
  auto text = decode_segment(segment);
  // A NUL byte anywhere: jansson and nlohmann would both stop reading there and accept a prefix.
  if (!text || text->find('\0') != std::string::npos) return std::nullopt;
  Rules rules;
  if (!nlohmann::json::sax_parse(*text, &rules, nlohmann::json::input_format_t::json, true))
    return std::nullopt;
  auto parsed = nlohmann::json::parse(*text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
  return parsed;
}

std::string upper(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

bool is_int(const nlohmann::json& v) {
  return v.is_number_integer() && !(v.is_number_unsigned() &&
                                    v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX));
}

bool nonempty_string(const nlohmann::json& obj, const char* name) {
  auto it = obj.find(name);
  return it != obj.end() && it->is_string() && !it->get_ref<const std::string&>().empty();
}

}  // namespace

Result<std::string> sign_access_token(const KeyRing& keys, const AccessClaims& c) {
  const JwtKey& key = keys.signing_key();
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return fail(Error::internal());
  JwtPtr jwt(raw);
  nlohmann::json extra = {
      {"org_id", c.org_id ? nlohmann::json(*c.org_id) : nlohmann::json(nullptr)},
      {"permissions", c.permissions}};
  if (c.nbf) extra["nbf"] = *c.nbf;
  const std::string extra_text = extra.dump();
  const bool ok = jwt_set_alg(jwt.get(), JWT_ALG_HS256,
                              reinterpret_cast<const unsigned char*>(key.secret.data()),
                              static_cast<int>(key.secret.size())) == 0 &&
                  jwt_add_header(jwt.get(), "kid", key.kid.c_str()) == 0 &&
                  jwt_add_grant(jwt.get(), "iss", std::string(kIssuer).c_str()) == 0 &&
                  jwt_add_grant(jwt.get(), "aud", std::string(kAudience).c_str()) == 0 &&
                  jwt_add_grant(jwt.get(), "sub", c.sub.c_str()) == 0 &&
                  jwt_add_grant(jwt.get(), "email", c.email.c_str()) == 0 &&
                  jwt_add_grant_int(jwt.get(), "iat", static_cast<long>(c.iat)) == 0 &&
                  jwt_add_grant_int(jwt.get(), "exp", static_cast<long>(c.exp)) == 0 &&
                  jwt_add_grant(jwt.get(), "jti", c.jti.c_str()) == 0 &&
                  jwt_add_grant(jwt.get(), "sid", c.sid.c_str()) == 0 &&
                  jwt_add_grants_json(jwt.get(), extra_text.c_str()) == 0;
  if (!ok) return fail(Error::internal());
  char* encoded = jwt_encode_str(jwt.get());
  if (!encoded) return fail(Error::internal());
  std::string out(encoded);
  std::free(encoded);
  return out;
}

Result<AccessClaims> verify_access_token_reference(const KeyRing& keys, std::string_view token,
                                                   TimePoint now) {
  if (token.size() > kMaxTokenBytes) return fail(invalid_token());
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const auto dot = token.find('.', start);
    parts.push_back(token.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (parts.size() != 3) return fail(invalid_token());
  auto signature = decode_segment(parts[2]);
  auto header = read_object(parts[0]);
  if (!signature || !header) return fail(invalid_token());

  AccessClaims claims;
  auto kid = header->find("kid");
  if (kid == header->end() || !kid->is_string()) return fail(invalid_token());
  const JwtKey* key = keys.find(kid->get_ref<const std::string&>());
  if (!key) return fail(invalid_token());
  claims.kid = key->kid;
  auto typ = header->find("typ");
  if (typ != header->end() && !(typ->is_string() && upper(typ->get<std::string>()) == "JWT"))
    return fail(invalid_token());
  if (header->contains("crit")) return fail(invalid_token());
  auto alg = header->find("alg");
  if (alg == header->end() || *alg != "HS256") return fail(invalid_token());

  // libjwt checks the signature (and refuses "none" because a key is passed).
  const std::string text(token);
  jwt_t* raw = nullptr;
  if (jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(key->secret.data()),
                 static_cast<int>(key->secret.size())) != 0)
    return fail(invalid_token());
  JwtPtr jwt(raw);
  if (jwt_get_alg(jwt.get()) != JWT_ALG_HS256) return fail(invalid_token());

  auto payload = read_object(parts[1]);
  if (!payload) return fail(invalid_token());
  const auto& p = *payload;
  auto aud = p.find("aud");
  bool aud_ok = false;
  if (aud != p.end()) {
    if (aud->is_string()) {
      aud_ok = *aud == kAudience;
    } else if (aud->is_array()) {
      for (const auto& a : *aud)
        if (a.is_string() && a == kAudience) aud_ok = true;
    }
  }
  auto iss = p.find("iss");
  if (iss == p.end() || *iss != kIssuer || !aud_ok) return fail(invalid_token());
  if (!nonempty_string(p, "sub") || !nonempty_string(p, "sid")) return fail(invalid_token());
  auto email = p.find("email");
  if (email == p.end() || !email->is_string()) return fail(invalid_token());
  auto org = p.find("org_id");
  if (org == p.end() || !(org->is_null() || org->is_string())) return fail(invalid_token());
  auto perms = p.find("permissions");
  if (perms == p.end() || !perms->is_array()) return fail(invalid_token());
  for (const auto& v : *perms)
    if (!v.is_string() || v.get_ref<const std::string&>().empty()) return fail(invalid_token());
  auto jti = p.find("jti");
  if (jti == p.end() || !jti->is_string() || !uuid7_millis(jti->get<std::string>()))
    return fail(invalid_token());
  auto iat = p.find("iat");
  auto exp = p.find("exp");
  auto nbf = p.find("nbf");
  if (iat == p.end() || !is_int(*iat) || exp == p.end() || !is_int(*exp) ||
      (nbf != p.end() && !is_int(*nbf)))
    return fail(invalid_token());

  claims.sub = p["sub"].get<std::string>();
  claims.sid = p["sid"].get<std::string>();
  claims.email = email->get<std::string>();
  if (org->is_string()) claims.org_id = org->get<std::string>();
  claims.permissions = perms->get<std::vector<std::string>>();
  claims.jti = jti->get<std::string>();
  claims.iat = iat->get<std::int64_t>();
  claims.exp = exp->get<std::int64_t>();
  if (nbf != p.end()) claims.nbf = nbf->get<std::int64_t>();

  const std::int64_t t =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const std::int64_t leeway = kLeeway.count();
  if (claims.exp <= t - leeway) return fail(Error::unauthenticated("access token expired"));
  if (claims.nbf && *claims.nbf > t + leeway) return fail(invalid_token());
  if (claims.iat > t + leeway) return fail(invalid_token());
  return claims;
}

}  // namespace atrium::identity
