// Writing files so that no partial file is ever left looking valid.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace openrdu::arch {

// Writes `bytes` to a temporary file beside `path` (mode 0644), then renames it into
// place. On any failure the temporary file is removed and std::runtime_error is thrown
// with a message "PATH: what failed: reason".
void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes);
// The same with the file's bytes given as parts, written in order (no concatenated copy).
void write_file_atomic_parts(const std::string& path, const std::vector<std::span<const uint8_t>>& parts);

// Several files written all or none: each to a temporary file beside it, then, once
// every one is written, all renamed into place. On a failure before the renames the
// temporary files are removed and no file is touched; the error names the file.
struct FileContents {
  std::string path;
  std::vector<uint8_t> bytes;
};
void write_files_atomic(const std::vector<FileContents>& files);

// Reads a whole file that must not exceed `max_bytes`, without ever holding more than
// that: a regular file larger than it is refused from its size; anything else (a pipe,
// /dev/zero) is read in chunks and refused as soon as it passes the cap. The first
// min(prefix_bytes, size) bytes are given to `check_prefix` before the rest is read, so
// a file of the wrong kind fails at once (it throws the format's own error). Errors are
// std::runtime_error "PATH: problem" (cannot open, is a directory, larger than the cap,
// read error).
std::vector<uint8_t> read_file_capped(const std::string& path, uint64_t max_bytes, size_t prefix_bytes = 0,
                                      const std::function<void(std::span<const uint8_t>)>& check_prefix = {});

// An open file for reading (closed on destruction), with read_file_capped's checks: it
// opens, is no directory, and a regular file is at most `max_bytes` (a stream reader
// must still cap what it reads from anything else). Same errors as read_file_capped.
class ReadFd {
 public:
  ReadFd(const std::string& path, uint64_t max_bytes);
  ~ReadFd();
  ReadFd(const ReadFd&) = delete;
  ReadFd& operator=(const ReadFd&) = delete;
  int fd() const { return fd_; }
  bool regular() const { return regular_; }
  uint64_t size() const { return size_; }  // regular files

 private:
  int fd_ = -1;
  bool regular_ = false;
  uint64_t size_ = 0;
};

}  // namespace openrdu::arch
