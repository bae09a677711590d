#include "openrdu/arch/file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace openrdu::arch {

void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes) {
  const std::filesystem::path p(path);
  const std::string tmpl = (p.parent_path().empty() ? std::filesystem::path(".") : p.parent_path()).string() +
                           "/." + p.filename().string() + ".tmpXXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  const int fd = ::mkstemp(buf.data());
  if (fd < 0) throw std::runtime_error(fmt::format("{}: cannot create a temporary file: {}", path, std::strerror(errno)));
  const std::string tmp(buf.data());
  auto fail = [&](const char* what, int err) {
    ::unlink(tmp.c_str());
    throw std::runtime_error(fmt::format("{}: {}: {}", path, what, std::strerror(err)));
  };
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      fail("write failed", err);
    }
    done += size_t(w);
  }
  ::fchmod(fd, 0644);
  if (::close(fd) != 0) fail("write failed", errno);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot rename the temporary file into place", errno);
}

}  // namespace openrdu::arch
