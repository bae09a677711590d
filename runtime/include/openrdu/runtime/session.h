// Runtime session: load a PEF onto a device and run it (docs/architecture.md section 10).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "openrdu/arch/config.h"
#include "openrdu/pef/pef.h"
#include "openrdu/runtime/checks.h"
#include "openrdu/runtime/npy.h"

namespace openrdu::driver {
class Device;
}

namespace openrdu::runtime {

struct SessionOptions {
  double timeout_s = 60;  // per wait (configuration, run, DMA)
  // Device WATCHDOG for every run (cycles; 0 = off). A run that reaches it fails with
  // error WATCHDOG naming the first unit not done, and the device is reset.
  uint32_t watchdog_cycles = 100'000'000;
};

// One CONFIG section of a run: device cycles of its configuration (CFG_CYCLES) and of
// its run (CYCLES, from START to done).
struct SectionReport {
  size_t index = 0;
  std::string name;
  uint64_t config_cycles = 0;
  uint64_t cycles = 0;
};

struct RunResult {
  std::map<std::string, HostTensor> outputs;
  std::vector<SectionReport> sections;
  uint64_t total_cycles = 0;         // sum of the sections' run cycles
  uint64_t total_config_cycles = 0;  // sum of the sections' configuration cycles
};

class Session {
 public:
  // `cfg` is the configuration the device was opened with (for unit names in errors).
  Session(driver::Device& device, const arch::Config& cfg, SessionOptions opts = {});

  // Checks the PEF against the device (fingerprint, DRAM placement); throws RuntimeError.
  void load(const pef::Pef& pef);
  // Checks the inputs, runs every section in order, returns the outputs. Throws
  // RuntimeError naming the section, register, error code or unit.
  RunResult run(const std::map<std::string, HostTensor>& inputs);

 private:
  void wait_core(size_t i, const pef::Section& s, const char* phase, uint32_t want_mask);

  driver::Device& dev_;
  arch::Config cfg_;
  SessionOptions opts_;
  std::optional<pef::Pef> pef_;
};

}  // namespace openrdu::runtime
