// FST tracing of the RTL core: a window of cycles is written, the file closes when the
// platform is destroyed.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

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
  // The file is a complete FST (fst2vcd reads it to the end): 1 ps time scale, the core's
  // clock declared, and value changes only inside the window (cycles 100 to 2000 at 1 GHz,
  // 1,000 ps per cycle; idle cycles are skipped, not dumped).
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen((std::string(OPENRDU_FST2VCD) + " " + file + " 2>&1").c_str(), "r"),
                                          pclose);
  ASSERT_TRUE(p);
  std::string vcd;
  char buf[65536];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p.get())) > 0;) vcd.append(buf, n);
  ASSERT_EQ(pclose(p.release()), 0) << vcd.substr(0, 500);
  EXPECT_NE(vcd.find("$timescale\n\t1ps"), std::string::npos) << vcd.substr(0, 300);
  EXPECT_NE(vcd.find(" clk_i $end"), std::string::npos);
  std::istringstream in(vcd.substr(vcd.find("$enddefinitions")));
  std::vector<uint64_t> times;
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] == '#') times.push_back(std::stoull(line.substr(1)));
  ASSERT_GE(times.size(), 2u);
  for (uint64_t t : times) {
    EXPECT_GE(t, 100u * 1000) << "a value change before the window";
    EXPECT_LT(t, 2000u * 1000) << "a value change after the window";
  }
}

}  // namespace
