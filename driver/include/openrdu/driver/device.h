// Driver API (`docs/runtime.md`): one interface, one implementation per
// backend ("verilator": the Verilated RTL core, "func": the functional model), both on
// the SystemC platform. One device per process (the SystemC kernel elaborates once).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "openrdu/arch/config.h"

namespace openrdu::driver {

struct DeviceOptions {
  std::string trace_file;  // FST waveform (verilator backend); empty: off
  uint64_t trace_start = 0, trace_stop = UINT64_MAX;  // core cycles
  double timeout_s = 60;   // default limit of every wait (wall-clock and simulated)
  // Under a node daemon (backend "unix:PATH", `docs/daemon.md`): wait in line when every
  // tile is taken (true) or be refused at once; the name the daemon shows for the app.
  bool wait_for_tiles = true;
  std::string app_name;
  // Under a node daemon: consecutive tiles of one RDU to ask for (a PEF compiled with
  // sncompile --tiles N needs N); 0: a whole RDU.
  uint32_t tiles = 0;
};

struct DeviceInfo {
  std::string backend;  // "verilator", "func"
  std::string config;   // configuration name
  uint32_t id = 0, version = 0, fingerprint = 0;
  uint32_t rows = 0, cols = 0, agcu = 0;
  uint32_t lanes = 0, stages = 0, regs = 0, vin = 0;
  uint32_t pmu_bytes = 0;
  uint64_t dram_bytes = 0;
  // Under a node daemon: the application's DRAM window is [dram_base, dram_base +
  // dram_bytes) of RDU `rdu`, its tiles are `tiles` (physical indices in that RDU), and
  // the daemon owns the protection registers (PROT_*): `managed`.
  uint64_t dram_base = 0;
  bool managed = false;
  uint32_t rdu = 0;
  std::vector<uint32_t> tiles;
  uint64_t app = 0;  // the daemon's application id
};

struct SimStats {
  uint64_t cycles = 0;           // simulated core cycles
  double wall_seconds = 0;       // wall-clock time spent simulating
  double cycles_per_second = 0;  // evaluated cycles per wall-clock second
  uint64_t evaluated_cycles = 0; // cycles the model evaluated (the RTL core skips idle ones)
  std::string trace_file;
  uint64_t trace_bytes = 0;
};

// A wait that passed its timeout; the message names the register or unit waited on.
class TimeoutError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// MSI vectors.
inline constexpr unsigned kIrqCore = 0;
inline constexpr unsigned kIrqDma = 1;       // DMA completion
inline constexpr unsigned kIrqDmaError = 2;  // DMA descriptor ring error

class Device {
 public:
  virtual ~Device() = default;
  virtual const DeviceInfo& info() const = 0;
  // BAR0 (offsets of openrdu/gen/regs.h).
  virtual uint32_t read32(uint32_t offset) = 0;
  virtual void write32(uint32_t offset, uint32_t value) = 0;
  // Through the DMA engine; throw naming the addresses when the engine reports an
  // error (outside device DRAM), TimeoutError when its interrupt does not come.
  virtual void copy_to_device(const void* src, uint64_t dev_addr, size_t bytes) = 0;
  virtual void copy_from_device(void* dst, uint64_t dev_addr, size_t bytes) = 0;
  // Wait for one MSI of `vector` (0 core, 1 DMA) that arrived since the last wait_irq
  // of that vector; false after timeout_s (< 0: the device's default). The core MSI
  // fires on a rising edge of irq: clear IRQ_STATUS (w1c) before waiting for the next.
  virtual bool wait_irq(unsigned vector, double timeout_s = -1) = 0;
  // CTRL.SOFT_RESET (IRQ_ENABLE and SCRATCH are kept) and drop pending MSIs.
  virtual void reset() = 0;
  // Zeroes device DRAM [dev_addr, dev_addr + bytes): the node daemon's scrub of a freed
  // window. The simulated devices clear their DRAM model at once (no simulated time);
  // this default writes zeros through copy_to_device.
  virtual void zero_dram(uint64_t dev_addr, uint64_t bytes);
  virtual uint64_t cycles() = 0;  // simulated core cycles
  virtual SimStats sim_stats() = 0;
};

// backend "unix:PATH": a device served by the node daemon listening on PATH (`snd`,
// docs/daemon.md); its configuration must be `cfg`'s.
// backend "verilator" (configurations tiny, small, plasticine when built) or "func". Throws naming
// what is available on an unknown backend or configuration. The device comes up with
// IRQ_ENABLE = CONFIG_DONE | RUN_DONE | ERROR.
std::unique_ptr<Device> open_device(const std::string& backend, const arch::Config& cfg,
                                    const DeviceOptions& opt = {});

// The client side of a node daemon (open_device("unix:PATH", ...) calls it).
std::unique_ptr<Device> open_remote_device(const std::string& socket_path, const arch::Config& cfg,
                                           const DeviceOptions& opt = {});
inline bool is_node_device(const std::string& backend) { return backend.rfind("unix:", 0) == 0; }

// Backends and their configurations in this build, e.g. {"func", "verilator"}.
std::vector<std::string> backends();
std::vector<std::string> verilator_configs();

}  // namespace openrdu::driver
