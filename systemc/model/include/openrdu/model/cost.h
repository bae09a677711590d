// The functional model's cost model: how many cycles a unit is busy for the work it
// does, and what a run costs beyond its busiest unit (`docs/bitstream.md`,
// "Estimated cycles" of systemc/model/src/core.cc). One copy of these rules: the model's
// units (busy_cycles(), from the work counted during a run) and the compiler's estimate
// (compiler/src/lower_matmul.cc estimate_cycles, from a section's configuration before
// it runs) both call them.
#pragma once
#include <cstdint>
#include <span>

#include "openrdu/arch/bitstream.h"
#include "openrdu/arch/config.h"

namespace openrdu::model {

// PCU: firings (or outputs, when more) plus the pipeline and output register latency;
// 0 when it never fired.
uint64_t pcu_busy_cycles(const arch::Config& cfg, uint64_t firings, uint64_t outputs);
// Output vectors of a complete run of c: one per firing in stream mode; in accumulator
// mode, per group the acc stages' rows and, in a drain chain, the rows it forwards.
uint64_t pcu_outputs(const arch::PcuConfig& c);

// PMU with `writes` and `reads` accesses made over all tiles. Sequential (one buffer
// or one tile): every write then every read. N-buffered: the busier side plus one tile
// of the other side (fill / drain). Plus the read latency when it read.
uint64_t pmu_busy_cycles(const arch::PmuConfig& c, uint64_t writes, uint64_t reads);

// The work of one AGCU: memory requests over all its streams (a gather/scatter vector
// counting its valid lanes, at least 1), those of each load stream, and the tiles after
// which its store stream waited for its acknowledgements (tout: store-done tokens).
struct AgcuWork {
  uint64_t requests = 0;
  uint64_t ld_requests[2] = {0, 0};
  uint64_t store_tiles_waited = 0;
};
// The memory port takes one request per cycle (all streams); a load stream keeps at most
// AGCU_INFLIGHT requests in flight, each taking the DRAM latency plus 3 cycles of request
// and response path; a store-done wait costs about one DRAM latency per tile.
uint64_t agcu_busy_cycles(const arch::Config& cfg, const AgcuWork& w);

// The core's memory ports (one per DRAM channel): port p takes one request per cycle from
// the AGCUs k with k mod ports = p. agcu_requests[k]: the requests of AGCU k.
uint64_t port_busy_cycles(const arch::Config& cfg, std::span<const uint64_t> agcu_requests);

// A run's cycles from its busiest unit or port: plus the fill latency of one pipeline
// through memory (DRAM latency), the longest switch path (2*(ROWS+COLS+2)) and a PCU.
uint64_t run_cycles(const arch::Config& cfg, uint64_t busy);

}  // namespace openrdu::model
