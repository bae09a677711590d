// Runtime session: load a PEF onto a device and run it (docs/architecture.md section 10).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "openrdu/arch/config.h"
#include "openrdu/pef/pef.h"
#include "openrdu/runtime/checks.h"
#include "openrdu/runtime/npy.h"
#include "openrdu/runtime/profile.h"

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
  uint64_t dma_to_device_bytes = 0;    // constants, inputs and bitstreams
  uint64_t dma_from_device_bytes = 0;  // outputs
  // Configuration, run and DMA spans on the session's simulated-time line (section 18).
  std::vector<TraceSpan> spans;
};

// A batch run (section 18): outputs stacked as [N, ...model output shape], the totals
// over all samples, every sample's spans plus one "batch" span per sample.
struct BatchResult {
  size_t samples = 0;
  std::map<std::string, HostTensor> outputs;
  std::vector<SectionReport> sections;  // summed over the samples (cycles, config cycles)
  uint64_t total_cycles = 0, total_config_cycles = 0;
  uint64_t dma_to_device_bytes = 0, dma_from_device_bytes = 0;
  std::vector<TraceSpan> spans;
};

// Batch size of inputs given by name: every input of the PEF present (no unknown name) with
// shape [N, ...model shape], or [N, ...rest] for a model shape [1, ...rest]; N >= 1 and the
// same for every input. Throws RuntimeError naming the inputs and their shapes.
size_t batch_size(const pef::Pef& pef, const std::map<std::string, HostTensor>& batched);
// Sample i of a batch, each tensor with the model's input shape.
std::map<std::string, HostTensor> batch_sample(const pef::Pef& pef, const std::map<std::string, HostTensor>& batched,
                                               size_t i);

class Session {
 public:
  // `cfg` is the configuration the device was opened with (for unit names in errors).
  Session(driver::Device& device, const arch::Config& cfg, SessionOptions opts = {});

  // Checks the PEF against the device (fingerprint, DRAM placement); throws RuntimeError.
  void load(const pef::Pef& pef);
  // Checks the inputs, runs every section in order, returns the outputs. Throws
  // RuntimeError naming the section, register, error code or unit.
  RunResult run(const std::map<std::string, HostTensor>& inputs);
  // Runs the loaded program once per sample (batch_size; inputs sliced by batch_sample),
  // calling progress(done, n) after each sample.
  BatchResult run_batch(const std::map<std::string, HostTensor>& batched,
                        const std::function<void(size_t, size_t)>& progress = {});

 private:
  void wait_core(size_t i, const pef::Section& s, const char* phase, uint32_t want_mask);
  // The session's simulated-time cursor, moved up to the device's cycle counter.
  uint64_t now();
  void dma_span(RunResult& r, bool to_device, const std::string& what, uint64_t addr, uint64_t bytes, uint64_t t0);

  driver::Device& dev_;
  arch::Config cfg_;
  SessionOptions opts_;
  std::optional<pef::Pef> pef_;
  uint64_t cursor_ = 0;
};

}  // namespace openrdu::runtime
