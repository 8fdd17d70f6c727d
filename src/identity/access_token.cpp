// The request path's HS256 verifier. The order of work is chosen so an attacker's bytes cost as
// little as possible: size and shape first, then the (small) header for the kid, then the HMAC,
// and only a token we signed gets its payload parsed.
#include "identity/access_token.hpp"

#include <openssl/evp.h>
#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "platform/base64url.hpp"
#include "platform/ids.hpp"

namespace atrium::identity {
namespace {

constexpr int kMaxDepth = 32;
constexpr std::size_t kMaxMembers = 64;
constexpr std::size_t kSignatureChars = 43;  // base64url of 32 bytes

Error invalid_token() { return Error::unauthenticated("invalid access token"); }

// Constant time: the comparison takes as long wherever the first difference is.
bool same_signature(const char* a, const char* b) {
  unsigned char diff = 0;
  for (std::size_t i = 0; i < kSignatureChars; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The JSON rules both verifiers share (see the header): depth, member count, unique names, no
// NUL, integers within int64.
bool clean(simdjson::dom::element e, int depth) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::OBJECT: {
      if (depth > kMaxDepth) return false;
      simdjson::dom::object obj;
      if (e.get_object().get(obj) != simdjson::SUCCESS || obj.size() > kMaxMembers) return false;
      std::string_view names[kMaxMembers];
      std::size_t n = 0;
      for (auto field : obj) {
        if (field.key.find('\0') != std::string_view::npos) return false;
        for (std::size_t i = 0; i < n; ++i)
          if (names[i] == field.key) return false;
        names[n++] = field.key;
        if (!clean(field.value, depth + 1)) return false;
      }
      return true;
    }
    case element_type::ARRAY: {
      if (depth > kMaxDepth) return false;
      simdjson::dom::array arr;
      if (e.get_array().get(arr) != simdjson::SUCCESS) return false;
      for (auto v : arr)
        if (!clean(v, depth + 1)) return false;
      return true;
    }
    case element_type::STRING: {
      std::string_view text;
      return e.get_string().get(text) == simdjson::SUCCESS &&
             text.find('\0') == std::string_view::npos;
    }
    case element_type::UINT64:
      return false;  // simdjson uses int64 whenever the value fits
    default:
      return true;
  }
}

struct Scratch {
  simdjson::dom::parser parser;
  std::string header;
  std::string payload;
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  Scratch() {
    if (!md || parser.allocate(kMaxTokenBytes, kMaxDepth + 8) != simdjson::SUCCESS)
      throw std::bad_alloc();
  }
  ~Scratch() { EVP_MD_CTX_free(md); }
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// Decodes a segment into `out` with simdjson's padding and parses it into an object.
bool parse_segment(simdjson::dom::parser& parser, std::string_view segment, std::string& out,
                   simdjson::dom::object& obj) {
  if (!base64url_decode_to(segment, out)) return false;
  // jansson refuses a byte-order mark; simdjson would skip it.
  if (out.size() >= 3 && out.compare(0, 3, "\xEF\xBB\xBF") == 0) return false;
  const std::size_t len = out.size();
  out.resize(len + simdjson::SIMDJSON_PADDING);
  simdjson::dom::element root;
  if (parser.parse(out.data(), len, false).get(root) != simdjson::SUCCESS) return false;
  return clean(root, 1) && root.get_object().get(obj) == simdjson::SUCCESS;
}

bool get_int(simdjson::dom::element e, std::int64_t& out) {
  return e.type() == simdjson::dom::element_type::INT64 &&
         e.get_int64().get(out) == simdjson::SUCCESS;
}

bool get_string(simdjson::dom::element e, std::string_view& out) {
  return e.get_string().get(out) == simdjson::SUCCESS;
}

}  // namespace

// --- KeyRing ---------------------------------------------------------------------------------

struct KeyRing::State {
  EVP_MD_CTX* inner = nullptr;  // SHA-256 state after (key ⊕ ipad)
  EVP_MD_CTX* outer = nullptr;  // SHA-256 state after (key ⊕ opad)
  ~State() {
    EVP_MD_CTX_free(inner);
    EVP_MD_CTX_free(outer);
  }
};

KeyRing::KeyRing(std::vector<JwtKey> keys) : keys_(std::move(keys)) {
  if (keys_.empty()) throw std::invalid_argument("no JWT keys");
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    const auto& k = keys_[i];
    if (k.secret.empty() || k.kid.empty()) throw std::invalid_argument("empty JWT key or kid");
    for (std::size_t j = 0; j < i; ++j)
      if (keys_[j].kid == k.kid) throw std::invalid_argument("duplicate kid " + k.kid);

    // RFC 2104: a key longer than the block is hashed first.
    unsigned char block[64] = {};
    if (k.secret.size() > sizeof block) {
      unsigned int len = 0;
      EVP_Digest(k.secret.data(), k.secret.size(), block, &len, EVP_sha256(), nullptr);
    } else {
      std::copy(k.secret.begin(), k.secret.end(), block);
    }
    unsigned char ipad[64];
    unsigned char opad[64];
    for (int b = 0; b < 64; ++b) {
      ipad[b] = block[b] ^ 0x36;
      opad[b] = block[b] ^ 0x5c;
    }
    auto state = std::make_unique<State>();
    state->inner = EVP_MD_CTX_new();
    state->outer = EVP_MD_CTX_new();
    if (!state->inner || !state->outer ||
        EVP_DigestInit_ex(state->inner, EVP_sha256(), nullptr) != 1 ||
        EVP_DigestUpdate(state->inner, ipad, sizeof ipad) != 1 ||
        EVP_DigestInit_ex(state->outer, EVP_sha256(), nullptr) != 1 ||
        EVP_DigestUpdate(state->outer, opad, sizeof opad) != 1)
      throw std::runtime_error("OpenSSL SHA-256 unavailable");
    std::fill(std::begin(block), std::end(block), 0);
    std::fill(std::begin(ipad), std::end(ipad), 0);
    std::fill(std::begin(opad), std::end(opad), 0);
    states_.push_back(std::move(state));
  }
}

KeyRing::~KeyRing() = default;

const JwtKey* KeyRing::find(std::string_view kid) const {
  for (const auto& k : keys_)
    if (k.kid == kid) return &k;
  return nullptr;
}

bool KeyRing::hmac(std::string_view kid, std::string_view data, unsigned char out[32]) const {
  std::size_t index = 0;
  while (index < keys_.size() && keys_[index].kid != kid) ++index;
  if (index == keys_.size()) return false;
  const State& st = *states_[index];
  EVP_MD_CTX* md = scratch().md;
  unsigned char inner[32];
  unsigned int len = 0;
  return EVP_MD_CTX_copy_ex(md, st.inner) == 1 &&
         EVP_DigestUpdate(md, data.data(), data.size()) == 1 &&
         EVP_DigestFinal_ex(md, inner, &len) == 1 && EVP_MD_CTX_copy_ex(md, st.outer) == 1 &&
         EVP_DigestUpdate(md, inner, sizeof inner) == 1 && EVP_DigestFinal_ex(md, out, &len) == 1;
}

// --- Claims ----------------------------------------------------------------------------------

std::optional<std::int64_t> uuid7_millis(std::string_view id) {
  if (!is_uuid(id) || id[14] != '7') return std::nullopt;
  const char v = id[19];
  if (!(v == '8' || v == '9' || v == 'a' || v == 'b' || v == 'A' || v == 'B')) return std::nullopt;
  std::int64_t ms = 0;
  for (std::size_t i = 0; i < 13; ++i) {
    if (i == 8) continue;
    const char c = id[i];
    const int d = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    ms = ms * 16 + d;
  }
  return ms;
}

std::string make_jti(TimePoint t) {
  const auto ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
  const std::string raw = random_bytes(16);
  unsigned char b[16];
  std::memcpy(b, raw.data(), sizeof b);
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  b[6] = static_cast<unsigned char>(0x70 | (b[6] & 0x0f));
  b[8] = static_cast<unsigned char>(0x80 | (b[8] & 0x3f));
  return format_uuid(b);
}

std::int64_t AccessClaims::issued_ms() const { return uuid7_millis(jti).value_or(iat * 1000); }

// --- The fast verifier -----------------------------------------------------------------------

Result<AccessClaims> verify_access_token(const KeyRing& keys, std::string_view token,
                                         TimePoint now) {
  if (token.size() > kMaxTokenBytes) return fail(invalid_token());
  const auto dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return fail(invalid_token());
  const auto dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return fail(invalid_token());
  const auto header_b64 = token.substr(0, dot1);
  const auto payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const auto signature = token.substr(dot2 + 1);
  // The segments' alphabet is checked by decoding (header, payload) and by comparing with our
  // own canonical encoding (signature).
  if (header_b64.empty() || payload_b64.empty() || signature.size() != kSignatureChars)
    return fail(invalid_token());

  Scratch& s = scratch();
  AccessClaims claims;

  // Header: the algorithm is pinned, the kid picks the key.
  simdjson::dom::object header;
  if (!parse_segment(s.parser, header_b64, s.header, header)) return fail(invalid_token());
  bool alg_ok = false;
  bool kid_ok = false;
  for (auto field : header) {
    std::string_view text;
    if (field.key == "alg") {
      alg_ok = get_string(field.value, text) && text == "HS256";
    } else if (field.key == "kid") {
      kid_ok = get_string(field.value, text) && keys.find(text) != nullptr;
      if (kid_ok) claims.kid = text;
    } else if (field.key == "typ") {
      if (!get_string(field.value, text) || !iequals(text, "JWT")) return fail(invalid_token());
    } else if (field.key == "crit") {
      return fail(invalid_token());
    }
  }
  if (!alg_ok || !kid_ok) return fail(invalid_token());

  unsigned char mac[32];
  char expected[kSignatureChars + 1];
  if (!keys.hmac(claims.kid, token.substr(0, dot2), mac)) return fail(invalid_token());
  base64url_encode_to(std::string_view(reinterpret_cast<const char*>(mac), sizeof mac), expected);
  if (!same_signature(expected, signature.data())) return fail(invalid_token());

  // Payload: only now, for a token we signed.
  simdjson::dom::object payload;
  if (!parse_segment(s.parser, payload_b64, s.payload, payload)) return fail(invalid_token());
  bool iss = false, aud = false, sub = false, email = false, org = false, perms = false,
       iat = false, exp = false, jti = false, sid = false;
  for (auto field : payload) {
    const std::string_view k = field.key;
    std::string_view text;
    if (k == "iss") {
      iss = get_string(field.value, text) && text == kIssuer;
    } else if (k == "aud") {
      if (get_string(field.value, text)) {
        aud = text == kAudience;
      } else {
        simdjson::dom::array list;
        if (field.value.get_array().get(list) == simdjson::SUCCESS) {
          for (auto v : list)
            if (get_string(v, text) && text == kAudience) aud = true;
        }
      }
    } else if (k == "sub") {
      sub = get_string(field.value, text) && !text.empty();
      claims.sub = text;
    } else if (k == "email") {
      email = get_string(field.value, text);
      claims.email = text;
    } else if (k == "org_id") {
      if (field.value.is_null()) {
        org = true;
      } else if (get_string(field.value, text)) {
        org = true;
        claims.org_id = std::string(text);
      }
    } else if (k == "permissions") {
      simdjson::dom::array list;
      perms = field.value.get_array().get(list) == simdjson::SUCCESS;
      if (perms) {
        claims.permissions.reserve(list.size());
        for (auto v : list) {
          if (!get_string(v, text) || text.empty()) {
            perms = false;
            break;
          }
          claims.permissions.emplace_back(text);
        }
      }
    } else if (k == "iat") {
      iat = get_int(field.value, claims.iat);
    } else if (k == "exp") {
      exp = get_int(field.value, claims.exp);
    } else if (k == "nbf") {
      std::int64_t v = 0;
      if (!get_int(field.value, v)) return fail(invalid_token());
      claims.nbf = v;
    } else if (k == "jti") {
      jti = get_string(field.value, text) && uuid7_millis(text).has_value();
      claims.jti = text;
    } else if (k == "sid") {
      sid = get_string(field.value, text) && !text.empty();
      claims.sid = text;
    }
  }
  if (!(iss && aud && sub && email && org && perms && iat && exp && jti && sid))
    return fail(invalid_token());

  if (auto times = check_times(claims, now); !times) return fail(times.error());
  return claims;
}

Result<void> check_times(const AccessClaims& c, TimePoint now) {
  const std::int64_t t =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const std::int64_t leeway = kLeeway.count();
  if (c.exp <= t - leeway) return fail(Error::unauthenticated("access token expired"));
  if ((c.nbf && *c.nbf > t + leeway) || c.iat > t + leeway) return fail(invalid_token());
  return {};
}

}  // namespace atrium::identity
