#include "openrdu/arch/bitstream.h"

#include <fmt/format.h>

#include "openrdu/arch/crc32.h"

namespace openrdu::arch {

namespace {
uint32_t bits(uint32_t w, unsigned lsb, unsigned width) { return (w >> lsb) & ((1u << width) - 1u); }
}  // namespace

// ----------------------------------------------------------------------------- PCU
std::vector<uint32_t> PcuConfig::encode(const Config& cfg) const {
  if (stages.size() > cfg.stages)
    throw std::invalid_argument(fmt::format("PCU program has {} stages, configuration '{}' has {}", stages.size(),
                                            cfg.name, cfg.stages));
  std::vector<uint32_t> w(cfg.config_words(UnitKind::Pcu), 0);
  w[0] = (enable ? 1u : 0u) | (uint32_t(out_reg & 7) << 4) | (uint32_t(vin_mask & 7) << 8);
  w[1] = count;
  for (size_t s = 0; s < stages.size(); ++s) {
    const PcuStage& st = stages[s];
    w[2 + 2 * s] = (uint32_t(st.op) & 0x1F) | (uint32_t(st.src_a & 0xF) << 8) | (uint32_t(st.src_b & 0xF) << 12) |
                   (uint32_t(st.dst & 7) << 16) | (uint32_t(st.src_c & 0xF) << 20);
    w[3 + 2 * s] = st.imm;
  }
  return w;
}

PcuConfig PcuConfig::decode(const Config& cfg, std::span<const uint32_t> words) {
  std::vector<uint32_t> w(cfg.config_words(UnitKind::Pcu), 0);
  for (size_t i = 0; i < words.size() && i < w.size(); ++i) w[i] = words[i];
  PcuConfig c;
  c.enable = bits(w[0], 0, 1);
  c.out_reg = bits(w[0], 4, 3);
  c.vin_mask = bits(w[0], 8, 3);
  c.count = w[1];
  c.stages.resize(cfg.stages);
  for (uint32_t s = 0; s < cfg.stages; ++s) {
    c.stages[s].op = static_cast<Opcode>(bits(w[2 + 2 * s], 0, 5));
    c.stages[s].src_a = bits(w[2 + 2 * s], 8, 4);
    c.stages[s].src_b = bits(w[2 + 2 * s], 12, 4);
    c.stages[s].dst = bits(w[2 + 2 * s], 16, 3);
    c.stages[s].src_c = bits(w[2 + 2 * s], 20, 4);
    c.stages[s].imm = w[3 + 2 * s];
  }
  return c;
}

// ----------------------------------------------------------------------------- PMU
std::vector<uint32_t> PmuConfig::encode() const {
  return {(enable ? 1u : 0u) | (uint32_t(mode & 3) << 1),
          wr.base, wr.c0, uint32_t(wr.s0), wr.c1, uint32_t(wr.s1),
          rd.base, rd.c0, uint32_t(rd.s0), rd.c1, uint32_t(rd.s1)};
}

PmuConfig PmuConfig::decode(std::span<const uint32_t> words) {
  uint32_t w[kPmuWords] = {};
  for (size_t i = 0; i < words.size() && i < kPmuWords; ++i) w[i] = words[i];
  PmuConfig c;
  c.enable = bits(w[0], 0, 1);
  c.mode = bits(w[0], 1, 2);
  c.wr = {w[1], w[2], w[4], int32_t(w[3]), int32_t(w[5])};
  c.rd = {w[6], w[7], w[9], int32_t(w[8]), int32_t(w[10])};
  return c;
}

// ----------------------------------------------------------------------------- AGCU
std::vector<uint32_t> AgcuConfig::encode() const {
  std::vector<uint32_t> w;
  w.reserve(kAgcuWords);
  for (const AgcuStream* s : {&ld[0], &ld[1], &st}) {
    w.push_back((s->enable ? 1u : 0u) | (s->bcast ? 2u : 0u));
    w.push_back(s->base);
    w.push_back(s->inner);
    w.push_back(s->c1);
    w.push_back(uint32_t(s->s1));
    w.push_back(s->c2);
    w.push_back(uint32_t(s->s2));
  }
  return w;
}

AgcuConfig AgcuConfig::decode(std::span<const uint32_t> words) {
  uint32_t w[kAgcuWords] = {};
  for (size_t i = 0; i < words.size() && i < kAgcuWords; ++i) w[i] = words[i];
  AgcuConfig c;
  AgcuStream* streams[3] = {&c.ld[0], &c.ld[1], &c.st};
  for (int k = 0; k < 3; ++k) {
    const uint32_t* p = w + kAgcuStreamWords * k;
    AgcuStream& s = *streams[k];
    s.enable = bits(p[0], 0, 1);
    s.bcast = bits(p[0], 1, 1);
    s.base = p[1];
    s.inner = p[2];
    s.c1 = p[3];
    s.s1 = int32_t(p[4]);
    s.c2 = p[5];
    s.s2 = int32_t(p[6]);
  }
  return c;
}

// ----------------------------------------------------------------------------- switch
std::vector<uint32_t> SwitchConfig::encode() const {
  std::vector<uint32_t> w(kSwitchWords, 0);
  for (uint32_t n = 0; n < 3; ++n)
    for (uint32_t o = 0; o < kSwitchOutputs; ++o) w[n] |= uint32_t(sel[n][o] & 0xF) << (4 * o);
  return w;
}

SwitchConfig SwitchConfig::decode(std::span<const uint32_t> words) {
  SwitchConfig c;
  for (uint32_t n = 0; n < 3 && n < words.size(); ++n)
    for (uint32_t o = 0; o < kSwitchOutputs; ++o) c.sel[n][o] = bits(words[n], 4 * o, 4);
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

std::vector<std::vector<uint32_t>> parse_bitstream(const Config& cfg, std::span<const uint32_t> w) {
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
