// Writes the seed corpus of the PEF fuzzer (`docs/robustness.md`):
// small valid PEFs for "tiny", "small" and an unknown configuration, and malformed
// ones (some with repaired checksums so they fail a deeper check).
// Usage: make_corpus OUTDIR   (run by `scripts/fuzz-pef.sh --make-corpus`)
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "openrdu/arch/bitstream.h"
#include "openrdu/arch/config.h"
#include "openrdu/pef/pef.h"
#include "pef_fixup.h"

using namespace openrdu;

namespace {

std::string g_out;

// Check that a seed is what its name says: valid files parse and their bitstreams verify
// against the built-in configuration they name; bad files fail with `expect` in the message.
void check_seed(const std::string& name, const std::vector<uint8_t>& b, const std::string& expect) {
  std::string error;
  try {
    const pef::Pef p = pef::parse(b, name);
    if (p.config_name == "tiny" || p.config_name == "small") {
      const arch::Config cfg = arch::load_config(p.config_name);
      for (const auto& s : p.sections) arch::parse_bitstream(cfg, s.bitstream);
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (expect.empty() ? !error.empty() : error.find(expect) == std::string::npos)
    throw std::runtime_error(name + ": expected " + (expect.empty() ? "a valid file" : "an error with '" + expect + "'") +
                             ", got " + (error.empty() ? "no error" : "'" + error + "'"));
}

void write(const std::string& name, const std::vector<uint8_t>& b, const std::string& expect = "") {
  check_seed(name, b, expect);
  const std::string path = g_out + "/" + name;
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
  std::printf("%s (%zu bytes)\n", path.c_str(), b.size());
}

pef::Tensor tensor(const std::string& name, pef::Role role, std::vector<int64_t> shape, uint64_t addr,
                   uint64_t weight_offset = 0) {
  pef::Tensor t;
  t.name = name;
  t.role = role;
  t.shape = std::move(shape);
  t.dev_addr = addr;
  t.bytes = 4 * t.elements();
  t.weight_offset = weight_offset;
  return t;
}

// One section: a PCU running `op` over two inputs, a PMU, an AGCU with two loads and a
// store, and one switch route; the words are those of the real encoders.
std::vector<uint32_t> program(const arch::Config& cfg, arch::Opcode op, uint32_t elements, uint32_t base) {
  arch::PcuConfig pcu;
  pcu.enable = true;
  pcu.vin_mask = 3;
  pcu.count = (elements + cfg.lanes - 1) / cfg.lanes;
  pcu.stages.push_back({op, uint8_t(gen::Src::REG0), uint8_t(gen::Src::REG1), 0, 0, 0});
  arch::PmuConfig pmu;
  pmu.enable = true;
  pmu.wr = {0, pcu.count, 1, 1, 0};
  pmu.rd = {0, pcu.count, 1, 1, 0};
  arch::AgcuConfig ag;
  ag.ld[0] = arch::AgcuStream::linear(base, elements, cfg.lanes);
  ag.ld[1] = arch::AgcuStream::linear(base + 4 * elements, elements, cfg.lanes);
  ag.st = arch::AgcuStream::linear(base + 8 * elements, elements, cfg.lanes);
  arch::SwitchConfig sw;
  sw.sel[arch::kVectorNet][arch::kLocal0] = 1 + arch::kNorth;
  arch::UnitWords units;
  units[cfg.slot_id(0, 0)] = pcu.encode(cfg);
  units[cfg.slot_id(0, 1)] = pmu.encode();
  units[cfg.agcu_id(0)] = ag.encode();
  units[cfg.switch_id(0, 0)] = sw.encode();
  return arch::assemble_bitstream(cfg, units);
}

pef::Pef binary_op(const arch::Config& cfg, arch::Opcode op, const std::string& node) {
  pef::Pef p;
  p.config_name = cfg.name;
  p.fingerprint = cfg.fingerprint();
  const uint32_t n = 12;
  p.tensors = {tensor("x", pef::Role::Input, {3, 4}, 0x1000), tensor("y", pef::Role::Input, {3, 4}, 0x1030),
               tensor("z", pef::Role::Output, {3, 4}, 0x1060)};
  p.sections.push_back({node, 0x100, program(cfg, op, n, 0x1000), 3 + n / cfg.lanes,
                        {{cfg.slot_id(0, 0), {node}}, {cfg.agcu_id(0), {node, "x", "y"}}}});
  p.graph = {0x08, 0x07, 0x12, 0x0b, 'm', 'a', 'k', 'e', '_', 'c', 'o', 'r', 'p', 'u', 's'};  // ONNX-like bytes
  p.meta["onnx.model"] = "test_" + node;
  p.meta["compiler"] = "make_corpus";
  return p;
}

// The valid seeds; add is tiny's "add" program.
void write_valid(const arch::Config& tiny, const arch::Config& small, const pef::Pef& add) {
  write("valid_tiny_add.pef", pef::serialize(add));
  write("valid_small_mul.pef", pef::serialize(binary_op(small, arch::Opcode::FMUL, "mul")));
  {
    pef::Pef p = binary_op(tiny, arch::Opcode::FMAX, "relu");
    p.tensors[1] = tensor("zero", pef::Role::Weight, {1}, 0x1030, 4);
    p.tensors.push_back(tensor("tmp", pef::Role::Activation, {2, 2}, 0x2000));
    p.weights = {0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0};
    p.sections.push_back({"copy", 0x400, program(tiny, arch::Opcode::MOV, 4, 0x2000), 0, {}});
    p.graph.clear();
    write("valid_tiny_two_sections_const.pef", pef::serialize(p));
  }
  {
    pef::Pef p;
    p.config_name = "tiny";
    p.fingerprint = tiny.fingerprint();
    write("valid_tiny_empty.pef", pef::serialize(p));
  }
  {
    pef::Pef p = binary_op(tiny, arch::Opcode::FSUB, "sub");
    p.config_name = "custom-4x4";  // not built in: the bitstream is not verified
    write("valid_custom_config.pef", pef::serialize(p));
  }
}

// The malformed seeds, from add (tiny's "add" program) and its bytes.
void write_malformed(const pef::Pef& add, const std::vector<uint8_t>& add_bytes) {
  {
    auto b = add_bytes;
    b[3] = '2';
    write("bad_magic.pef", b, "magic");
  }
  write("bad_truncated.pef", std::vector<uint8_t>(add_bytes.begin(), add_bytes.begin() + add_bytes.size() / 2),
        "runs past the end");
  {
    auto b = add_bytes;
    b[b.size() / 2] ^= 0x40;  // fails a CRC
    write("bad_crc.pef", b, "crc32");
  }
  {
    // Container valid, bitstream not: wrong fingerprint (PEF checksums repaired).
    pef::Pef p = add;
    p.sections[0].bitstream[2] ^= 1;
    write("bad_bitstream_fingerprint.pef", pef::serialize(p), "BAD_FINGERPRINT");
  }
  {
    // Section 0 (TENSORS) claims 8 more bytes than it has: overlaps WEIGHTS; CRCs repaired.
    auto b = add_bytes;
    pef::fuzz::put32(b, 48 + 16, pef::fuzz::get32(b, 48 + 16) + 8);
    pef::fuzz::fixup(b);
    write("bad_overlap_fixed_crc.pef", b, "overlaps");
  }
  {
    // A PEF v1 file: refused by its version alone.
    auto b = add_bytes;
    pef::fuzz::put32(b, 4, 1);
    pef::fuzz::fixup(b);
    write("bad_version_1.pef", b, "unsupported PEF version 1 (this reader supports 2)");
  }
  {
    // SCHEDULE step 0 names section 0 (TENSORS) as its CONFIG; CRCs repaired.
    auto b = add_bytes;
    uint64_t sched = 0;
    for (uint32_t i = 0; i < pef::fuzz::get32(b, 12); ++i)
      if (pef::fuzz::get32(b, 48 + 32 * i) == 5) sched = pef::fuzz::get64(b, 48 + 32 * i + 8);
    const uint64_t name_len = b[sched + 4] | (b[sched + 5] << 8);
    pef::fuzz::put32(b, sched + 6 + name_len, 0);
    pef::fuzz::fixup(b);
    write("bad_schedule_config_index.pef", b, "is a TENSORS section, not CONFIG");
  }
  {
    // DEBUG with a step count that differs from the SCHEDULE's; CRCs repaired.
    auto b = add_bytes;
    for (uint32_t i = 0; i < pef::fuzz::get32(b, 12); ++i)
      if (pef::fuzz::get32(b, 48 + 32 * i) == 6) pef::fuzz::put32(b, pef::fuzz::get64(b, 48 + 32 * i + 8), 2);
    pef::fuzz::fixup(b);
    write("bad_debug_step_count.pef", b, "DEBUG step count");
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus OUTDIR\n");
    return 2;
  }
  g_out = argv[1];
  const arch::Config tiny = arch::load_config("tiny");
  const arch::Config small = arch::load_config("small");
  const pef::Pef add = binary_op(tiny, arch::Opcode::FADD, "add");
  write_valid(tiny, small, add);
  write_malformed(add, pef::serialize(add));
  return 0;
}
