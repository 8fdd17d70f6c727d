#include "platform/secret_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

namespace atrium {
namespace {

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool sync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

std::optional<std::string> read_secret_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

Result<std::string> load_or_create_secret(const std::filesystem::path& path,
                                          const std::function<std::string()>& make) {
  if (auto existing = read_secret_file(path)) return *existing;
  const auto cannot_write = [&] { return fail(Error::invalid("cannot write " + path.string())); };
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);

  // Written in full and synced under a name of this process's own, then linked into place: link()
  // refuses to replace a file, so of two processes generating at once exactly one secret wins and
  // both use it (rename() would let the second silently replace the key the first already uses).
  const std::string value = make();
  auto tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return cannot_write();
  const bool written = write_all(fd, value + "\n") && ::fsync(fd) == 0;
  ::close(fd);
  const int linked = written ? ::link(tmp.c_str(), path.c_str()) : -1;
  const int link_errno = errno;
  ::unlink(tmp.c_str());
  if (!written) return cannot_write();
  if (linked != 0) {
    if (link_errno != EEXIST) return cannot_write();
    if (auto winner = read_secret_file(path)) return *winner;
    return cannot_write();
  }
  if (!sync_directory(path.parent_path())) return cannot_write();
  return value;
}

}  // namespace atrium
