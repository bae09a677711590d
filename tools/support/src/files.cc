#include "openrdu/support/files.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "openrdu/arch/printable.h"

namespace openrdu::support {

void ensure_writable_dir(const std::string& dir, const std::string& option) {
  const std::string shown = arch::printable(dir);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!std::filesystem::is_directory(dir))
    throw std::runtime_error(fmt::format("{} {}: not a directory{}", option, shown, ec ? ": " + ec.message() : ""));
  const auto probe = std::filesystem::path(dir) / fmt::format(".sn-probe-{}", ::getpid());
  std::FILE* f = std::fopen(probe.c_str(), "wb");
  if (!f) throw std::runtime_error(fmt::format("{} {}: cannot write there: {}", option, shown, std::strerror(errno)));
  std::fclose(f);
  std::filesystem::remove(probe, ec);
}

}  // namespace openrdu::support
