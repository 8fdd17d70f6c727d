// Identifiers and secrets from libsodium's CSPRNG.
//
// All functions are thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace atrium {

// A UUIDv7 (RFC 9562) in canonical lowercase form. Time-ordered and strictly increasing within
// this process (a 12-bit counter fills the sub-millisecond bits), so ORDER BY id is creation order.
std::string new_id();

bool is_uuid(std::string_view text);

// The canonical lowercase text ("xxxxxxxx-xxxx-…") of a UUID's 16 bytes.
std::string format_uuid(const unsigned char (&bytes)[16]);

// `count` random bytes.
std::string random_bytes(std::size_t count);

// `bytes` random bytes as unpadded base64url (URL- and header-safe).
std::string random_token(std::size_t bytes);

// Lowercase hex BLAKE2b-256 digest of a secret token, for storing tokens hashed.
std::string hash_token(std::string_view token);

// Constant-time equality for secrets.
bool secure_equal(std::string_view a, std::string_view b);

}  // namespace atrium
