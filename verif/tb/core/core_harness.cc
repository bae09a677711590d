#include "core_harness.h"

#include <fmt/format.h>

#include <cstdlib>
#include <queue>
#include <stdexcept>

#include "../common/coverage.h"
#include "Vrdu_core_tiny.h"
#include "openrdu/gen/regs.h"

namespace openrdu::tb {

// ----------------------------------------------------------------------------------
void TestDram::read_words(uint32_t a, uint32_t* words, uint32_t n) {
  if (!in_range(a, n)) throw model::MemoryError(a, fmt::format("DRAM read of {} words at 0x{:08X} is outside DRAM", n, a));
  for (uint32_t i = 0; i < n; ++i) words[i] = at(a + 4 * i);
}

void TestDram::write_words(uint32_t a, const uint32_t* words, uint32_t n, uint64_t mask) {
  if (!in_range(a, n)) throw model::MemoryError(a, fmt::format("DRAM write of {} words at 0x{:08X} is outside DRAM", n, a));
  for (uint32_t i = 0; i < n; ++i)
    if (mask >> i & 1) set(a + 4 * i, words[i]);
}

uint32_t TestDram::at(uint32_t a) const {
  auto it = w_.find(a / 4);
  return it == w_.end() ? 0 : it->second;
}

void TestDram::load(uint32_t a, const std::vector<uint32_t>& v) {
  for (size_t i = 0; i < v.size(); ++i) set(a + 4 * uint32_t(i), v[i]);
}

std::string TestDram::diff(const TestDram& o) const {
  std::map<uint32_t, std::pair<uint32_t, uint32_t>> d;
  for (auto& [k, v] : w_)
    if (o.at(k * 4) != v) d[k] = {v, o.at(k * 4)};
  for (auto& [k, v] : o.w_)
    if (at(k * 4) != v) d[k] = {at(k * 4), v};
  if (d.empty()) return "";
  auto& [k, p] = *d.begin();
  return fmt::format("{} words differ; first at 0x{:08X}: 0x{:08X} vs 0x{:08X}", d.size(), k * 4, p.first, p.second);
}

// ----------------------------------------------------------------------------------
CoreTb::CoreTb(TestDram& dram, DramTiming t, uint64_t seed)
    : top_(std::make_unique<Vrdu_core_tiny>()), dram_(dram), t_(t), rng_(seed) {
  reset();
}

CoreTb::~CoreTb() {
  top_->final();
  tb::coverage_collect(top_->contextp());
}

void CoreTb::reset() {
  top_->rst_ni = 0;
  top_->csr_valid_i = 0;
  top_->csr_we_i = 0;
  top_->mem_req_ready_i = 0;
  top_->mem_rsp_valid_i = 0;
  rsp_.clear();
  for (int i = 0; i < 3; ++i) tick();
  top_->rst_ni = 1;
  tick();
}

void CoreTb::drive_mem() {
  top_->mem_req_ready_i = (t_.stall_pct == 0 || rng_() % 100 >= t_.stall_pct) ? 1 : 0;
  if (!rsp_.empty() && rsp_.front().when <= cycle_) {
    const Rsp& r = rsp_.front();
    top_->mem_rsp_valid_i = 1;
    top_->mem_rsp_id_i = r.id;
    top_->mem_rsp_err_i = r.err;
    for (size_t l = 0; l < r.data.size(); ++l) top_->mem_rsp_rdata_i[l] = r.data[l];
  } else {
    top_->mem_rsp_valid_i = 0;
    top_->mem_rsp_err_i = 0;
  }
}

void CoreTb::sample_mem() {
  const uint32_t lanes = 4;
  if (top_->mem_rsp_valid_i && top_->mem_rsp_ready_o) rsp_.pop_front();
  if (top_->mem_req_valid_o && top_->mem_req_ready_i) {
    Rsp r;
    r.id = top_->mem_req_id_o;
    r.err = false;
    r.data.assign(lanes, 0);
    const uint32_t addr = top_->mem_req_addr_o;
    if (addr % 4 != 0) throw std::runtime_error(fmt::format("cycle {}: unaligned memory address 0x{:08X}", cycle_, addr));
    if (!dram_.in_range(addr, lanes)) {
      r.err = true;
    } else if (top_->mem_req_we_o) {
      uint32_t w[4];
      for (uint32_t l = 0; l < lanes; ++l) w[l] = top_->mem_req_wdata_o[l];
      dram_.write_words(addr, w, lanes, top_->mem_req_wmask_o);
      ++writes_;
    } else {
      dram_.read_words(addr, r.data.data(), lanes);
      ++reads_;
    }
    const uint64_t lat = t_.latency + (t_.jitter ? rng_() % (t_.jitter + 1) : 0);
    r.when = std::max(cycle_ + lat, last_rsp_ + 1);
    last_rsp_ = r.when;
    rsp_.push_back(std::move(r));
  }
}

void CoreTb::tick() {
  drive_mem();
  top_->clk_i = 0;
  top_->eval();
  sample_mem();
  top_->clk_i = 1;
  top_->eval();
  ++cycle_;
}

void CoreTb::csr_write(uint32_t addr, uint32_t data) {
  top_->csr_valid_i = 1;
  top_->csr_we_i = 1;
  top_->csr_addr_i = addr;
  top_->csr_wdata_i = data;
  tick();
  top_->csr_valid_i = 0;
  top_->csr_we_i = 0;
}

uint32_t CoreTb::csr_read(uint32_t addr) {
  top_->csr_valid_i = 1;
  top_->csr_we_i = 0;
  top_->csr_addr_i = addr;
  tick();
  top_->csr_valid_i = 0;
  if (!top_->csr_rvalid_o) throw std::runtime_error(fmt::format("CSR read 0x{:03X}: no csr_rvalid_o", addr));
  return top_->csr_rdata_o;
}

bool CoreTb::irq() const { return top_->irq_o; }

bool CoreTb::wait_irq(uint64_t max_cycles) {
  for (uint64_t i = 0; i < max_cycles; ++i) {
    if (top_->irq_o) return true;
    tick();
  }
  return top_->irq_o;
}

// ----------------------------------------------------------------------------------
void Program::sel(uint32_t r, uint32_t c, uint32_t o, uint32_t i) {
  sw_[r * (cfg_.cols + 1) + c].sel[arch::kVectorNet][o] = uint8_t(1 + i);
}

void Program::sel_net(uint32_t net, uint32_t r, uint32_t c, uint32_t o, uint32_t i) {
  sw_[r * (cfg_.cols + 1) + c].sel[net][o] = uint8_t(1 + i);
}

void Program::attach(uint32_t unit, uint32_t& r, uint32_t& c) const {
  if (unit < cfg_.num_slots()) {
    r = unit / cfg_.cols;
    c = unit % cfg_.cols;
  } else {
    r = cfg_.rows;
    c = unit - cfg_.num_slots();
  }
}

bool Program::route(uint32_t src, int sp, uint32_t dst, int dp) {
  uint32_t sr, scol, dr, dc;
  attach(src, sr, scol);
  attach(dst, dr, dc);
  const uint32_t SC = cfg_.cols + 1, SR = cfg_.rows + 1;
  auto used = [&](uint32_t s, uint32_t o) {
    auto it = sw_.find(s);
    return it != sw_.end() && it->second.sel[arch::kVectorNet][o] != 0;
  };
  const uint32_t s0 = sr * SC + scol, s1 = dr * SC + dc;
  if (used(s1, arch::kLocal0 + dp)) return false;
  // BFS over switches; prev[s] = (previous switch, direction taken from it).
  std::vector<int> prev(SR * SC, -1), pdir(SR * SC, -1);
  std::queue<uint32_t> q;
  q.push(s0);
  prev[s0] = int(s0);
  while (!q.empty()) {
    const uint32_t s = q.front();
    q.pop();
    if (s == s1) break;
    const uint32_t r = s / SC, c = s % SC;
    for (uint32_t d = 0; d < 4; ++d) {
      if ((d == 0 && r == 0) || (d == 1 && c + 1 == SC) || (d == 2 && r + 1 == SR) || (d == 3 && c == 0)) continue;
      const uint32_t n = d == 0 ? s - SC : d == 1 ? s + 1 : d == 2 ? s + SC : s - 1;
      if (prev[n] != -1 || used(s, d)) continue;
      prev[n] = int(s);
      pdir[n] = int(d);
      q.push(n);
    }
  }
  if (prev[s1] == -1) return false;
  // Walk back, setting selects: output o of switch s takes input `in`.
  uint32_t s = s1, o = arch::kLocal0 + dp;
  while (s != s0) {
    const uint32_t d = uint32_t(pdir[s]);  // we came from prev via direction d
    sw_[s].sel[arch::kVectorNet][o] = uint8_t(1 + (d + 2) % 4);
    o = d;
    s = uint32_t(prev[s]);
  }
  sw_[s].sel[arch::kVectorNet][o] = uint8_t(1 + arch::kLocal0 + sp);
  return true;
}

std::vector<uint32_t> Program::bitstream() const {
  arch::UnitWords all = words;
  for (auto& [s, sc] : sw_) all[cfg_.switch_id(s / (cfg_.cols + 1), s % (cfg_.cols + 1))] = sc.encode();
  return arch::assemble_bitstream(cfg_, all);
}

}  // namespace openrdu::tb
