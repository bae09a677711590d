// Run profiles (`docs/runtime.md` ("snrun batches and profiles")): spans on a simulated-time line, their
// Chrome trace / Perfetto JSON, and the per-section PCU usage decoded from a PEF.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "openrdu/arch/config.h"
#include "openrdu/pef/pef.h"

namespace openrdu::runtime {

// One span of device activity, in core cycles. Tracks used by the session:
// "configuration", "run", "dma host->device", "dma device->host", "batch".
struct TraceSpan {
  std::string track;
  std::string name;
  uint64_t start = 0;  // core cycle
  uint64_t dur = 0;    // cycles
  std::vector<std::pair<std::string, std::string>> args;  // values written as JSON strings
  std::vector<std::pair<std::string, uint64_t>> num_args; // values written as JSON numbers
};

// Chrome trace JSON: {"traceEvents":[...], "displayTimeUnit":"ns", "otherData":{...}}.
// Every span is a "ph":"X" event with ts/dur in microseconds at clock_mhz, pid 1 (the
// device, named `device_name` by a process_name metadata event) and one tid per track
// (named by thread_name metadata events, in order of first appearance).
std::string profile_json(const std::vector<TraceSpan>& spans, uint32_t clock_mhz, const std::string& device_name);
// Atomic: temporary file in the same directory, then rename. Throws naming the file.
void write_profile(const std::string& path, const std::vector<TraceSpan>& spans, uint32_t clock_mhz,
                   const std::string& device_name);

// PCUs enabled by each section's bitstream (arch::parse_bitstream + PcuConfig::decode).
struct SectionUsage {
  std::string name;
  uint32_t pcus_used = 0;
  uint32_t pcus_present = 0;
};
std::vector<SectionUsage> section_usage(const arch::Config& cfg, const pef::Pef& pef);

// JSON string literal with quotes and escapes.
std::string json_quote(const std::string& s);

}  // namespace openrdu::runtime
