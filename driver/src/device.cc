#include "openrdu/driver/device.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "openrdu/gen/regs.h"
#include "openrdu/platform/platform.h"

namespace openrdu::driver {

namespace reg = gen::reg;

namespace {

constexpr uint32_t kExpectedId = 0x52445530u;
constexpr size_t kDmaMaxChunk = 16u << 20;  // bytes per DMA transfer

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? "none" : s;
}

class SimDevice : public Device {
 public:
  SimDevice(const std::string& backend, const arch::Config& cfg, const DeviceOptions& opt)
      : opt_(opt),
        plat_(cfg, platform::PlatformOptions{backend == "verilator" ? platform::CoreKind::Rtl
                                                                    : platform::CoreKind::Func,
                                             opt.trace_file, opt.trace_start, opt.trace_stop}) {
    info_.backend = backend;
    info_.config = cfg.name;
    info_.id = read32(reg::ID);
    if (info_.id != kExpectedId)
      throw std::runtime_error(fmt::format("{} device: ID register reads 0x{:08x}, expected 0x{:08x} (OpenRDU core)",
                                           backend, info_.id, kExpectedId));
    info_.version = read32(reg::VERSION);
    info_.fingerprint = read32(reg::FINGERPRINT);
    if (info_.fingerprint != cfg.fingerprint())
      throw std::runtime_error(
          fmt::format("{} device: FINGERPRINT register 0x{:08x} differs from configuration '{}' (0x{:08x})", backend,
                      info_.fingerprint, cfg.name, cfg.fingerprint()));
    const uint32_t grid = read32(reg::CAP_GRID), pcu = read32(reg::CAP_PCU);
    info_.rows = (grid & reg::CAP_GRID_ROWS_MASK) >> reg::CAP_GRID_ROWS_SHIFT;
    info_.cols = (grid & reg::CAP_GRID_COLS_MASK) >> reg::CAP_GRID_COLS_SHIFT;
    info_.agcu = (grid & reg::CAP_GRID_AGCU_MASK) >> reg::CAP_GRID_AGCU_SHIFT;
    info_.lanes = (pcu & reg::CAP_PCU_LANES_MASK) >> reg::CAP_PCU_LANES_SHIFT;
    info_.stages = (pcu & reg::CAP_PCU_STAGES_MASK) >> reg::CAP_PCU_STAGES_SHIFT;
    info_.regs = (pcu & reg::CAP_PCU_REGS_MASK) >> reg::CAP_PCU_REGS_SHIFT;
    info_.vin = (pcu & reg::CAP_PCU_VIN_MASK) >> reg::CAP_PCU_VIN_SHIFT;
    info_.pmu_bytes = read32(reg::CAP_PMU);
    info_.dram_bytes = uint64_t(read32(reg::CAP_DRAM)) << 20;
    write32(reg::IRQ_ENABLE,
            reg::IRQ_STATUS_CONFIG_DONE_MASK | reg::IRQ_STATUS_RUN_DONE_MASK | reg::IRQ_STATUS_ERROR_MASK);
  }

  const DeviceInfo& info() const override { return info_; }

  uint32_t read32(uint32_t offset) override {
    try {
      return plat_.mmio_read(offset, opt_.timeout_s);
    } catch (const platform::TimeoutError& e) {
      throw TimeoutError(e.what());
    }
  }
  void write32(uint32_t offset, uint32_t value) override {
    try {
      plat_.mmio_write(offset, value, opt_.timeout_s);
    } catch (const platform::TimeoutError& e) {
      throw TimeoutError(e.what());
    }
  }

  void copy_to_device(const void* src, uint64_t dev_addr, size_t bytes) override {
    const auto* p = static_cast<const uint8_t*>(src);
    for (size_t off = 0; off < bytes || (bytes == 0 && off == 0); off += kDmaMaxChunk) {
      size_t n = std::min(kDmaMaxChunk, bytes - off);
      dma(false, const_cast<uint8_t*>(p + off), dev_addr + off, n);
      if (bytes == 0) break;
    }
  }
  void copy_from_device(void* dst, uint64_t dev_addr, size_t bytes) override {
    auto* p = static_cast<uint8_t*>(dst);
    for (size_t off = 0; off < bytes || (bytes == 0 && off == 0); off += kDmaMaxChunk) {
      size_t n = std::min(kDmaMaxChunk, bytes - off);
      dma(true, p + off, dev_addr + off, n);
      if (bytes == 0) break;
    }
  }

  bool wait_irq(unsigned vector, double timeout_s) override {
    return plat_.wait_msi(vector, timeout_s < 0 ? opt_.timeout_s : timeout_s);
  }

  void reset() override {
    write32(reg::CTRL, reg::CTRL_SOFT_RESET_MASK);
    plat_.clear_msi(kIrqCore);
    plat_.clear_msi(kIrqDma);
  }

  uint64_t cycles() override { return plat_.cycles(); }

  SimStats sim_stats() override {
    platform::SimStats s = plat_.stats();
    return SimStats{s.core_cycles, s.wall_seconds, s.cycles_per_second, s.evaluated_cycles, s.trace_file,
                    s.trace_bytes};
  }

 private:
  void dma(bool to_host, uint8_t* host, uint64_t dev_addr, size_t n) {
    const char* dir = to_host ? "device->host" : "host->device";
    if (dev_addr > UINT32_MAX || n > UINT32_MAX)
      throw std::out_of_range(fmt::format("DMA {}: device address 0x{:x} + {} bytes does not fit DMA_DEV_ADDR/DMA_LEN "
                                          "(32 bit); device DRAM is {} bytes",
                                          dir, dev_addr, n, info_.dram_bytes));
    const uint64_t bus = plat_.host_alloc(n);
    struct Free {
      platform::Platform& p;
      uint64_t a;
      ~Free() { p.host_free(a); }
    } guard{plat_, bus};
    if (!to_host && n) std::memcpy(plat_.host_ptr(bus, n), host, n);
    plat_.clear_msi(kIrqDma);
    write32(reg::DMA_HOST_ADDR_LO, static_cast<uint32_t>(bus));
    write32(reg::DMA_HOST_ADDR_HI, static_cast<uint32_t>(bus >> 32));
    write32(reg::DMA_DEV_ADDR, static_cast<uint32_t>(dev_addr));
    write32(reg::DMA_LEN, static_cast<uint32_t>(n));
    write32(reg::DMA_CTRL, reg::DMA_CTRL_START_MASK | (to_host ? reg::DMA_CTRL_TO_HOST_MASK : 0));
    if (!plat_.wait_msi(kIrqDma, opt_.timeout_s))
      throw TimeoutError(fmt::format("DMA {} of {} bytes (host 0x{:x}, device 0x{:08x}): no DMA interrupt (MSI 1) "
                                     "after {} s; DMA_STATUS=0x{:x}",
                                     dir, n, bus, dev_addr, opt_.timeout_s, read32(reg::DMA_STATUS)));
    const uint32_t st = read32(reg::DMA_STATUS);
    if (st & reg::DMA_STATUS_ERROR_MASK)
      throw std::runtime_error(fmt::format("DMA {} of {} bytes between host 0x{:x} and device [0x{:08x}, 0x{:x}): "
                                           "DMA_STATUS.ERROR (device DRAM is [0, 0x{:x}))",
                                           dir, n, bus, dev_addr, dev_addr + n, info_.dram_bytes));
    if (!(st & reg::DMA_STATUS_DONE_MASK))
      throw std::runtime_error(fmt::format("DMA {}: interrupt without DMA_STATUS.DONE (0x{:x})", dir, st));
    if (to_host && n) std::memcpy(host, plat_.host_ptr(bus, n), n);
  }

  DeviceOptions opt_;
  platform::Platform plat_;
  DeviceInfo info_;
};

}  // namespace

std::vector<std::string> verilator_configs() { return platform::rtl_core_configs(); }

std::vector<std::string> backends() {
  std::vector<std::string> b{"func"};
  if (!verilator_configs().empty()) b.push_back("verilator");
  return b;
}

std::unique_ptr<Device> open_device(const std::string& backend, const arch::Config& cfg, const DeviceOptions& opt) {
  if (backend != "verilator" && backend != "func")
    throw std::invalid_argument(
        fmt::format("unknown device backend '{}' (available: {})", backend, join(backends())));
  if (backend == "verilator") {
    auto cfgs = verilator_configs();
    if (std::find(cfgs.begin(), cfgs.end(), cfg.name) == cfgs.end())
      throw std::invalid_argument(fmt::format(
          "verilator backend: no Verilated core for configuration '{}' (built: {}); the func backend runs any "
          "configuration",
          cfg.name, join(cfgs)));
    // The Verilated core has the parameters of configs/<name>.yaml: a modified
    // configuration under the same name cannot run on it.
    const arch::Config builtin = arch::load_config(cfg.name);
    if (builtin.fingerprint() != cfg.fingerprint())
      throw std::invalid_argument(fmt::format(
          "verilator backend: configuration '{}' (fingerprint 0x{:08x}) differs from the built-in '{}' "
          "(0x{:08x}) the core was Verilated for",
          cfg.name, cfg.fingerprint(), cfg.name, builtin.fingerprint()));
  }
  return std::make_unique<SimDevice>(backend, cfg, opt);
}

}  // namespace openrdu::driver
