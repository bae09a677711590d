// Hardware counters of a device after a run (`docs/platform.md` ("Counters, protection, fault injection, descriptor ring")): per-unit
// activity (PERF_*), DRAM traffic (MEM_*), DMA and link traffic (DMA_*, LINK_*). Read
// from a live device, accumulated over the sections of a schedule, saved as JSON with a
// run's outputs and read back by sntilestat, snddrstat and snpciestat.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "openrdu/arch/config.h"
#include "openrdu/driver/device.h"

namespace openrdu::driver {

struct UnitCounters {
  uint32_t id = 0;        // unit id (PCU/PMU slots, then AGCUs)
  std::string name;       // "pcu0 (0,0)", "agcu1", ...
  std::string kind;       // "pcu", "pmu", "agcu"
  uint64_t active = 0;    // cycles with a vector handshake
  uint64_t stall_in = 0;  // not done, nothing moved, no output waiting
  uint64_t stall_out = 0; // nothing moved, an output waiting for the network
  uint32_t runs = 0;      // runs (sections) in which the unit was counted
};

// DRAM traffic of one channel (DRAM_CH_* registers of the platform: core and DMA).
struct ChannelCounters {
  uint32_t channel = 0;
  uint64_t rd_bytes = 0, wr_bytes = 0, reqs = 0, busy_cycles = 0;
};

struct Counters {
  std::string backend, config;
  uint32_t clock_mhz = 0;
  uint32_t lanes = 0;
  uint32_t dram_bytes_per_cycle = 0, dram_latency_cycles = 0;
  bool estimated = false;  // functional backend: activity is an estimate, stalls on output not modelled
  uint64_t runs = 0;        // runs accumulated
  uint64_t run_cycles = 0;  // sum of CYCLES over the runs
  std::vector<UnitCounters> units;
  uint64_t mem_rd_reqs = 0, mem_wr_reqs = 0, mem_rd_bytes = 0, mem_wr_bytes = 0;
  // Per DRAM channel, the traffic during the counted runs (differences of the channel
  // totals around each run; empty when not measured).
  std::vector<ChannelCounters> dram_channels;
  // DMA and link: totals since the device was opened (not per run).
  uint64_t dma_xfers = 0, dma_h2d_bytes = 0, dma_d2h_bytes = 0, dma_busy_ns = 0;
  uint64_t mmio_reads = 0, mmio_writes = 0;
  uint32_t link_latency_ns = 0, link_mbps = 0;
};

// Read the counters of the last run (and the DMA/link totals) from the device. With
// `units` (indexed by unit id), only the units marked true are read; the others are
// reported as 0, which is what a unit the program does not configure counts (disabled
// units are done at once), and saves the BAR0 accesses.
Counters read_counters(Device& dev, const arch::Config& cfg, const std::vector<bool>* units = nullptr,
                       const std::vector<ChannelCounters>* channels_before = nullptr);
// The DRAM channel totals since reset (DRAM_CH_*), to take before a run: read_counters
// then reports the channels' traffic during the run as the difference.
std::vector<ChannelCounters> read_dram_channels(Device& dev);
// Re-read the DMA and link totals into `c` (after the outputs of a run were copied back).
void refresh_link_counters(Device& dev, Counters& c);
// Add the per-run counters of `run` (one section) to `total`; DMA/link totals are taken
// from `run` (they are cumulative already).
void accumulate(Counters& total, const Counters& run);

std::string to_json(const Counters& c);
// Throws std::runtime_error naming `what` (the file) and the missing or wrong field.
Counters counters_from_json(const std::string& text, const std::string& what);
// Read a counters file: FILE, or DIR/counters.json when given a directory.
Counters load_counters(const std::string& path);

}  // namespace openrdu::driver
