#include "http/static_files.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "support/temp_dir.hpp"

namespace atrium::http {
namespace {

namespace fs = std::filesystem;

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.path() / "dist";
    fs::create_directories(root_ / "assets");
    write(root_ / "index.html", "<!doctype html><title>Atrium</title>");
    write(root_ / "assets" / "app-1a2b.js", "console.log(1)");
    write(root_ / "assets" / "app-1a2b.css", "body{}");
    write(root_ / "logo.svg", "<svg/>");
    write(dir_.path() / "secret.txt", "top secret");
    fs::create_symlink(dir_.path() / "secret.txt", root_ / "link.txt");
  }
  static void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

  Result<Response> get(const std::string& path, const std::string& etag = {}) {
    StaticFiles files(root_);
    Request req;
    req.path = path;
    if (!etag.empty()) req.headers.set("If-None-Match", etag);
    return files.serve(req);
  }

  atrium::testing::TempDir dir_;
  fs::path root_;
};

TEST_F(StaticFilesTest, ServesFilesWithTheirTypes) {
  auto js = get("/assets/app-1a2b.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_EQ(js->body, "console.log(1)");
  EXPECT_EQ(js->headers.get("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(js->headers.get("Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(get("/assets/app-1a2b.css")->headers.get("Content-Type"), "text/css; charset=utf-8");
  EXPECT_EQ(get("/logo.svg")->headers.get("Content-Type"), "image/svg+xml");
  auto index = get("/");
  ASSERT_TRUE(index);
  EXPECT_EQ(index->headers.get("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(index->headers.get("Cache-Control"), "no-cache");
}

TEST_F(StaticFilesTest, UnknownRoutesFallBackToIndex) {
  auto r = get("/agents/123/tasks");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("<title>Atrium"), std::string::npos);
  auto missing_asset = get("/assets/gone-9999.js");
  ASSERT_FALSE(missing_asset);
  EXPECT_EQ(missing_asset.error().code, Code::kNotFound);
}

TEST_F(StaticFilesTest, RefusesTraversal) {
  for (const char* path : {"/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt",
                           "/assets/%2E%2E/%2E%2E/secret.txt", "/..%2fsecret.txt",
                           "/assets\\..\\..\\secret.txt", "/%00", "/./index.html"}) {
    auto r = get(path);
    if (r) {
      EXPECT_EQ(r->body.find("top secret"), std::string::npos) << path;
    } else {
      EXPECT_EQ(r.error().code, Code::kNotFound) << path;
    }
  }
  // A symlink that leaves the root is not followed out of it.
  auto link = get("/link.txt");
  ASSERT_FALSE(link);
  EXPECT_EQ(link.error().code, Code::kNotFound);
}

TEST_F(StaticFilesTest, ConditionalGetAnswers304) {
  auto first = get("/logo.svg");
  ASSERT_TRUE(first);
  auto etag = std::string(*first->headers.get("ETag"));
  auto second = get("/logo.svg", etag);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 304);
  EXPECT_TRUE(second->body.empty());
}

TEST(StaticFiles, MissingRootIsNotFound) {
  StaticFiles files("/nonexistent/atrium/web");
  Request req;
  req.path = "/";
  auto r = files.serve(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kNotFound);
}

}  // namespace
}  // namespace atrium::http
