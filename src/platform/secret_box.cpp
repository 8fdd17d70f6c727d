#include "platform/secret_box.hpp"

#include <sodium.h>

#include <stdexcept>

namespace atrium {
namespace {

std::string to_base64(const unsigned char* data, std::size_t size) {
  std::string out(sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data, size, sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::char_traits<char>::length(out.c_str()));
  return out;
}

std::optional<std::string> from_base64(std::string_view text) {
  std::string out(text.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    return std::nullopt;
  out.resize(len);
  return out;
}

// The sealed message: the context's length (4 bytes), the context, then the plaintext.
std::string frame(std::string_view context, std::string_view plaintext) {
  std::string m;
  const auto n = static_cast<std::uint32_t>(context.size());
  for (int shift : {24, 16, 8, 0}) m.push_back(static_cast<char>((n >> shift) & 0xff));
  m += context;
  m += plaintext;
  return m;
}

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

Sealed seal_secret(std::string_view key, std::string_view context, std::string_view plaintext) {
  if (key.size() != crypto_secretbox_KEYBYTES)
    throw std::invalid_argument("data key must be 32 bytes");
  if (sodium_init() < 0) throw std::runtime_error("libsodium unavailable");
  unsigned char nonce[crypto_secretbox_NONCEBYTES];
  randombytes_buf(nonce, sizeof nonce);
  const std::string message = frame(context, plaintext);
  std::string box(message.size() + crypto_secretbox_MACBYTES, '\0');
  crypto_secretbox_easy(reinterpret_cast<unsigned char*>(box.data()), bytes(message),
                        message.size(), nonce, bytes(key));
  return {to_base64(bytes(box), box.size()), to_base64(nonce, sizeof nonce)};
}

std::optional<std::string> open_secret(std::string_view key, std::string_view context,
                                       const Sealed& sealed) {
  if (key.size() != crypto_secretbox_KEYBYTES) return std::nullopt;
  auto box = from_base64(sealed.ciphertext);
  auto nonce = from_base64(sealed.nonce);
  if (!box || !nonce || nonce->size() != crypto_secretbox_NONCEBYTES ||
      box->size() < crypto_secretbox_MACBYTES)
    return std::nullopt;
  std::string message(box->size() - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(message.data()), bytes(*box),
                                 box->size(), bytes(*nonce), bytes(key)) != 0)
    return std::nullopt;
  const std::string expected = frame(context, "");
  if (message.size() < expected.size() || message.compare(0, expected.size(), expected) != 0)
    return std::nullopt;
  return message.substr(expected.size());
}

}  // namespace atrium
