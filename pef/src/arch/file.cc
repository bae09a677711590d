#include "openrdu/arch/file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace openrdu::arch {

namespace {

// Writes `bytes` to a new temporary file beside `path`; returns its name.
std::string write_temp(const std::string& path, const std::vector<std::span<const uint8_t>>& parts) {
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
  for (const auto& bytes : parts) {
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
  }
  ::fchmod(fd, 0644);
  if (::close(fd) != 0) fail("write failed", errno);
  return tmp;
}

void rename_into_place(const std::string& tmp, const std::string& path) {
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error(
        fmt::format("{}: cannot rename the temporary file into place: {}", path, std::strerror(err)));
  }
}

}  // namespace

void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes) {
  rename_into_place(write_temp(path, {bytes}), path);
}

void write_file_atomic_parts(const std::string& path, const std::vector<std::span<const uint8_t>>& parts) {
  rename_into_place(write_temp(path, parts), path);
}

void write_files_atomic(const std::vector<FileContents>& files) {
  std::vector<std::string> tmps;
  try {
    for (const FileContents& f : files) tmps.push_back(write_temp(f.path, {f.bytes}));
  } catch (...) {
    for (const std::string& t : tmps) ::unlink(t.c_str());
    throw;
  }
  for (size_t i = 0; i < files.size(); ++i) rename_into_place(tmps[i], files[i].path);
}

ReadFd::ReadFd(const std::string& path, uint64_t max_bytes) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  struct stat st {};
  const bool stat_ok = ::fstat(fd_, &st) == 0;
  std::string error;
  if (!stat_ok) error = fmt::format("{}: cannot stat: {}", path, std::strerror(errno));
  else if (S_ISDIR(st.st_mode)) error = fmt::format("{}: is a directory, not a file", path);
  else if (S_ISREG(st.st_mode) && uint64_t(st.st_size) > max_bytes)
    error = fmt::format("{}: {} bytes, more than the {} bytes this reader accepts", path, st.st_size, max_bytes);
  if (!error.empty()) {
    ::close(fd_);
    throw std::runtime_error(error);
  }
  regular_ = S_ISREG(st.st_mode);
  size_ = regular_ ? uint64_t(st.st_size) : 0;
}

ReadFd::~ReadFd() { ::close(fd_); }

std::vector<uint8_t> read_file_capped(const std::string& path, uint64_t max_bytes, size_t prefix_bytes,
                                      const std::function<void(std::span<const uint8_t>)>& check_prefix) {
  const ReadFd file(path, max_bytes);
  const int fd = file.fd();
  constexpr size_t kChunk = 1 << 20;
  std::vector<uint8_t> b;
  if (file.regular()) b.reserve(size_t(file.size()) + kChunk);  // one allocation, the final read included
  bool checked = !check_prefix;
  for (;;) {
    const size_t have = b.size();
    b.resize(have + kChunk);
    const ssize_t r = ::read(fd, b.data() + have, kChunk);
    if (r < 0 && errno == EINTR) {
      b.resize(have);
      continue;
    }
    if (r < 0) throw std::runtime_error(fmt::format("{}: read error: {}", path, std::strerror(errno)));
    b.resize(have + size_t(r));
    if (!checked && (b.size() >= prefix_bytes || r == 0)) {
      check_prefix(std::span<const uint8_t>(b.data(), std::min(b.size(), prefix_bytes)));
      checked = true;
    }
    if (r == 0) break;
    if (b.size() > max_bytes)
      throw std::runtime_error(fmt::format("{}: more than the {} bytes this reader accepts", path, max_bytes));
  }
  return b;
}

}  // namespace openrdu::arch
