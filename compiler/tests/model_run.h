// Run a PEF on the functional model (model::Core) the way the runtime does: tensors
// and bitstreams in a sparse DRAM, configure and run every section, read the outputs.
#pragma once
#include <fmt/format.h>

#include <bit>
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "openrdu/compiler/compiler.h"
#include "openrdu/compiler/ir.h"
#include "openrdu/model/core.h"

namespace openrdu::compiler::test {

// Sparse device DRAM: 4 KiB pages on demand.
class SparseMemory : public model::Memory {
 public:
  explicit SparseMemory(uint64_t size) : size_(size) {}
  void read_words(uint32_t addr, uint32_t* w, uint32_t n) override {
    check(addr, n);
    for (uint32_t i = 0; i < n; ++i) w[i] = word(addr + 4 * i);
  }
  void write_words(uint32_t addr, const uint32_t* w, uint32_t n, uint64_t mask) override {
    check(addr, n);
    for (uint32_t i = 0; i < n; ++i)
      if (mask >> i & 1) word(addr + 4 * i) = w[i];
  }
  void write_bytes(uint64_t addr, const void* p, size_t n) {
    if (n % 4 != 0) throw std::runtime_error("write_bytes: size not a multiple of 4");
    const auto* w = static_cast<const uint32_t*>(p);
    for (size_t i = 0; i < n / 4; ++i) word(uint32_t(addr + 4 * i)) = w[i];
  }
  void read_bytes(uint64_t addr, void* p, size_t n) {
    auto* w = static_cast<uint32_t*>(p);
    for (size_t i = 0; i < n / 4; ++i) w[i] = word(uint32_t(addr + 4 * i));
  }

 private:
  void check(uint32_t addr, uint32_t n) {
    if (addr % 4 != 0 || uint64_t(addr) + 4ull * n > size_)
      throw model::MemoryError(addr, fmt::format("access of {} words at 0x{:08X} outside DRAM", n, addr));
  }
  uint32_t& word(uint32_t addr) {
    auto& page = pages_[addr >> 12];
    if (page.empty()) page.assign(1024, 0xDEADBEEFu);  // uninitialised DRAM is not zero
    return page[(addr & 0xFFF) >> 2];
  }
  uint64_t size_;
  std::unordered_map<uint32_t, std::vector<uint32_t>> pages_;
};

// Run a PEF on the functional core the way the runtime does.
inline std::map<std::string, HostTensor> run_on_model(const arch::Config& cfg, const pef::Pef& pef,
                                                      const std::map<std::string, HostTensor>& inputs) {
  SparseMemory mem(cfg.dram_bytes);
  for (const auto& t : pef.tensors) {
    if (t.role == pef::Role::Input && t.dtype == pef::DType::I64) {  // int32 words, as the runtime narrows
      const auto& v = inputs.at(t.name).idata;
      std::vector<int32_t> w(v.begin(), v.end());
      mem.write_bytes(t.dev_addr, w.data(), 4 * w.size());
    } else if (t.role == pef::Role::Input) {
      mem.write_bytes(t.dev_addr, inputs.at(t.name).data.data(), t.bytes);
    }
    if (t.role == pef::Role::Weight) mem.write_bytes(t.dev_addr, pef.weights.data() + t.weight_offset, t.bytes);
  }
  model::Core core(cfg);
  for (const auto& s : pef.sections) {
    mem.write_bytes(s.dev_addr, s.bitstream.data(), 4 * s.bitstream.size());
    const auto c = core.configure(mem, uint32_t(s.dev_addr), uint32_t(4 * s.bitstream.size()));
    if (!c.ok) throw std::runtime_error("section " + s.name + ": configure: " + c.message);
    const auto r = core.run(mem);
    if (!r.ok) throw std::runtime_error("section " + s.name + ": run: " + r.message);
  }
  std::map<std::string, HostTensor> out;
  for (const auto& t : pef.tensors)
    if (t.role == pef::Role::Output) {
      HostTensor h;
      h.shape = t.shape;
      h.data.resize(t.bytes / 4);
      mem.read_bytes(t.dev_addr, h.data.data(), t.bytes);
      if (t.dtype == pef::DType::I64) {  // int32 words, widened as the runtime does
        for (float w : h.data) h.idata.push_back(std::bit_cast<int32_t>(w));
        h.data.clear();
      }
      out[t.name] = std::move(h);
    }
  return out;
}

// Compiles g for tiny and small at -O0, -O1 and -O3, runs each on the functional model
// with `in` and hands the outputs to `check` with where it ran ("<config> -O<level>").
inline void for_each_target(
    const Graph& g, const std::map<std::string, HostTensor>& in,
    const std::function<void(const std::map<std::string, HostTensor>&, const std::string&)>& check) {
  for (const char* cfgname : {"tiny", "small"}) {
    const arch::Config cfg = arch::load_config(cfgname);
    for (int level : {0, 1, 3}) {
      Options o;
      o.opt_level = level;
      check(run_on_model(cfg, compile_graph(g, cfg, o), in), fmt::format("{} -O{}", cfgname, level));
    }
  }
}

}  // namespace openrdu::compiler::test
