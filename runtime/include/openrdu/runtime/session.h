// Runtime session: open a device, load a PEF onto it (fingerprint checked, tensors and
// bitstreams placed in device DRAM, weights and bitstreams uploaded once), then run the
// schedule on many inputs (`docs/runtime.md` ("Runtime")).
//
//   auto s = runtime::Session::open("func", arch::load_config("tiny"));
//   s->load(pef::read_file("model.pef"));
//   for (...) outputs = s->run({{"x", x}}).outputs;
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "openrdu/arch/config.h"
#include "openrdu/pef/pef.h"
#include "openrdu/driver/counters.h"
#include "openrdu/driver/device.h"
#include "openrdu/runtime/checks.h"
#include "openrdu/runtime/dram.h"
#include "openrdu/runtime/npy.h"
#include "openrdu/runtime/profile.h"

namespace openrdu::runtime {

struct SessionOptions {
  double timeout_s = 60;  // per wait (configuration, run, DMA)
  // Device WATCHDOG for every run (cycles; 0 = off). A run that reaches it fails with
  // error WATCHDOG naming the first unit not done, and the device is reset.
  uint32_t watchdog_cycles = 100'000'000;
  // Program the device's DRAM protection (section 19) at load: only the PEF's tensors
  // and bitstreams (each plus 4*LANES bytes, a read request's reach) are accessible.
  bool protect_dram = true;
  // FAULT register value written before every run (section 19; 0 = none), for
  // reliability tests.
  uint32_t fault = 0;
  // Keep the host copy of the weights after the upload, to upload them again after a
  // failed run. Off: the copy is released during the first upload, page by page as it
  // reaches the device (host and device never hold the weights twice: snrun's memory);
  // a run after a failed run then throws instead (load the PEF again).
  bool keep_weights = true;
  // Tiles (`docs/hardware.md` ("Tiles")): the physical tiles the program runs on, in
  // order (empty: the whole device, as without tiles). The PEF must be compiled for as
  // many tiles (sncompile --tiles N); load relocates its bitstreams onto these tiles,
  // run configures, starts and waits through TILE_CTRL, TILE_IRQ_STATUS and TILE_ERRt of
  // these tiles only, and the session leaves the device-wide registers to whoever owns
  // the device (DRAM protection, TILE_OWNER, SOFT_RESET: the node daemon).
  std::vector<uint32_t> tiles{};
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
  uint64_t dma_to_device_bytes = 0;    // inputs (and, first run after a load, weights and bitstreams)
  uint64_t dma_from_device_bytes = 0;  // outputs
  // Configuration, run and DMA spans on the session's simulated-time line (section 18).
  std::vector<TraceSpan> spans;
  // Hardware counters summed over the sections (section 19).
  driver::Counters counters;
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
  driver::Counters counters;  // summed over the samples
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
  // Opens a device (driver::open_device) that the session owns.
  static std::unique_ptr<Session> open(const std::string& backend, const arch::Config& cfg, SessionOptions opts = {},
                                       const driver::DeviceOptions& dev_opts = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  driver::Device& device() { return dev_; }
  // Checks the PEF against the device (fingerprint, weights), places every tensor and
  // bitstream in the DRAM allocator (OutOfMemory naming the tensor, its size and the DRAM
  // free; RuntimeError on overlaps), then uploads the weights and bitstreams by DMA, once.
  // A second load replaces the first. The PEF is kept (moved in when given as an rvalue).
  void load(pef::Pef pef);
  // Forgets the program and frees its DRAM.
  void unload();
  // Checks the inputs, copies them in, runs every step of the schedule in order, returns
  // the outputs. Throws RuntimeError naming the section, register, error code or unit.
  // After a failed run the weights and bitstreams are uploaded again before the next.
  RunResult run(const std::map<std::string, HostTensor>& inputs);
  // Runs the loaded program once per sample (batch_size; inputs sliced by batch_sample),
  // calling progress(done, n) after each sample.
  BatchResult run_batch(const std::map<std::string, HostTensor>& batched,
                        const std::function<void(size_t, size_t)>& progress = {});

  // The current contents of a loaded tensor of any role, by DMA (converted from device
  // words per its dtype; section 9). Throws RuntimeError naming an unknown tensor.
  HostTensor read_tensor(const std::string& name);
  // New contents of a loaded tensor by DMA: shape equal to the tensor's and a dtype it
  // accepts (errors name the tensor and both shapes or dtypes). A weight's new contents
  // also replace the session's copy of its initial data (when kept: keep_weights), so the
  // re-upload after a failed run keeps them.
  void write_tensor(const std::string& name, const HostTensor& value);
  // The loaded PEF (RuntimeError when none is).
  const pef::Pef& program() const;

 const DramAllocator& dram() const { return dram_; }
  // Number of times the weights and bitstreams were uploaded (1 per load, plus 1 per failed run).
  uint64_t uploads() const { return uploads_; }

 private:
  void upload(RunResult& r);
  void upload_weights(RunResult& r);
  const pef::Tensor& loaded_tensor(const std::string& name, const char* what) const;
  RunResult run_steps(const std::map<std::string, std::vector<uint32_t>>& inputs);  // input name -> device words
  void wait_core(size_t i, const pef::Section& s, const char* phase, uint32_t want_mask);
  // With SessionOptions::tiles: the tiles as a mask, and the wait for their interrupt
  // causes (TILE_IRQ_STATUS) that returns TILE_ERR of the first tile on an error.
  uint32_t tile_mask() const;
  void enable_interrupts();
  bool wait_tiles(uint32_t want, uint32_t& err);
  void relocate(pef::Pef& program) const;
  // The session's simulated-time cursor, moved up to the device's cycle counter.
  uint64_t now();
  void dma_span(RunResult& r, bool to_device, const std::string& what, uint64_t addr, uint64_t bytes, uint64_t t0);

  std::unique_ptr<driver::Device> owned_;
  driver::Device& dev_;
  arch::Config cfg_;
  SessionOptions opts_;
  std::optional<pef::Pef> pef_;
  DramAllocator dram_;
  bool uploaded_ = false;
  bool weights_released_ = false;  // keep_weights off: pef_->weights was given up at the upload
  uint64_t uploads_ = 0;
  RunResult pending_;  // the upload's DMA spans and bytes, reported with the next run
  std::vector<std::vector<bool>> used_units_;  // per section: units its bitstream configures (counters read)
  uint64_t cursor_ = 0;
};

}  // namespace openrdu::runtime
