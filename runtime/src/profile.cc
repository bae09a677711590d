#include "openrdu/runtime/profile.h"

#include "openrdu/arch/file.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <unistd.h>

#include <fmt/format.h>

#include "openrdu/arch/bitstream.h"

namespace openrdu::runtime {

std::string json_quote(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\r': o += "\\r"; break;
      case '\t': o += "\\t"; break;
      default:
        if (c < 0x20) o += fmt::format("\\u{:04x}", c);
        else o += static_cast<char>(c);
    }
  }
  return o + "\"";
}

namespace {
// Cycles to microseconds at the clock, exact to the nanosecond for integer MHz.
std::string us(uint64_t cycles, uint32_t mhz) {
  const double v = static_cast<double>(cycles) / static_cast<double>(mhz);
  return fmt::format("{:.3f}", v);
}
}  // namespace

std::string profile_json(const std::vector<TraceSpan>& spans, uint32_t clock_mhz, const std::string& device_name) {
  if (clock_mhz == 0) throw std::invalid_argument("profile: clock_mhz is 0");
  std::map<std::string, int> tids;
  std::vector<std::string> order;
  for (const auto& s : spans)
    if (tids.emplace(s.track, static_cast<int>(tids.size()) + 1).second) order.push_back(s.track);
  std::string o = "{\"traceEvents\":[\n";
  o += fmt::format("{{\"ph\":\"M\",\"pid\":1,\"tid\":0,\"name\":\"process_name\",\"args\":{{\"name\":{}}}}}",
                   json_quote(device_name));
  for (const auto& t : order)
    o += fmt::format(",\n{{\"ph\":\"M\",\"pid\":1,\"tid\":{},\"name\":\"thread_name\",\"args\":{{\"name\":{}}}}}",
                     tids[t], json_quote(t));
  for (const auto& s : spans) {
    o += fmt::format(",\n{{\"ph\":\"X\",\"pid\":1,\"tid\":{},\"name\":{},\"cat\":{},\"ts\":{},\"dur\":{},\"args\":{{",
                     tids[s.track], json_quote(s.name), json_quote(s.track), us(s.start, clock_mhz),
                     us(s.dur, clock_mhz));
    bool first = true;
    for (const auto& [k, v] : s.num_args) {
      o += fmt::format("{}{}:{}", first ? "" : ",", json_quote(k), v);
      first = false;
    }
    for (const auto& [k, v] : s.args) {
      o += fmt::format("{}{}:{}", first ? "" : ",", json_quote(k), json_quote(v));
      first = false;
    }
    o += "}}";
  }
  o += fmt::format("\n],\"displayTimeUnit\":\"ns\",\"otherData\":{{\"clock_mhz\":{},\"time\":\"simulated\"}}}}\n",
                   clock_mhz);
  return o;
}

void write_profile(const std::string& path, const std::vector<TraceSpan>& spans, uint32_t clock_mhz,
                   const std::string& device_name) {
  const std::string text = profile_json(spans, clock_mhz, device_name);
  try {
    arch::write_file_atomic(path, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(fmt::format("profile {}", e.what()));
  }
}

std::vector<SectionUsage> section_usage(const arch::Config& cfg, const pef::Pef& pef) {
  std::vector<SectionUsage> out;
  for (const auto& s : pef.sections) {
    SectionUsage u;
    u.name = s.name;
    u.pcus_present = cfg.num_pcu();
    const auto units = arch::parse_bitstream(cfg, s.bitstream);
    for (uint32_t id = 0; id < units.size(); ++id)
      if (cfg.unit_kind(id) == arch::UnitKind::Pcu && arch::PcuConfig::decode(cfg, units[id]).enable) ++u.pcus_used;
    out.push_back(u);
  }
  return out;
}

}  // namespace openrdu::runtime
