// Organization secrets at rest (DESIGN.md §5 org_secrets): libsodium secretbox
// (XSalsa20-Poly1305) under the platform's 32-byte data key (ATRIUM_DATA_KEY), with a fresh
// random nonce per seal. The sealed text also binds a context — "<organization id>/<name>" for
// org_secrets — so a ciphertext copied to another organization's or another name's row does not
// open there.
//
// Thread-safe (stateless).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace atrium {

struct Sealed {
  std::string ciphertext;  // base64 (standard alphabet, padded)
  std::string nonce;       // base64 of 24 bytes
};

// `key` must hold 32 bytes (Config::data_key).
Sealed seal_secret(std::string_view key, std::string_view context, std::string_view plaintext);

// The plaintext; nullopt when the key, the context or the text do not match (tampered, another
// row's, another key's) or the encoding is malformed.
std::optional<std::string> open_secret(std::string_view key, std::string_view context,
                                       const Sealed& sealed);

// The context of an organization secret.
inline std::string org_secret_context(std::string_view organization_id, std::string_view name) {
  std::string c(organization_id);
  c += '/';
  c += name;
  return c;
}

}  // namespace atrium
