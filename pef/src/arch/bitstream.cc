#include "openrdu/arch/bitstream.h"

#include <fmt/format.h>

#include <algorithm>

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
  w[0] = (enable ? 1u : 0u) | (uint32_t(out_reg & 7) << 4) | (uint32_t(vin_mask & 7) << 8) |
         (uint32_t(out_mode & 1) << 12) | (uint32_t(reduce & 3) << 14) | (uint32_t(chain) << 16) |
         (sin ? 1u << 24 : 0u) | (sout ? 1u << 25 : 0u) | (tin ? 1u << 26 : 0u) | (tout ? 1u << 27 : 0u) |
         (uint32_t(tok_init & 0xF) << 28);
  w[1] = count;
  w[2] = acc_len;
  w[3] = acc_init;
  for (size_t s = 0; s < stages.size(); ++s) {
    const PcuStage& st = stages[s];
    w[4 + 2 * s] = (uint32_t(st.op) & 0x1F) | (uint32_t(st.src_a & 0xF) << 8) | (uint32_t(st.src_b & 0xF) << 12) |
                   (uint32_t(st.dst & 7) << 16) | (uint32_t(st.src_c & 0xF) << 20) | (uint32_t(st.bl & 0xF) << 24) |
                   (st.acc ? 1u << 28 : 0u) | (st.simm ? 1u << 29 : 0u);
    w[5 + 2 * s] = st.imm;
  }
  const uint32_t cw = 4 + 2 * cfg.stages;  // the counter chain's words
  if (std::all_of(ctr.begin(), ctr.end(), [](const PcuCounter& k) { return k == PcuCounter{}; })) {
    w.resize(cw);
  } else {
    for (uint32_t k = 0; k < kPcuCounters; ++k) {
      w[cw + 3 * k] = uint32_t(ctr[k].min);
      w[cw + 3 * k + 1] = uint32_t(ctr[k].max);
      w[cw + 3 * k + 2] = uint32_t(ctr[k].stride);
    }
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
  c.out_mode = bits(w[0], 12, 1);
  c.reduce = bits(w[0], 14, 2);
  c.chain = bits(w[0], 16, 8);
  c.sin = bits(w[0], 24, 1);
  c.sout = bits(w[0], 25, 1);
  c.tin = bits(w[0], 26, 1);
  c.tout = bits(w[0], 27, 1);
  c.tok_init = bits(w[0], 28, 4);
  c.count = w[1];
  c.acc_len = w[2];
  c.acc_init = w[3];
  c.stages.resize(cfg.stages);
  for (uint32_t s = 0; s < cfg.stages; ++s) {
    const uint32_t sw = w[4 + 2 * s];
    c.stages[s].op = static_cast<Opcode>(bits(sw, 0, 5));
    c.stages[s].src_a = bits(sw, 8, 4);
    c.stages[s].src_b = bits(sw, 12, 4);
    c.stages[s].dst = bits(sw, 16, 3);
    c.stages[s].src_c = bits(sw, 20, 4);
    c.stages[s].bl = bits(sw, 24, 4);
    c.stages[s].acc = bits(sw, 28, 1);
    c.stages[s].simm = bits(sw, 29, 1);
    c.stages[s].imm = w[5 + 2 * s];
  }
  const uint32_t cw = 4 + 2 * cfg.stages;
  for (uint32_t k = 0; k < kPcuCounters; ++k)
    c.ctr[k] = {int32_t(w[cw + 3 * k]), int32_t(w[cw + 3 * k + 1]), int32_t(w[cw + 3 * k + 2])};
  return c;
}

// ----------------------------------------------------------------------------- PMU
std::vector<uint32_t> PmuConfig::encode() const {
  return {(enable ? 1u : 0u) | (uint32_t(mode & 3) << 1) | (uint32_t(nbuf & 7) << 4) | (tin ? 1u << 8 : 0u) |
              (tout ? 1u << 9 : 0u) | (tsel ? 1u << 10 : 0u) | (uint32_t(tok_init & 15) << 12),
          tiles, buf_rows,
          wr.base, wr.c0, uint32_t(wr.s0), wr.c1, uint32_t(wr.s1), wr.c2, uint32_t(wr.s2),
          rd.base, rd.c0, uint32_t(rd.s0), rd.c1, uint32_t(rd.s1), rd.c2, uint32_t(rd.s2)};
}

PmuConfig PmuConfig::decode(std::span<const uint32_t> words) {
  uint32_t w[kPmuWords] = {};
  for (size_t i = 0; i < words.size() && i < kPmuWords; ++i) w[i] = words[i];
  PmuConfig c;
  c.enable = bits(w[0], 0, 1);
  c.mode = bits(w[0], 1, 2);
  c.nbuf = bits(w[0], 4, 3);
  c.tin = bits(w[0], 8, 1);
  c.tout = bits(w[0], 9, 1);
  c.tsel = bits(w[0], 10, 1);
  c.tok_init = uint8_t(bits(w[0], 12, 4));
  c.tiles = w[1];
  c.buf_rows = w[2];
  c.wr = {w[3], w[4], w[6], int32_t(w[5]), int32_t(w[7]), w[8], int32_t(w[9])};
  c.rd = {w[10], w[11], w[13], int32_t(w[12]), int32_t(w[14]), w[15], int32_t(w[16])};
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
  std::vector<uint32_t> w;
  w.reserve(kAgcuWords);
  for (const AgcuStream* s : {&ld[0], &ld[1], &st}) {
    w.push_back((s->enable ? 1u : 0u) | (uint32_t(s->vdim & 3) << 2) | (s->tin ? 1u << 4 : 0u) |
                (s->tout ? 1u << 5 : 0u) | (uint32_t(s->tok_init & 15) << 8));
    w.push_back(s->base);
    w.push_back(uint32_t(s->lstride));
    w.push_back(s->vlen);
    w.push_back(s->vstep);
    for (int d = 0; d < 4; ++d) {
      w.push_back(s->c[d]);
      w.push_back(uint32_t(s->s[d]));
    }
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
    s.vdim = uint8_t(bits(p[0], 2, 2));
    s.tin = bits(p[0], 4, 1);
    s.tout = bits(p[0], 5, 1);
    s.tok_init = uint8_t(bits(p[0], 8, 4));
    s.base = p[1];
    s.lstride = int32_t(p[2]);
    s.vlen = p[3];
    s.vstep = p[4];
    for (int d = 0; d < 4; ++d) {
      s.c[d] = p[5 + 2 * d];
      s.s[d] = int32_t(p[6 + 2 * d]);
    }
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
