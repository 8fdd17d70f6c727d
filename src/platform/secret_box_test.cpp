#include "platform/secret_box.hpp"

#include <gtest/gtest.h>

#include "platform/ids.hpp"

namespace atrium {
namespace {

TEST(SecretBox, OpensWhatItSealedUnderTheSameKeyAndContext) {
  const std::string key = random_bytes(32);
  auto sealed = seal_secret(key, org_secret_context("org-1", "llm_api_key"), "sk-123");
  EXPECT_EQ(sealed.ciphertext.find("sk-123"), std::string::npos);
  EXPECT_EQ(open_secret(key, "org-1/llm_api_key", sealed), "sk-123");
  // A fresh nonce each time.
  auto again = seal_secret(key, "org-1/llm_api_key", "sk-123");
  EXPECT_NE(again.nonce, sealed.nonce);
  EXPECT_NE(again.ciphertext, sealed.ciphertext);
  EXPECT_EQ(open_secret(key, "org-1/llm_api_key", seal_secret(key, "org-1/llm_api_key", "")), "");
}

TEST(SecretBox, RefusesAnotherKeyContextOrTamperedText) {
  const std::string key = random_bytes(32);
  auto sealed = seal_secret(key, "org-1/llm_api_key", "sk-123");
  EXPECT_FALSE(open_secret(random_bytes(32), "org-1/llm_api_key", sealed));
  EXPECT_FALSE(open_secret(key, "org-2/llm_api_key", sealed));
  EXPECT_FALSE(open_secret(key, "org-1/other", sealed));
  Sealed tampered = sealed;
  tampered.ciphertext[5] = tampered.ciphertext[5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(open_secret(key, "org-1/llm_api_key", tampered));
  EXPECT_FALSE(open_secret(key, "org-1/llm_api_key", {"not base64!", sealed.nonce}));
  EXPECT_FALSE(open_secret(key, "org-1/llm_api_key", {sealed.ciphertext, "c2hvcnQ="}));
  EXPECT_FALSE(open_secret("short", "org-1/llm_api_key", sealed));
}

}  // namespace
}  // namespace atrium
