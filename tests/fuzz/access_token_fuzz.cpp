// Fuzz target: the request path's access-token verifier must accept and refuse exactly what the
// reference (libjwt plus the same checks) does, and agree on the claims it returns.
//
// Input: first byte odd → the rest is a token as presented; even → the rest is
// "<header JSON>\n<payload JSON>", signed here with the test key so the JSON rules are reached.
// scripts/fuzz builds it with libFuzzer (clang) for campaigns; access_token_fuzz_replay.cpp drives
// it with seeds and deterministic random mutations under `make test`.
#include <openssl/hmac.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "identity/access_token.hpp"
#include "platform/base64url.hpp"

namespace {

const std::string kSecret = "fuzzing-key-of-a-reasonable-length-0123456789";

const atrium::identity::KeyRing& keys() {
  static const atrium::identity::KeyRing ring({{"k1", kSecret}});
  return ring;
}

std::string sign(std::string_view header, std::string_view payload) {
  std::string input = atrium::base64url_encode(header) + "." + atrium::base64url_encode(payload);
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." +
         atrium::base64url_encode(std::string_view(reinterpret_cast<char*>(mac), len));
}

[[noreturn]] void mismatch(const std::string& token, const char* what) {
  std::fprintf(stderr, "verifiers disagree (%s) on token: %s\n", what, token.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atrium::identity;
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string token;
  if (data[0] & 1) {
    token = rest;
  } else {
    const auto nl = rest.find('\n');
    token = sign(rest.substr(0, nl),
                 nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1));
  }
  const auto now = atrium::TimePoint(std::chrono::seconds(1'800'000'000));
  auto fast = verify_access_token(keys(), token, now);
  auto ref = verify_access_token_reference(keys(), token, now);
  if (fast.has_value() != ref.has_value())
    mismatch(token, fast ? "fast accepts" : "reference accepts");
  if (fast) {
    if (fast->sub != ref->sub || fast->email != ref->email || fast->org_id != ref->org_id ||
        fast->permissions != ref->permissions || fast->iat != ref->iat || fast->exp != ref->exp ||
        fast->nbf != ref->nbf || fast->jti != ref->jti || fast->sid != ref->sid ||
        fast->kid != ref->kid)
      mismatch(token, "claims");
  }
  return 0;
}
