// pefdump MODEL.pef: print a PEF's header, configuration, sections (with the decoded
// configuration records of every unit) and tensor table.
#include <cstdio>
#include <iostream>
#include <optional>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "openrdu/runtime/log.h"

#include "openrdu/arch/bitstream.h"
#include "openrdu/arch/config.h"
#include "openrdu/arch/crc32.h"
#include "openrdu/pef/pef.h"

using namespace openrdu;

namespace {

std::string src_name(uint8_t s, const arch::Config& cfg) {
  if (s < cfg.regs) return fmt::format("r{}", s);
  switch (s) {
    case uint8_t(gen::Src::IMM): return "imm";
    case uint8_t(gen::Src::LANE): return "lane";
    case uint8_t(gen::Src::ZERO): return "zero";
    default: return fmt::format("src{}?", s);
  }
}

void dump_unit(const arch::Config& cfg, uint32_t id, std::span<const uint32_t> w) {
  std::vector<uint32_t> words(w.begin(), w.end());
  words.resize(cfg.config_words(cfg.unit_kind(id)), 0);  // absent words are zero
  switch (cfg.unit_kind(id)) {
    case arch::UnitKind::Pcu: {
      auto p = arch::PcuConfig::decode(cfg, words);
      fmt::print("        enable={} count={} vin_mask=0x{:x} out_reg=r{}\n", int(p.enable), p.count, p.vin_mask,
                 p.out_reg);
      for (size_t s = 0; s < p.stages.size(); ++s) {
        const auto& st = p.stages[s];
        if (st.op == gen::Opcode::NOP) continue;
        fmt::print("        stage {}: r{} = {} {}, {}   imm=0x{:08x}\n", s, st.dst, gen::opcode_name(st.op),
                   src_name(st.src_a, cfg), src_name(st.src_b, cfg), st.imm);
      }
      break;
    }
    case arch::UnitKind::Pmu: {
      auto p = arch::PmuConfig::decode(words);
      fmt::print("        enable={} mode={}\n", int(p.enable), p.mode == 0 ? "strided" : p.mode == 1 ? "duplicated" : "?");
      fmt::print("        write: base={} c0={} s0={} c1={} s1={}\n", p.wr.base, p.wr.c0, p.wr.s0, p.wr.c1, p.wr.s1);
      fmt::print("        read:  base={} c0={} s0={} c1={} s1={}\n", p.rd.base, p.rd.c0, p.rd.s0, p.rd.c1, p.rd.s1);
      break;
    }
    case arch::UnitKind::Agcu: {
      auto a = arch::AgcuConfig::decode(words);
      auto one = [](const char* n, const arch::AgcuStream& s) {
        if (!s.enable) return;
        fmt::print("        {}: base=0x{:08x} inner={}{} c1={} s1={} c2={} s2={}\n", n, s.base, s.inner,
                   s.bcast ? " bcast" : "", s.c1, s.s1, s.c2, s.s2);
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pefdump: print the contents of an OpenRDU PEF file"};
  app.set_version_flag("--version", "pefdump 0.1.0");
  std::string path;
  app.add_option("MODEL.pef", path, "PEF file")->required();
  std::string log_level = "warn", log_dir;
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off (default warn)")
      ->check(CLI::IsMember(runtime::log_level_names()));
  app.add_option("--log-dir", log_dir, "also log to DIR/sn.log (default $OPENRDU_LOG_DIR, else no file)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    runtime::log_error("pefdump", std::string(e.what()) + " (see --help)");
    return 1;
  }

  try {
    runtime::init_logging("pefdump", log_level, log_dir);
    spdlog::info("reading {}", path);
    pef::Pef p = pef::read_file(path);
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
    fmt::print("consts:      {} bytes\n", p.consts.size());
    fmt::print("sections:    {} (in schedule order)\n", p.sections.size());
    for (size_t i = 0; i < p.sections.size(); ++i) {
      const auto& s = p.sections[i];
      fmt::print("  section {}: {}  {} bytes  crc32 0x{:08x}  DRAM 0x{:08x}  {} words\n", i, s.name,
                 4 * s.bitstream.size(), arch::crc32(s.bitstream.data(), 4 * s.bitstream.size()), s.dev_addr,
                 s.bitstream.size());
      dump_bitstream(s, cfg ? &*cfg : nullptr);
    }
    fmt::print("tensors:     {}\n", p.tensors.size());
    fmt::print("  {:<24} {:<12} {:<18} {:>12} {:>10} {:>10}\n", "name", "role", "shape", "DRAM", "bytes", "const@");
    for (const auto& t : p.tensors) {
      std::string shape = "(";
      for (size_t d = 0; d < t.shape.size(); ++d) shape += (d ? ", " : "") + std::to_string(t.shape[d]);
      shape += t.shape.size() == 1 ? ",)" : ")";
      fmt::print("  {:<24} {:<12} {:<18} 0x{:010x} {:>10} {:>10}\n", t.name, pef::role_name(t.role), shape,
                 t.dev_addr, t.bytes, t.role == pef::Role::Constant ? std::to_string(t.const_offset) : "-");
    }
  } catch (const std::exception& e) {
    runtime::log_error("pefdump", e.what());
    return 1;
  }
  return 0;
}
