#include "openrdu/platform/platform.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>

#include <fmt/format.h>

#include "openrdu/gen/regs.h"
#include "openrdu/platform/core_base.h"
#include "openrdu/platform/dram.h"
#include "openrdu/platform/endpoint.h"
#include "openrdu/platform/func_core.h"
#include "openrdu/platform/host_memory.h"

// libsystemc's main() needs sc_main; nothing here uses it (the host drives the kernel).
int sc_main(int, char*[]) { return 0; }

#if defined(__SANITIZE_ADDRESS__)
#include <dlfcn.h>
#include <pthread.h>
// libsystemc (2.3.4) tells AddressSanitizer of its coroutine switches through weak references
// to the fiber API, but switches back to the main coroutine as to a stack of 0 bytes at 0:
// ASan then takes the thread's own stack to be empty, ignores the unpoisoning of every later
// exception thrown on it ("ASan is ignoring requested __asan_handle_no_return") and reports
// the stale poison afterwards (stack-use-after-scope in clock_gettime, driver_func_test).
// This definition comes before libasan's and names the thread's stack instead (make asan).
extern "C" void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom, size_t size) {
  using Fn = void (*)(void**, const void*, size_t);
  static const Fn asan = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, "__sanitizer_start_switch_fiber"));
  // The first switch of a thread leaves its own stack (the main coroutine's).
  thread_local const std::pair<void*, size_t> own = [] {
    std::pair<void*, size_t> s{nullptr, 0};
    pthread_attr_t attr;
    if (::pthread_getattr_np(::pthread_self(), &attr) == 0) {
      ::pthread_attr_getstack(&attr, &s.first, &s.second);
      ::pthread_attr_destroy(&attr);
    }
    return s;
  }();
  if (bottom == nullptr && size == 0) bottom = own.first, size = own.second;
  asan(fake_stack_save, bottom, size);
}
#endif

namespace openrdu::platform {

std::vector<std::string> rtl_core_configs() {
  std::vector<std::string> v;
#ifdef OPENRDU_HAVE_RTL_CORE
  v.push_back("tiny");
#ifdef OPENRDU_HAVE_SMALL_RTL
  v.push_back("small");
#endif
#ifdef OPENRDU_HAVE_PLASTICINE_RTL
  v.push_back("plasticine");
#endif
#endif
  return v;
}

#ifndef OPENRDU_HAVE_RTL_CORE
CoreBase* make_rtl_core(const arch::Config& cfg, const PlatformOptions&) {
  throw std::runtime_error(fmt::format(
      "verilator backend: this build has no Verilated core (rtl/core/rdu_core.sv was missing at configure "
      "time), so configuration '{}' cannot run on it; use the func backend",
      cfg.name));
}
#endif

namespace {
std::atomic<bool> g_platform_built{false};

// The host side of the link: executes BAR0 requests posted by the calling thread.
class HostBridge : public sc_module {
 public:
  struct Request {
    bool we;
    uint32_t offset;
    uint32_t data;
    bool done = false;
    bool ok = false;
  };
  tlm_utils::simple_initiator_socket<HostBridge> bar0;
  SC_HAS_PROCESS(HostBridge);
  explicit HostBridge(sc_module_name n) : sc_module(n), bar0("bar0") { SC_THREAD(run); }

  void post(Request* r) {
    q_.push_back(r);
    ev_.notify(sc_core::SC_ZERO_TIME);
  }

 private:
  void run() {
    for (;;) {
      while (q_.empty()) wait(ev_);
      Request* r = q_.front();
      q_.pop_front();
      tlm_generic_payload gp;
      uint32_t v = r->data;
      set_payload(gp, r->we ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND, r->offset,
                  reinterpret_cast<uint8_t*>(&v), 4);
      sc_time d = sc_core::SC_ZERO_TIME;
      bar0->b_transport(gp, d);
      wait(d);
      r->data = v;
      r->ok = gp.is_response_ok();
      r->done = true;
      sc_core::sc_pause();  // hand control back to the host thread
    }
  }
  std::deque<Request*> q_;
  sc_core::sc_event ev_;
};

// Simulated time per sc_start step: the wall-clock timeout is checked between steps.
const sc_time kStep(10, sc_core::SC_US);
}  // namespace

struct Platform::Impl {
  arch::Config cfg;
  PlatformOptions opt;
  sc_time period;
  // SystemC modules live until the end of the process: the kernel keeps references to
  // their processes, and it cannot elaborate a second time anyway.
  HostMemory* host = nullptr;
  Dram* dram = nullptr;
  Endpoint* ep = nullptr;
  CoreBase* core = nullptr;
  HostBridge* bridge = nullptr;
  sc_core::sc_signal<bool, sc_core::SC_MANY_WRITERS>* irq = nullptr;  // CSR writes and the core both drive it
  uint64_t msi_pending[3] = {0, 0, 0};
  uint64_t msi_total[3] = {0, 0, 0};
  uint32_t waiting_mask = 0;  // MSI vectors a wait is for (bit v)
  double wall_seconds = 0;
  bool finished = false;

  // Run the kernel until pred() holds; false after timeout_s (wall-clock or simulated)
  // or when no activity is left.
  template <class Pred>
  bool run_until(Pred pred, double timeout_s) {
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    core->set_wall_deadline(t0 + std::chrono::duration_cast<clock::duration>(
                                     std::chrono::duration<double>(std::min(timeout_s, 1e6))));
    const sc_time sim_deadline =
        sc_core::sc_time_stamp() + sc_time(std::min(timeout_s, 1e6), sc_core::SC_SEC);
    bool ok = true;
    while (!pred()) {
      const double wall = std::chrono::duration<double>(clock::now() - t0).count();
      if (wall >= timeout_s || sc_core::sc_time_stamp() >= sim_deadline || !sc_core::sc_pending_activity()) {
        ok = false;
        break;
      }
      sc_time step = std::min(kStep, sim_deadline - sc_core::sc_time_stamp());
      sc_core::sc_start(step, sc_core::SC_RUN_TO_TIME);
    }
    wall_seconds += std::chrono::duration<double>(clock::now() - t0).count();
    return ok;
  }

  HostBridge::Request mmio(bool we, uint32_t offset, uint32_t data, double timeout_s) {
    HostBridge::Request r{we, offset, data};
    bridge->post(&r);
    if (!run_until([&] { return r.done; }, timeout_s))
      throw TimeoutError(fmt::format(
          "BAR0 {} of 0x{:04x} ({}): no completion from the {} core after {} s (simulated time {})",
          we ? "write" : "read", offset, gen::reg::reg_name(offset), core->core_kind(), timeout_s,
          sc_core::sc_time_stamp().to_string()));
    if (!r.ok)
      throw std::runtime_error(fmt::format("BAR0 {} of 0x{:04x}: unmapped offset (error response)",
                                           we ? "write" : "read", offset));
    return r;
  }
};

Platform::Platform(const arch::Config& cfg, const PlatformOptions& opt) {
  if (g_platform_built.exchange(true))
    throw std::runtime_error(
        "openrdu::platform::Platform: a Platform was already built in this process; the SystemC kernel "
        "elaborates once per process, so each simulated device needs its own process");
  cfg.validate();
  impl_ = std::make_unique<Impl>();
  Impl& m = *impl_;
  m.cfg = cfg;
  m.opt = opt;
  m.period = sc_time(1e6 / cfg.clock_mhz, sc_core::SC_PS);
  ::setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);

  m.host = new HostMemory("host_memory");
  m.dram = new Dram("dram", cfg, m.period);
  m.ep = new Endpoint("endpoint", cfg.dram_bytes, sc_time(opt.link_latency_ns, sc_core::SC_NS),
                      opt.link_bandwidth_gbs * 1e9);
  m.core = opt.core == CoreKind::Rtl ? make_rtl_core(cfg, opt) : new FuncCore("core", cfg);
  m.bridge = new HostBridge("host_bridge");
  m.irq = new sc_core::sc_signal<bool, sc_core::SC_MANY_WRITERS>("irq");

  m.bridge->bar0.bind(m.ep->bar0);
  m.ep->core_csr.bind(m.core->csr);
  m.ep->dma_host.bind(m.host->socket);
  m.ep->dma_dev.bind(m.dram->dma_port);
  m.ep->dram = m.dram;
  m.core->mem.bind(m.dram->core_port);
  m.core->irq_o.bind(*m.irq);
  m.ep->core_irq.bind(*m.irq);
  m.ep->on_msi = [this](unsigned v) {
    Impl& i = *impl_;
    ++i.msi_pending[v];
    ++i.msi_total[v];
    if (i.waiting_mask >> v & 1) sc_core::sc_pause();
  };
  sc_core::sc_start(sc_core::SC_ZERO_TIME);  // elaborate, initialise
}

Platform::~Platform() {
  if (impl_ && !impl_->finished) {
    impl_->finished = true;
    SimStats st = stats();
    impl_->core->finish(st);
  }
}

const arch::Config& Platform::config() const { return impl_->cfg; }
std::string Platform::core_name() const { return impl_->core->core_kind() + " " + impl_->cfg.name; }

uint32_t Platform::mmio_read(uint32_t offset, double timeout_s) {
  return impl_->mmio(false, offset, 0, timeout_s).data;
}
void Platform::mmio_write(uint32_t offset, uint32_t value, double timeout_s) {
  impl_->mmio(true, offset, value, timeout_s);
}

uint64_t Platform::host_alloc(size_t bytes) { return impl_->host->alloc(bytes); }
void Platform::host_free(uint64_t bus_addr) { impl_->host->free(bus_addr); }
uint8_t* Platform::host_ptr(uint64_t bus_addr, size_t bytes) {
  uint8_t* p = impl_->host->find(bus_addr, bytes);
  if (!p)
    throw std::out_of_range(
        fmt::format("host memory: [0x{:x}, +{}) is not inside one DMA buffer", bus_addr, bytes));
  return p;
}

bool Platform::wait_msi(unsigned vector, double timeout_s) {
  if (vector > 2)
    throw std::out_of_range(fmt::format("MSI vector {} does not exist (0 core, 1 DMA completion, 2 DMA error)", vector));
  return wait_msi_any(1u << vector, timeout_s) == static_cast<int>(vector);
}

int Platform::wait_msi_any(uint32_t mask, double timeout_s) {
  if (mask == 0 || mask > 7)
    throw std::out_of_range(fmt::format("MSI vector mask 0x{:x}: vectors are 0 core, 1 DMA completion, 2 DMA error",
                                        mask));
  Impl& m = *impl_;
  auto pending = [&] {
    for (int v = 0; v < 3; ++v)
      if ((mask >> v & 1) && m.msi_pending[v] > 0) return v;
    return -1;
  };
  m.waiting_mask = mask;
  bool ok = m.run_until([&] { return pending() >= 0; }, timeout_s);
  m.waiting_mask = 0;
  if (!ok) return -1;
  const int v = pending();
  --m.msi_pending[v];
  return v;
}

void Platform::clear_msi(unsigned vector) {
  if (vector > 2)
    throw std::out_of_range(fmt::format("MSI vector {} does not exist (0 core, 1 DMA completion, 2 DMA error)", vector));
  impl_->msi_pending[vector] = 0;
}

uint64_t Platform::msi_count(unsigned vector) const { return vector > 2 ? 0 : impl_->msi_total[vector]; }

void Platform::zero_dram(uint64_t addr, uint64_t bytes) {
  if (!impl_->dram->zero(addr, bytes))
    throw std::runtime_error(fmt::format("zero_dram: [0x{:x}, +0x{:x}) lies outside device DRAM (0x{:x} bytes)", addr,
                                         bytes, impl_->dram->size()));
}

void Platform::advance(uint64_t cycles) {
  const sc_time until = sc_core::sc_time_stamp() + impl_->period * static_cast<double>(cycles);
  // SC_RUN_TO_TIME moves time on even when nothing is pending (an idle RTL core
  // schedules no events while it skips cycles).
  while (sc_core::sc_time_stamp() < until)
    sc_core::sc_start(std::min(kStep, until - sc_core::sc_time_stamp()), sc_core::SC_RUN_TO_TIME);
}

uint64_t Platform::cycles() const { return impl_->core->cycles(); }

SimStats Platform::stats() const {
  SimStats s;
  s.core_cycles = cycles();
  s.sim_time_ps = to_ps(sc_core::sc_time_stamp());
  s.wall_seconds = impl_->wall_seconds;
  s.evaluated_cycles = impl_->core->evaluated_cycles();
  s.cycles_per_second = s.wall_seconds > 0 ? double(s.evaluated_cycles) / s.wall_seconds : 0;
  s.trace_file = impl_->opt.trace_file;
  if (!s.trace_file.empty()) {
    std::error_code ec;
    auto n = std::filesystem::file_size(s.trace_file, ec);
    s.trace_bytes = ec ? 0 : static_cast<uint64_t>(n);
  }
  return s;
}

}  // namespace openrdu::platform
