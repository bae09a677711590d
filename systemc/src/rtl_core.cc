#include "openrdu/platform/rtl_core.h"

#include <cstdio>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "openrdu/platform/dram.h"
#include "openrdu/platform/port_bits.h"

#include "Vrdu_core_tiny.h"
#ifdef OPENRDU_HAVE_SMALL_RTL
#include "Vrdu_core_small.h"
#endif
#ifdef OPENRDU_HAVE_PLASTICINE_RTL
#include "Vrdu_core_plasticine.h"
#endif

namespace openrdu::platform {

template <class V>
RtlCore<V>::RtlCore(sc_module_name name, const arch::Config& cfg, const PlatformOptions& opt)
    : CoreBase(name, cfg),
      ctx_(std::make_unique<VerilatedContext>()),
      trace_file_(opt.trace_file),
      trace_start_(opt.trace_start),
      trace_stop_(opt.trace_stop),
      period_ps_(to_ps(period_)),
      lanes_(cfg.lanes),
      ports_(std::max<uint32_t>(1, cfg.dram_channels)),
      rsp_q_(ports_),
      last_ready_(ports_, 0) {
  // mem_req_addr_o is 32 bits per port: the model's MEM_PORTS against the configuration's.
  using Addr = std::remove_cvref_t<decltype(std::declval<V&>().mem_req_addr_o)>;
  if (port_bits::words<Addr>() != ports_ || ports_ > 64)
    throw std::runtime_error(fmt::format("RTL core '{}': the model has {} memory ports, the configuration {} DRAM channels",
                                         cfg.name, port_bits::words<Addr>(), ports_));
  ctx_->randReset(0);
  if (!trace_file_.empty()) ctx_->traceEverOn(true);
  top_ = std::make_unique<V>(ctx_.get(), "rdu_core");
  if (!trace_file_.empty()) {
    // A core built without tracing (plasticine's `verilator: {trace: false}`) has no trace().
    constexpr bool kTraced = requires(V& v, VerilatedFstC* f) { v.trace(f, 99); };
    if constexpr (!kTraced)
      throw std::runtime_error(fmt::format("RTL core '{}': built without tracing (the configuration's "
                                           "verilator.trace is false); --trace is not available",
                                           cfg.name));
    fst_ = std::make_unique<VerilatedFstC>();
    if constexpr (kTraced) top_->trace(fst_.get(), 99);
    fst_->open(trace_file_.c_str());
    if (!fst_->isOpen()) throw std::runtime_error(fmt::format("RTL core: cannot open trace file '{}'", trace_file_));
  }
  SC_THREAD(clock_thread);
  t0_ = std::chrono::steady_clock::now();
}

template <class V>
RtlCore<V>::~RtlCore() {
  SimStats st;
  finish(st);
}

template <class V>
void RtlCore<V>::finish(SimStats& st) {
  if (!finished_) {
    finished_ = true;
    if (fst_) fst_->close();
    top_->final();
  }
  st.trace_file = trace_file_;
  std::error_code ec;
  st.trace_bytes = trace_file_.empty() ? 0 : static_cast<uint64_t>(std::filesystem::file_size(trace_file_, ec));
  if (ec) st.trace_bytes = 0;
  spdlog::info("rtl core ({}): {} cycles simulated ({} evaluated, {} idle skipped), {:.0f} evaluated cycles/s, trace {}",
               cfg_.name, cycle_, cycle_ - idle_cycles_, idle_cycles_,
               st.wall_seconds > 0 ? double(cycle_ - idle_cycles_) / st.wall_seconds : 0.0,
               trace_file_.empty() ? std::string("off") : fmt::format("{} ({} bytes)", trace_file_, st.trace_bytes));
}

template <class V>
uint32_t RtlCore<V>::csr_access(bool we, uint32_t offset, uint32_t wdata) {
  CsrReq req{we, offset, wdata};
  csr_q_.push_back(&req);
  csr_req_ev_.notify(sc_core::SC_ZERO_TIME);
  while (!req.done) wait(csr_done_ev_);
  return req.rdata;
}

template <class V>
void RtlCore<V>::dump(uint64_t t) {
  if (fst_ && cycle_ >= trace_start_ && cycle_ < trace_stop_) fst_->dump(t);
}

// Port p's fields are slice p of the packed pins (p * 32 address bits, p * LANES data
// words and mask bits, p * 8 id bits), read and written through get_bits / set_bits
// whatever the pins' Verilated types (tiny's 1 port to plasticine's 4).
template <class V>
void RtlCore<V>::mem_request(uint32_t p, uint64_t quantum_start) {
  const uint32_t bytes = 4 * lanes_;
  V& t = *top_;
  MemRsp rsp;
  rsp.id = static_cast<uint8_t>(port_bits::get(t.mem_req_id_o, 8 * p, 8));
  rsp.rdata.assign(lanes_, 0);
  std::vector<uint8_t> be;
  const bool we = port_bits::get(t.mem_req_we_o, p, 1);
  if (we) {
    for (uint32_t i = 0; i < lanes_; ++i) rsp.rdata[i] = port_bits::get(t.mem_req_wdata_o, 32 * (p * lanes_ + i), 32);
    be.resize(bytes);
    for (uint32_t i = 0; i < lanes_; ++i)
      std::memset(&be[4 * i], port_bits::get(t.mem_req_wmask_o, p * lanes_ + i, 1) ? 0xFF : 0, 4);
  }
  tlm_generic_payload gp;
  set_payload(gp, we ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND, port_bits::get(t.mem_req_addr_o, 32 * p, 32),
              reinterpret_cast<uint8_t*>(rsp.rdata.data()), bytes, we ? be.data() : nullptr);
  // An AGCU's request (id 1 + 3k + stream) carries its tile for the protection windows.
  if (rsp.id != 0) gp.set_extension(new RequesterTiles(1u << cfg_.tile_of(cfg_.agcu_id((rsp.id - 1u) / 3))));
  // The request is accepted at the end of cycle cycle_-1: its time in the quantum.
  sc_time delay = ps((cycle_ - quantum_start) * period_ps_);
  mem->b_transport(gp, delay);
  rsp.err = !gp.is_response_ok();
  if (rsp.err || we) std::fill(rsp.rdata.begin(), rsp.rdata.end(), 0u);
  const uint64_t done_ps = to_ps(sc_core::sc_time_stamp() + delay);
  uint64_t ready = (done_ps + period_ps_ - 1) / period_ps_;
  ready = std::max(ready, last_ready_[p]);  // in order per port
  last_ready_[p] = ready;
  rsp.ready_cycle = ready;
  rsp_q_[p].push_back(std::move(rsp));
}

template <class V>
void RtlCore<V>::tick(uint64_t quantum_start) {
  V& t = *top_;
  // Inputs for this cycle, per port (response data only where a response is valid).
  uint64_t req_ready = 0, rsp_valid = 0;
  for (uint32_t p = 0; p < ports_; ++p) {
    auto& q = rsp_q_[p];
    const bool ready = q.size() < kMaxOutstanding;
    const bool valid = !q.empty() && q.front().ready_cycle <= cycle_;
    if (ready) req_ready |= uint64_t{1} << p;
    if (valid) rsp_valid |= uint64_t{1} << p;
    port_bits::set(t.mem_req_ready_i, p, 1, ready);
    port_bits::set(t.mem_rsp_valid_i, p, 1, valid);
    port_bits::set(t.mem_rsp_id_i, 8 * p, 8, valid ? q.front().id : 0);
    port_bits::set(t.mem_rsp_err_i, p, 1, valid && q.front().err);
    if (valid)
      for (uint32_t i = 0; i < lanes_; ++i) port_bits::set(t.mem_rsp_rdata_i, 32 * (p * lanes_ + i), 32, q.front().rdata[i]);
  }
  bool csr_issue = false;
  if (!csr_cur_ && !csr_q_.empty()) {
    csr_cur_ = csr_q_.front();
    csr_q_.pop_front();
    csr_issue = true;
  }
  t.csr_valid_i = csr_issue;
  if (csr_issue) {
    t.csr_we_i = csr_cur_->we;
    t.csr_addr_i = csr_cur_->addr & 0xFFF;
    t.csr_wdata_i = csr_cur_->wdata;
  }
  t.clk_i = 0;
  t.eval();
  dump(cycle_ * period_ps_);
  // Handshakes at the rising edge (ports in order 0, 1, ...).
  uint64_t req_fire = 0, rsp_fire = 0;
  for (uint32_t p = 0; p < ports_; ++p) {
    if (port_bits::get(t.mem_req_valid_o, p, 1)) req_fire |= req_ready & (uint64_t{1} << p);
    if (port_bits::get(t.mem_rsp_ready_o, p, 1)) rsp_fire |= rsp_valid & (uint64_t{1} << p);
  }
  for (uint32_t p = 0; p < ports_; ++p)
    if ((req_fire >> p) & 1) mem_request(p, quantum_start);  // samples the request pins before the edge
  t.clk_i = 1;
  t.eval();
  dump(cycle_ * period_ps_ + period_ps_ / 2);
  ++cycle_;
  for (uint32_t p = 0; p < ports_; ++p)
    if ((rsp_fire >> p) & 1) rsp_q_[p].pop_front();
  if (csr_issue) {
    // Registered read data: valid after this edge (csr_rvalid_o).
    if (!csr_cur_->we) csr_cur_->rdata = t.csr_rdata_o;
    csr_cur_->done = true;
    csr_cur_ = nullptr;
    csr_completed_ = true;
  }
}

template <class V>
void RtlCore<V>::clock_thread() {
  V& t = *top_;
  t.rst_ni = 0;
  t.clk_i = 0;
  t.csr_valid_i = 0;
  port_bits::clear(t.mem_req_ready_i);
  port_bits::clear(t.mem_rsp_valid_i);
  for (uint64_t i = 0; i < kResetCycles; ++i) {
    t.clk_i = 0;
    t.eval();
    dump(cycle_ * period_ps_);
    t.clk_i = 1;
    t.eval();
    dump(cycle_ * period_ps_ + period_ps_ / 2);
    ++cycle_;
  }
  t.rst_ni = 1;
  wait(period_ * static_cast<double>(kResetCycles));
  for (;;) {
    // Idle: the core is neither configuring nor running (busy_o low), no CSR access is
    // pending and no memory response is due, so its state cannot change. Skip the
    // cycles until the next CSR request instead of evaluating the model each cycle
    // (the clock is not drawn in a trace meanwhile).
    if (!t.busy_o && csr_q_.empty() && !csr_cur_ &&
        std::all_of(rsp_q_.begin(), rsp_q_.end(), [](const auto& q) { return q.empty(); })) {
      idle_ = true;
      wait(csr_req_ev_);
      idle_ = false;
      const uint64_t now_ps = to_ps(sc_core::sc_time_stamp());
      const uint64_t next = (now_ps + period_ps_ - 1) / period_ps_;  // next cycle boundary
      if (next * period_ps_ > now_ps) wait(ps((next * period_ps_ - now_ps)));
      if (next > cycle_) {
        idle_cycles_ += next - cycle_;
        cycle_ = next;
      }
    }
    const uint64_t start = cycle_;
    bool irq_changed = false;
    csr_completed_ = false;
    while (cycle_ - start < kQuantum) {
      tick(start);
      const bool irq = t.irq_o;
      if (irq != irq_) {
        irq_ = irq;
        irq_changed = true;
      }
      if (csr_completed_ || irq_changed) break;
    }
    wait(period_ * static_cast<double>(cycle_ - start));
    if (irq_changed) irq_o.write(irq_);
    if (csr_completed_) csr_done_ev_.notify();
  }
}

template class RtlCore<Vrdu_core_tiny>;
#ifdef OPENRDU_HAVE_SMALL_RTL
template class RtlCore<Vrdu_core_small>;
#endif
#ifdef OPENRDU_HAVE_PLASTICINE_RTL
template class RtlCore<Vrdu_core_plasticine>;
#endif

CoreBase* make_rtl_core(const arch::Config& cfg, const PlatformOptions& opt) {
  auto builtin = rtl_core_configs();
  for (const auto& n : builtin) {
    if (n != cfg.name) continue;
    if (n == "tiny") return new RtlCore<Vrdu_core_tiny>("core", cfg, opt);
#ifdef OPENRDU_HAVE_SMALL_RTL
    if (n == "small") return new RtlCore<Vrdu_core_small>("core", cfg, opt);
#endif
#ifdef OPENRDU_HAVE_PLASTICINE_RTL
    if (n == "plasticine") return new RtlCore<Vrdu_core_plasticine>("core", cfg, opt);
#endif
  }
  std::string avail;
  for (const auto& n : builtin) avail += (avail.empty() ? "" : ", ") + n;
  throw std::runtime_error(fmt::format("verilator backend: no Verilated core for configuration '{}' (built: {})",
                                       cfg.name, avail));
}

}  // namespace openrdu::platform
