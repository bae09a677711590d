#include "openrdu/arch/bitstream.h"

#include <fmt/format.h>

#include <algorithm>

#include "openrdu/arch/crc32.h"

namespace openrdu::arch {

namespace bits = gen::bits;

namespace {
// words, zero-extended (or cut) to n words: a record may write fewer words than the unit has.
std::vector<uint32_t> padded(std::span<const uint32_t> words, uint32_t n) {
  std::vector<uint32_t> w(n, 0);
  std::copy_n(words.begin(), std::min<size_t>(words.size(), n), w.begin());
  return w;
}
}  // namespace

// ----------------------------------------------------------------------------- PCU
std::vector<uint32_t> PcuConfig::encode(const Config& cfg) const {
  if (stages.size() > cfg.stages)
    throw std::invalid_argument(fmt::format("PCU program has {} stages, configuration '{}' has {}", stages.size(),
                                            cfg.name, cfg.stages));
  std::vector<uint32_t> w(cfg.config_words(UnitKind::Pcu), 0);
  bits::pack_pcu_head(*this, &w[bits::kPcuHeadBase]);
  for (size_t s = 0; s < stages.size(); ++s) bits::pack_pcu_stage(stages[s], &w[bits::kPcuStageBase + bits::kPcuStageWords * s]);
  const uint32_t cw = bits::pcu_ctr_base(cfg.stages);  // the counter chain's words
  if (std::all_of(ctr.begin(), ctr.end(), [](const PcuCounter& k) { return k == PcuCounter{}; })) {
    w.resize(cw);
  } else {
    for (uint32_t k = 0; k < kPcuCounters; ++k) bits::pack_pcu_ctr(ctr[k], &w[cw + bits::kPcuCtrWords * k]);
  }
  return w;
}

PcuConfig PcuConfig::decode(const Config& cfg, std::span<const uint32_t> words) {
  const std::vector<uint32_t> w = padded(words, cfg.config_words(UnitKind::Pcu));
  PcuConfig c;
  bits::unpack_pcu_head(c, &w[bits::kPcuHeadBase]);
  c.stages.resize(cfg.stages);
  for (uint32_t s = 0; s < cfg.stages; ++s)
    bits::unpack_pcu_stage(c.stages[s], &w[bits::kPcuStageBase + bits::kPcuStageWords * s]);
  const uint32_t cw = bits::pcu_ctr_base(cfg.stages);
  for (uint32_t k = 0; k < kPcuCounters; ++k) bits::unpack_pcu_ctr(c.ctr[k], &w[cw + bits::kPcuCtrWords * k]);
  return c;
}

// ----------------------------------------------------------------------------- PMU
std::vector<uint32_t> PmuConfig::encode() const {
  std::vector<uint32_t> w(kPmuWords, 0);
  bits::pack_pmu_head(*this, &w[bits::kPmuHeadBase]);
  bits::pack_pmu_side(wr, &w[bits::kPmuSideBase]);
  bits::pack_pmu_side(rd, &w[bits::kPmuSideBase + bits::kPmuSideWords]);
  return w;
}

PmuConfig PmuConfig::decode(std::span<const uint32_t> words) {
  const std::vector<uint32_t> w = padded(words, kPmuWords);
  PmuConfig c;
  bits::unpack_pmu_head(c, &w[bits::kPmuHeadBase]);
  bits::unpack_pmu_side(c.wr, &w[bits::kPmuSideBase]);
  bits::unpack_pmu_side(c.rd, &w[bits::kPmuSideBase + bits::kPmuSideWords]);
  return c;
}

// ----------------------------------------------------------------------------- AGCU
uint32_t AgcuStream::valid_lanes(uint32_t lanes, const uint32_t idx[4]) const {
  const uint64_t step = vstep == 0 ? lanes : vstep;
  const uint64_t off = uint64_t(idx[vdim & 3]) * step;
  const uint64_t rem = off >= vlen ? 0 : vlen - off;
  return uint32_t(std::min<uint64_t>({uint64_t(lanes), step, rem}));
}

AgcuStream AgcuStream::linear(uint32_t base, uint32_t inner, uint32_t lanes) {
  AgcuStream s;
  s.enable = true;
  s.base = base;
  s.lstride = 1;
  s.vdim = 0;
  s.vlen = inner;
  s.vstep = lanes;
  s.c[0] = uint32_t((uint64_t(inner) + lanes - 1) / lanes);
  s.s[0] = int32_t(lanes);
  return s;
}

std::vector<uint32_t> AgcuConfig::encode() const {
  std::vector<uint32_t> w(kAgcuWords, 0);
  const AgcuStream* streams[bits::kAgcuStreamN] = {&ld[0], &ld[1], &st};
  for (uint32_t k = 0; k < bits::kAgcuStreamN; ++k)
    bits::pack_agcu_stream(*streams[k], &w[bits::kAgcuStreamBase + kAgcuStreamWords * k]);
  return w;
}

AgcuConfig AgcuConfig::decode(std::span<const uint32_t> words) {
  const std::vector<uint32_t> w = padded(words, kAgcuWords);
  AgcuConfig c;
  AgcuStream* streams[bits::kAgcuStreamN] = {&c.ld[0], &c.ld[1], &c.st};
  for (uint32_t k = 0; k < bits::kAgcuStreamN; ++k)
    bits::unpack_agcu_stream(*streams[k], &w[bits::kAgcuStreamBase + kAgcuStreamWords * k]);
  return c;
}

// ----------------------------------------------------------------------------- switch
std::vector<uint32_t> SwitchConfig::encode() const {
  std::vector<uint32_t> w(kSwitchWords, 0);
  for (uint32_t n = 0; n < bits::kSwitchNetN; ++n) bits::pack_switch_net(sel[n], &w[bits::kSwitchNetBase + n]);
  return w;
}

SwitchConfig SwitchConfig::decode(std::span<const uint32_t> words) {
  const std::vector<uint32_t> w = padded(words, kSwitchWords);
  SwitchConfig c;
  for (uint32_t n = 0; n < bits::kSwitchNetN; ++n) bits::unpack_switch_net(c.sel[n], &w[bits::kSwitchNetBase + n]);
  return c;
}

// ----------------------------------------------------------------------------- stream
std::vector<uint32_t> assemble_bitstream(const Config& cfg, const UnitWords& units) {
  std::vector<uint32_t> out = {kBitstreamMagic, kBitstreamVersion, cfg.fingerprint(), 0};
  for (const auto& [id, words] : units) {
    const UnitKind kind = cfg.unit_kind(id);
    if (words.size() > cfg.config_words(kind))
      throw std::invalid_argument(fmt::format("{}: {} configuration words, the unit has {}", cfg.unit_name(id),
                                              words.size(), cfg.config_words(kind)));
    out.push_back((id << 16) | uint32_t(words.size()));
    out.insert(out.end(), words.begin(), words.end());
  }
  out.push_back(kBitstreamTerminator);
  out[3] = uint32_t(out.size() + 1);
  out.push_back(crc32(out.data(), out.size() * 4));
  return out;
}

std::vector<std::vector<uint32_t>> parse_bitstream(const Config& cfg, std::span<const uint32_t> w, uint32_t tiles) {
  constexpr uint32_t kNoUnit = 0xFFFF;
  auto fail = [](ErrorCode code, uint32_t unit, const std::string& msg) -> void {
    throw BitstreamError(code, unit, fmt::format("configuration error {}: {}", gen::error_name(uint32_t(code)), msg));
  };
  const size_t n = w.size();
  if (n < 1) fail(ErrorCode::TRUNCATED, kNoUnit, "bitstream is empty");
  if (w[0] != kBitstreamMagic) fail(ErrorCode::BAD_MAGIC, kNoUnit, fmt::format("word 0 is 0x{:08X}, not the magic 0x{:08X}", w[0], kBitstreamMagic));
  if (n < 2) fail(ErrorCode::TRUNCATED, kNoUnit, "bitstream ends in its header");
  if (w[1] != kBitstreamVersion) fail(ErrorCode::BAD_VERSION, kNoUnit, fmt::format("format version {} (supported: {})", w[1], kBitstreamVersion));
  if (n < 3) fail(ErrorCode::TRUNCATED, kNoUnit, "bitstream ends in its header");
  if (w[2] != cfg.fingerprint())
    fail(ErrorCode::BAD_FINGERPRINT, kNoUnit,
         fmt::format("bitstream fingerprint 0x{:08X}, device configuration '{}' has 0x{:08X}", w[2], cfg.name,
                     cfg.fingerprint()));
  if (n < 4) fail(ErrorCode::TRUNCATED, kNoUnit, "bitstream ends in its header");
  if (w[3] != n) fail(ErrorCode::BAD_LENGTH, kNoUnit, fmt::format("length word says {} words, CFG_LEN gives {}", w[3], n));

  std::vector<std::vector<uint32_t>> units(cfg.num_units());
  for (uint32_t id = 0; id < cfg.num_units(); ++id) units[id].assign(cfg.config_words(cfg.unit_kind(id)), 0);

  size_t i = 4;
  while (true) {
    if (i >= n - 1) fail(ErrorCode::TRUNCATED, kNoUnit, fmt::format("no terminator before the CRC word {}", n - 1));
    const uint32_t h = w[i];
    if (h == kBitstreamTerminator) {
      if (i != n - 2) fail(ErrorCode::BAD_LENGTH, kNoUnit, fmt::format("terminator at word {}, expected at word {}", i, n - 2));
      break;
    }
    const uint32_t id = h >> 16, nw = h & 0xFFFF;
    if (id >= cfg.num_units())
      fail(ErrorCode::BAD_UNIT, id, fmt::format("record at word {} names unit {}, the configuration has {}", i, id, cfg.num_units()));
    if (tiles != 0 && !(tiles >> cfg.tile_of(id) & 1))
      fail(ErrorCode::BAD_UNIT, id, fmt::format("record at word {} names {} of tile {}, outside the tiles configured (mask 0x{:02X})",
                                               i, cfg.unit_name(id), cfg.tile_of(id), tiles));
    if (nw > cfg.config_words(cfg.unit_kind(id)))
      fail(ErrorCode::BAD_WORDS, id, fmt::format("record at word {} writes {} words to {}, which has {}", i, nw,
                                                 cfg.unit_name(id), cfg.config_words(cfg.unit_kind(id))));
    ++i;
    for (uint32_t k = 0; k < nw; ++k, ++i) {
      if (i >= n - 1) fail(ErrorCode::TRUNCATED, id, fmt::format("record for {} runs into the CRC word", cfg.unit_name(id)));
      units[id][k] = w[i];
    }
  }
  const uint32_t crc = crc32(w.data(), (n - 1) * 4);
  if (crc != w[n - 1]) fail(ErrorCode::BAD_CRC, kNoUnit, fmt::format("CRC-32 0x{:08X} computed, 0x{:08X} stored", crc, w[n - 1]));
  return units;
}

}  // namespace openrdu::arch
