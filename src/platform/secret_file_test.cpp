#include "platform/secret_file.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "support/temp_dir.hpp"

namespace atrium {
namespace {

std::string contents(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(SecretFile, CreatesOwnerOnlyFileOnceAndLeavesNoTemporary) {
  testing::TempDir dir;
  const auto path = dir.path() / "sub" / "key";
  int made = 0;
  auto first = load_or_create_secret(path, [&] { return "s" + std::to_string(++made); });
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, "s1");
  EXPECT_EQ(contents(path), "s1\n");
  EXPECT_EQ(std::filesystem::status(path).permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  auto again = load_or_create_secret(path, [&] { return "s" + std::to_string(++made); });
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, "s1");
  EXPECT_EQ(made, 1);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(path.parent_path()),
                          std::filesystem::directory_iterator()),
            1);
}

// Another process stores its secret between this one's look and its write: the file keeps the
// first secret and both processes use it.
TEST(SecretFile, KeepsTheSecretAnotherProcessStoredFirst) {
  testing::TempDir dir;
  const auto path = dir.path() / "key";
  auto mine = load_or_create_secret(path, [&] {
    std::ofstream(path) << "theirs\n";
    return std::string("mine");
  });
  ASSERT_TRUE(mine);
  EXPECT_EQ(*mine, "theirs");
  EXPECT_EQ(contents(path), "theirs\n");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
}

TEST(SecretFile, UnwritableDirectoryIsAClearError) {
  testing::TempDir dir;
  const auto blocker = dir.path() / "file";
  std::ofstream(blocker) << "x";
  auto r = load_or_create_secret(blocker / "key", [] { return std::string("s"); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidRequest);
  EXPECT_NE(r.error().detail.find("cannot write"), std::string::npos);
}

}  // namespace
}  // namespace atrium
