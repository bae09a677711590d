// FST tracing of the RTL core: a window of cycles is written, the file closes when the
// platform is destroyed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "openrdu/gen/regs.h"
#include "openrdu/platform/platform.h"

namespace {

using namespace openrdu;

TEST(RtlTrace, WindowIsWrittenAndClosed) {
  const std::string file = (std::filesystem::temp_directory_path() / "openrdu_rtl_trace_test.fst").string();
  std::filesystem::remove(file);
  {
    platform::PlatformOptions o;
    o.core = platform::CoreKind::Rtl;
    o.trace_file = file;
    o.trace_start = 100;
    o.trace_stop = 2000;
    platform::Platform p(arch::load_config("tiny"), o);
    EXPECT_EQ(p.mmio_read(gen::reg::ID, 10), 0x52445530u);
    p.mmio_write(gen::reg::SCRATCH, 0x1234, 10);
    EXPECT_EQ(p.mmio_read(gen::reg::SCRATCH, 10), 0x1234u);
    p.advance(5000);
    EXPECT_GE(p.cycles(), 5000u);
  }
  ASSERT_TRUE(std::filesystem::exists(file));
  EXPECT_GT(std::filesystem::file_size(file), 100u);
}

}  // namespace
