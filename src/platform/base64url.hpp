// Base64url (RFC 4648 §5) without padding, strict: only the URL-safe alphabet, no '=', and the
// unused low bits of the last character must be zero, so every byte string has exactly one
// accepted encoding. Used for JWT segments, opaque cursors and tokens. Pure; thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace atrium {

std::string base64url_encode(std::string_view bytes);

// Writes the encoding of `bytes` to `out` (room for base64url_encoded_size(bytes.size()) chars)
// and returns its length. No allocation.
std::size_t base64url_encode_to(std::string_view bytes, char* out);

constexpr std::size_t base64url_encoded_size(std::size_t n) { return (n * 4 + 2) / 3; }

// nullopt for any character outside the alphabet, a length that no byte string encodes to
// (n % 4 == 1), or non-zero trailing bits.
std::optional<std::string> base64url_decode(std::string_view text);

// Decodes into `out` (cleared first, capacity reused): false on the same inputs as above.
bool base64url_decode_to(std::string_view text, std::string& out);

}  // namespace atrium
