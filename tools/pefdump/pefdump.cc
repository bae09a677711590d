// pefdump MODEL.pef: print a PEF's header, configuration, schedule (with the decoded
// configuration records of every unit and the debug map: unit -> graph nodes), tensor
// table (roles), weights, graph and metadata. --json: the same as one JSON object
// (bitstream words not included: their count and CRC are).
#include <cstdio>
#include <iostream>
#include <optional>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "openrdu/support/cli.h"
#include "openrdu/support/log.h"

#include "openrdu/arch/bitstream.h"
#include "openrdu/arch/config.h"
#include "openrdu/arch/crc32.h"
#include "openrdu/pef/pef.h"

using namespace openrdu;

namespace {

std::string src_name(uint8_t s, const arch::Config& cfg, uint8_t bl = 0) {
  if (s < cfg.regs) return fmt::format("r{}", s);
  if (s >= uint8_t(gen::Src::BREG0) && s <= uint8_t(gen::Src::BREG3) && s - uint8_t(gen::Src::BREG0) < int(cfg.regs))
    return fmt::format("r{}[{}]", s - uint8_t(gen::Src::BREG0), bl % cfg.lanes);
  switch (s) {
    case uint8_t(gen::Src::ACC): return "acc";
    case uint8_t(gen::Src::IMM): return "imm";
    case uint8_t(gen::Src::LANE): return "lane";
    case uint8_t(gen::Src::ZERO): return "zero";
    case uint8_t(gen::Src::CTR0): return "ctr0";
    case uint8_t(gen::Src::CTR1): return "ctr1";
    case uint8_t(gen::Src::CTR2): return "ctr2";
    case uint8_t(gen::Src::TAIL): return "tail";
    default: return fmt::format("src{}?", s);
  }
}

void dump_unit(const arch::Config& cfg, uint32_t id, std::span<const uint32_t> w) {
  std::vector<uint32_t> words(w.begin(), w.end());
  words.resize(cfg.config_words(cfg.unit_kind(id)), 0);  // absent words are zero
  switch (cfg.unit_kind(id)) {
    case arch::UnitKind::Pcu: {
      auto p = arch::PcuConfig::decode(cfg, words);
      static const char* const kReduce[4] = {"none", "sum", "max", "min"};
      fmt::print("        enable={} count={} vin_mask=0x{:x} out_reg=r{} out_mode={} reduce={}\n", int(p.enable),
                 p.count, p.vin_mask, p.out_reg, p.out_mode ? "acc" : "stream", kReduce[p.reduce & 3]);
      if (p.out_mode || p.acc_len || p.acc_init)
        fmt::print("        acc_len={} acc_init=0x{:08x}{}\n", p.acc_len, p.acc_init,
                   p.chained() ? fmt::format(" chain={} (forwarded from input 2 after each group)", p.chain) : "");
      if (p.sin || p.sout || p.tin || p.tout)
        fmt::print("        scalar in={} out={}  control in={} (initial credits {}) out={}\n", int(p.sin), int(p.sout),
                   int(p.tin), p.tok_init, int(p.tout));
      for (uint32_t k = 0; k < arch::kPcuCounters; ++k)
        if (p.ctr[k] != arch::PcuCounter{})
          fmt::print("        ctr{}: min={} max={} stride={}{}\n", k, p.ctr[k].min, p.ctr[k].max, p.ctr[k].stride,
                     k == 0 ? fmt::format(" (x{} lanes per firing)", cfg.lanes) : "");
      for (size_t s = 0; s < p.stages.size(); ++s) {
        const auto& st = p.stages[s];
        if (st.op == gen::Opcode::NOP && !st.acc) continue;
        fmt::print("        stage {}: r{} = {} {}, {}, {}   imm=0x{:08x}{}\n", s, st.dst, gen::opcode_name(st.op),
                   src_name(st.src_a, cfg, st.bl), src_name(st.src_b, cfg, st.bl), src_name(st.src_c, cfg, st.bl),
                   st.imm, std::string(st.acc ? "  acc" : "") + (st.simm ? "  imm=scalar" : ""));
      }
      break;
    }
    case arch::UnitKind::Pmu: {
      auto p = arch::PmuConfig::decode(words);
      fmt::print("        enable={} mode={} nbuf={} tiles={} buf_rows={}\n", int(p.enable),
                 p.mode == 0   ? "strided"
                 : p.mode == 1 ? "duplicated"
                 : p.mode == 2 ? "transposed"
                               : "?",
                 p.nbuf, p.tiles, p.buf_rows);
      if (p.tin || p.tout)
        fmt::print("        control: tin={} tok_init={} tout={} tsel={}\n", int(p.tin), p.tok_init, int(p.tout),
                   p.tsel ? "read" : "write");
      fmt::print("        write: base={} c0={} s0={} c1={} s1={} c2={} s2={}\n", p.wr.base, p.wr.c0, p.wr.s0, p.wr.c1,
                 p.wr.s1, p.wr.c2, p.wr.s2);
      fmt::print("        read:  base={} c0={} s0={} c1={} s1={} c2={} s2={}\n", p.rd.base, p.rd.c0, p.rd.s0, p.rd.c1,
                 p.rd.s1, p.rd.c2, p.rd.s2);
      break;
    }
    case arch::UnitKind::Agcu: {
      auto a = arch::AgcuConfig::decode(words);
      auto one = [](const char* n, const arch::AgcuStream& s) {
        if (!s.enable) return;
        fmt::print("        {}: base=0x{:08x} lstride={} vdim={} vlen={} vstep={} c=[{} {} {} {}] s=[{} {} {} {}]\n", n,
                   s.base, s.lstride, s.vdim, s.vlen, s.vstep, s.c[0], s.c[1], s.c[2], s.c[3], s.s[0], s.s[1], s.s[2],
                   s.s[3]);
        if (s.tin || s.tout) fmt::print("             tin={} tok_init={} tout={}\n", int(s.tin), s.tok_init, int(s.tout));
      };
      one("ld0", a.ld[0]);
      one("ld1", a.ld[1]);
      one("st0", a.st);
      break;
    }
    case arch::UnitKind::Switch: {
      auto s = arch::SwitchConfig::decode(words);
      static const char* in_names[] = {"N", "E", "S", "W", "L0", "L1"};
      static const char* out_names[] = {"N", "E", "S", "W", "L0", "L1", "L2"};
      static const char* nets[] = {"vector", "scalar", "control"};
      for (int n = 0; n < 3; ++n) {
        std::string routes;
        for (uint32_t o = 0; o < arch::kSwitchOutputs; ++o) {
          uint8_t sel = s.sel[n][o];
          if (!sel) continue;
          routes += fmt::format(" {}<-{}", out_names[o], sel <= arch::kSwitchInputs ? in_names[sel - 1] : "?");
        }
        if (!routes.empty()) fmt::print("        {}:{}\n", nets[n], routes);
      }
      break;
    }
  }
}

void dump_bitstream(const pef::Section& sec, const arch::Config* cfg) {
  const auto& w = sec.bitstream;
  if (w.size() < 6) {
    fmt::print("    bitstream too short ({} words)\n", w.size());
    return;
  }
  fmt::print("    bitstream: magic=0x{:08x} version={} fingerprint=0x{:08x} length={} words\n", w[0], w[1], w[2], w[3]);
  if (!cfg) {
    fmt::print("    (unknown configuration: records not decoded)\n");
    return;
  }
  try {
    arch::parse_bitstream(*cfg, w);
    fmt::print("    check: OK (crc 0x{:08x})\n", w.back());
  } catch (const arch::BitstreamError& e) {
    fmt::print("    check: FAILED: {} ({})\n", e.what(), gen::error_name(uint32_t(e.code)));
  }
  size_t i = 4;
  size_t units = 0;
  while (i + 1 < w.size() && w[i] != arch::kBitstreamTerminator) {
    uint32_t id = w[i] >> 16, n = w[i] & 0xFFFF;
    if (i + 1 + n > w.size() - 1) {
      fmt::print("    record at word {}: unit {} with {} words runs past the end\n", i, id, n);
      return;
    }
    if (id >= cfg->num_units()) {
      fmt::print("    record at word {}: invalid unit id {}\n", i, id);
    } else {
      fmt::print("    [word {:4}] {} ({} words)\n", i, cfg->unit_name(id), n);
      if (n <= cfg->config_words(cfg->unit_kind(id)))
        dump_unit(*cfg, id, std::span<const uint32_t>(w).subspan(i + 1, n));
      else
        fmt::print("        more words than the unit's {} configuration words\n", cfg->config_words(cfg->unit_kind(id)));
    }
    ++units;
    i += 1 + n;
  }
  fmt::print("    {} unit records\n", units);
}

std::string jq(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += char(c);
    else if (c < 0x20) o += fmt::format("\\u{:04x}", c);
    else o += char(c);
  }
  return o + "\"";
}

void print_json(const pef::Pef& p, const std::string& path, const arch::Config* cfg) {
  std::string o = "{\n";
  o += fmt::format("  \"file\": {},\n  \"format_version\": {},\n  \"config\": {},\n  \"fingerprint\": \"0x{:08x}\",\n",
                   jq(path), pef::kPefVersion, jq(p.config_name), p.fingerprint);
  o += fmt::format("  \"weights_bytes\": {},\n  \"graph_bytes\": {},\n", p.weights.size(), p.graph.size());
  o += "  \"meta\": {";
  bool first = true;
  for (const auto& [k, v] : p.meta) o += fmt::format("{}{}: {}", first ? "" : ", ", jq(k), jq(v)), first = false;
  o += "},\n  \"schedule\": [";
  for (size_t i = 0; i < p.sections.size(); ++i) {
    const auto& s = p.sections[i];
    o += fmt::format("{}\n    {{\"step\": {}, \"name\": {}, \"dev_addr\": \"0x{:08x}\", \"bitstream_words\": {}, "
                     "\"bitstream_crc\": \"0x{:08x}\", \"est_cycles\": {}, \"debug\": [",
                     i ? "," : "", i, jq(s.name), s.dev_addr, s.bitstream.size(),
                     s.bitstream.empty() ? 0u : s.bitstream.back(), s.est_cycles);
    bool f2 = true;
    for (const auto& [id, names] : s.debug) {
      std::string unit = cfg && id < cfg->num_units() ? cfg->unit_name(id) : "";
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + jq(n);
      o += fmt::format("{}{{\"unit\": {}, \"unit_name\": {}, \"nodes\": [{}]}}", f2 ? "" : ", ", id, jq(unit), list);
      f2 = false;
    }
    o += "]}";
  }
  o += "\n  ],\n  \"tensors\": [";
  for (size_t i = 0; i < p.tensors.size(); ++i) {
    const auto& t = p.tensors[i];
    std::string shape;
    for (auto d : t.shape) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    o += fmt::format("{}\n    {{\"name\": {}, \"role\": \"{}\", \"dtype\": \"{}\", \"shape\": [{}], \"dev_addr\": "
                     "\"0x{:08x}\", \"bytes\": {}{}}}",
                     i ? "," : "", jq(t.name), pef::role_name(t.role), pef::dtype_name(t.dtype), shape, t.dev_addr, t.bytes,
                     t.role == pef::Role::Weight ? fmt::format(", \"weight_offset\": {}", t.weight_offset) : "");
  }
  o += "\n  ]\n}\n";
  fmt::print("{}", o);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pefdump: print the contents of an OpenRDU PEF file"};
  std::string path;
  app.add_option("MODEL.pef", path, "PEF file")->required();
  bool json = false;
  app.add_flag("--json", json, "print the PEF's contents as JSON (no bitstream decoding)");
  support::ToolCli cli{"pefdump"};
  support::add_common_options(app, cli);
  if (const int rc = support::parse_command_line(app, cli, argc, argv); rc >= 0) return rc;

  try {
    support::init_logging(cli);
    spdlog::info("reading {}", path);
    pef::Pef p = pef::read_file(path);
    if (json) {
      std::optional<arch::Config> jc;
      try {
        jc = arch::load_config(p.config_name);
        if (jc->fingerprint() != p.fingerprint) jc.reset();
      } catch (const std::exception&) {
      }
      print_json(p, path, jc ? &*jc : nullptr);
      return 0;
    }
    fmt::print("file:        {}\n", path);
    fmt::print("format:      PEF v{}\n", pef::kPefVersion);
    fmt::print("config:      {} (fingerprint 0x{:08x})\n", p.config_name, p.fingerprint);
    std::optional<arch::Config> cfg;
    try {
      cfg = arch::load_config(p.config_name);
      fmt::print("             {}{}\n", cfg->canonical(),
                 cfg->fingerprint() == p.fingerprint ? "" : fmt::format("  (built-in fingerprint 0x{:08x} differs!)",
                                                                        cfg->fingerprint()));
      if (cfg->fingerprint() != p.fingerprint) cfg.reset();
    } catch (const std::exception&) {
      fmt::print("             (not a built-in configuration)\n");
    }
    for (const auto& [k, v] : p.meta) fmt::print("meta:        {}={}\n", k, v);
    fmt::print("weights:     {} bytes\n", p.weights.size());
    fmt::print("graph:       {} bytes{}\n", p.graph.size(), p.graph.empty() ? " (none: snrun --test unavailable)" : " (source model)");
    uint64_t est = 0;
    for (const auto& s : p.sections) est += s.est_cycles;
    fmt::print("schedule:    {} step{}, {} estimated cycles\n", p.sections.size(), p.sections.size() == 1 ? "" : "s", est);
    for (size_t i = 0; i < p.sections.size(); ++i) {
      const auto& s = p.sections[i];
      // The bitstream's own CRC word (its last); a CRC over the whole stream would be the
      // same constant residue for every valid stream.
      fmt::print("  section {}: {}  {} bytes  stored crc 0x{:08x}  DRAM 0x{:08x}  {} words  est {} cycles\n", i,
                 s.name, 4 * s.bitstream.size(), s.bitstream.empty() ? 0u : s.bitstream.back(), s.dev_addr,
                 s.bitstream.size(), s.est_cycles);
      if (!s.debug.empty()) fmt::print("    debug map (unit -> graph nodes):\n");
      for (const auto& [id, names] : s.debug) {
        std::string list;
        for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
        fmt::print("      {:<24} {}\n", cfg && id < cfg->num_units() ? cfg->unit_name(id) : fmt::format("unit {}", id), list);
      }
      dump_bitstream(s, cfg ? &*cfg : nullptr);
    }
    fmt::print("tensors:     {}\n", p.tensors.size());
    fmt::print("  {:<24} {:<12} {:<6} {:<18} {:>12} {:>10} {:>10}\n", "name", "role", "dtype", "shape", "DRAM", "bytes",
               "weight@");
    for (const auto& t : p.tensors) {
      std::string shape = "(";
      for (size_t d = 0; d < t.shape.size(); ++d) shape += (d ? ", " : "") + std::to_string(t.shape[d]);
      shape += t.shape.size() == 1 ? ",)" : ")";
      fmt::print("  {:<24} {:<12} {:<6} {:<18} 0x{:010x} {:>10} {:>10}\n", t.name, pef::role_name(t.role),
                 pef::dtype_name(t.dtype), shape,
                 t.dev_addr, t.bytes, t.role == pef::Role::Weight ? std::to_string(t.weight_offset) : "-");
    }
  } catch (const std::bad_alloc&) {
    support::log_error("pefdump", support::out_of_memory_message(path));
    return 1;
  } catch (const std::exception& e) {
    support::log_error("pefdump", e.what());
    return 1;
  }
  return 0;
}
