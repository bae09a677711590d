// The simulated OpenRDU device (`docs/platform.md` ("Platform (SystemC)")): host memory, a
// PCIe-like endpoint (BAR0, DMA engine, MSI, link model), a sparse DRAM model and a
// core (the Verilated RTL or the functional model). One Platform per process: the
// SystemC kernel elaborates once. This header does not include SystemC.
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "openrdu/arch/config.h"

namespace openrdu::platform {

enum class CoreKind { Rtl, Func };

struct PlatformOptions {
  CoreKind core = CoreKind::Func;
  // FST waveform of the RTL core (ignored by the functional core); empty: off.
  std::string trace_file;
  uint64_t trace_start = 0, trace_stop = UINT64_MAX;  // core cycles [start, stop)
  double link_latency_ns = 500;    // each way
  double link_bandwidth_gbs = 32;  // GB/s (1e9 bytes per second)
};

struct SimStats {
  uint64_t core_cycles = 0;     // simulated core clock cycles
  uint64_t sim_time_ps = 0;     // simulated time
  double wall_seconds = 0;      // wall-clock time spent in sc_start
  uint64_t evaluated_cycles = 0;  // cycles the core model evaluated (idle cycles are skipped)
  double cycles_per_second = 0; // evaluated_cycles / wall_seconds
  std::string trace_file;       // empty when not tracing
  uint64_t trace_bytes = 0;     // size of the trace file (after it is closed)
};

// A wait that passed its time limit (wall-clock or simulated) or can never complete.
class TimeoutError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Names of the Verilated cores built into this binary ("tiny", "small", "plasticine").
std::vector<std::string> rtl_core_configs();

class Platform {
 public:
  // Throws std::runtime_error when a Platform was already built in this process, when
  // the RTL core of `cfg` is not built in, or when `cfg` is invalid.
  Platform(const arch::Config& cfg, const PlatformOptions& opt = {});
  ~Platform();
  Platform(const Platform&) = delete;
  Platform& operator=(const Platform&) = delete;

  const arch::Config& config() const;
  std::string core_name() const;  // "rtl tiny", "func tiny"

  // BAR0 accesses from the host (through the link); run the kernel until done.
  // Throw TimeoutError (naming the register) after timeout_s of wall-clock or simulated
  // time, std::runtime_error on an unmapped offset.
  uint32_t mmio_read(uint32_t offset, double timeout_s);
  void mmio_write(uint32_t offset, uint32_t value, double timeout_s);

  // Host memory: DMA buffers with bus addresses (never 0, 4 KiB aligned, above 4 GiB).
  uint64_t host_alloc(size_t bytes);
  void host_free(uint64_t bus_addr);
  uint8_t* host_ptr(uint64_t bus_addr, size_t bytes);  // throws when outside a buffer

  // MSI vectors: 0 core interrupt (rising edge of irq), 1 DMA completion (a register
  // transfer, ok or not; a ring descriptor flagged IRQ), 2 DMA ring error.
  // Consumes one pending MSI of the vector, running the kernel until one arrives;
  // false after timeout_s (wall-clock or simulated) or when nothing can happen any more.
  bool wait_msi(unsigned vector, double timeout_s);
  // The same for any vector of `mask` (bit v = vector v); returns the vector whose MSI
  // was consumed (the lowest pending), or -1.
  int wait_msi_any(uint32_t mask, double timeout_s);
  void clear_msi(unsigned vector);
  uint64_t msi_count(unsigned vector) const;  // MSIs delivered since construction

  // Zeroes device DRAM [addr, addr + bytes) at once, in no simulated time (Dram::zero);
  // throws std::runtime_error when the range is outside DRAM.
  void zero_dram(uint64_t addr, uint64_t bytes);

  // Let the simulation run for `cycles` core cycles (or until nothing can happen).
  void advance(uint64_t cycles);

  uint64_t cycles() const;  // simulated core cycles
  SimStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace openrdu::platform
