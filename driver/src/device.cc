#include "openrdu/driver/device.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "openrdu/gen/regs.h"
#include "openrdu/platform/platform.h"

namespace openrdu::driver {

namespace reg = gen::reg;

namespace {

constexpr uint32_t kExpectedId = reg::ID_VALUE;  // configs/regs.yaml

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
    copy(false, const_cast<uint8_t*>(static_cast<const uint8_t*>(src)), dev_addr, bytes);
  }
  void copy_from_device(void* dst, uint64_t dev_addr, size_t bytes) override {
    copy(true, static_cast<uint8_t*>(dst), dev_addr, bytes);
  }

  bool wait_irq(unsigned vector, double timeout_s) override {
    return plat_.wait_msi(vector, timeout_s < 0 ? opt_.timeout_s : timeout_s);
  }

  void reset() override {
    write32(reg::CTRL, reg::CTRL_SOFT_RESET_MASK);
    plat_.clear_msi(kIrqCore);
    plat_.clear_msi(kIrqDma);
    plat_.clear_msi(kIrqDmaError);
  }
  void zero_dram(uint64_t dev_addr, uint64_t bytes) override { plat_.zero_dram(dev_addr, bytes); }

  uint64_t cycles() override { return plat_.cycles(); }

  SimStats sim_stats() override {
    platform::SimStats s = plat_.stats();
    return SimStats{s.core_cycles, s.wall_seconds, s.cycles_per_second, s.evaluated_cycles, s.trace_file,
                    s.trace_bytes};
  }

 private:
  // A copy through the DMA engine's descriptor ring (`docs/runtime.md` and `docs/platform.md`): the
  // bytes are staged in host DMA buffers of at most kDmaPiece bytes (a scatter-gather
  // list: the buffers are not contiguous), one descriptor each, in batches of up to
  // kBatch descriptors with the completion interrupt (MSI 1) on the last one of a
  // batch; a failing descriptor stops the ring and raises MSI 2.
  void copy(bool to_host, uint8_t* host, uint64_t dev_addr, size_t bytes) {
    const char* dir = to_host ? "device->host" : "host->device";
    if (dev_addr > UINT32_MAX || bytes > UINT32_MAX || dev_addr + bytes > uint64_t(UINT32_MAX) + 1)
      throw std::out_of_range(fmt::format("DMA {}: device address 0x{:x} + {} bytes does not fit the 32-bit device "
                                          "address; device DRAM is {} bytes",
                                          dir, dev_addr, bytes, info_.dram_bytes));
    if (bytes == 0) return;
    ensure_ring();
    struct Piece {
      uint64_t bus;
      size_t off, n;
    };
    for (size_t batch = 0; batch < bytes; batch += kBatch * kDmaPiece) {
      const size_t batch_bytes = std::min(bytes - batch, kBatch * kDmaPiece);
      std::vector<Piece> pieces;
      struct Free {
        platform::Platform& p;
        std::vector<Piece>& v;
        ~Free() {
          for (const auto& x : v) p.host_free(x.bus);
        }
      } guard{plat_, pieces};
      for (size_t off = 0; off < batch_bytes; off += kDmaPiece) {
        const size_t n = std::min(kDmaPiece, batch_bytes - off);
        pieces.push_back({plat_.host_alloc(n), batch + off, n});
        if (!to_host) std::memcpy(plat_.host_ptr(pieces.back().bus, n), host + batch + off, n);
      }
      auto* d = reinterpret_cast<RingDesc*>(plat_.host_ptr(ring_bus_, kRingEntries * sizeof(RingDesc)));
      for (size_t i = 0; i < pieces.size(); ++i)
        d[i] = RingDesc{pieces[i].bus, static_cast<uint32_t>(dev_addr + pieces[i].off), static_cast<uint32_t>(pieces[i].n),
                        (to_host ? 1u : 0u) | (i + 1 == pieces.size() ? 2u : 0u), 0, 0};
      plat_.clear_msi(kIrqDma);
      plat_.clear_msi(kIrqDmaError);
      // The ring is reset before each batch, so its descriptors start at index 0.
      write32(reg::DMA_RING_CTRL, reg::DMA_RING_CTRL_RESET_MASK);
      write32(reg::DMA_RING_HEAD, static_cast<uint32_t>(pieces.size()));
      const int v = plat_.wait_msi_any(1u << kIrqDma | 1u << kIrqDmaError, opt_.timeout_s);
      if (v < 0)
        throw TimeoutError(fmt::format("DMA {} of {} bytes at device 0x{:08x}: no DMA interrupt (MSI 1 or 2) after {} s; "
                                       "DMA_RING_TAIL={} of {}, DMA_RING_STATUS=0x{:x}",
                                       dir, batch_bytes, dev_addr + batch, opt_.timeout_s, read32(reg::DMA_RING_TAIL),
                                       pieces.size(), read32(reg::DMA_RING_STATUS)));
      if (v == static_cast<int>(kIrqDmaError)) {
        const uint32_t t = read32(reg::DMA_RING_TAIL);
        const Piece& p = pieces.at(t);
        write32(reg::DMA_RING_CTRL, reg::DMA_RING_CTRL_RESET_MASK);
        throw std::runtime_error(fmt::format(
            "DMA {} of {} bytes between host 0x{:x} and device [0x{:08x}, 0x{:x}): descriptor {} failed "
            "(DMA_RING_STATUS.ERROR; device DRAM is [0, 0x{:x}), PROT_CTRL=0x{:x}, PROT_LAST_ADDR=0x{:x})",
            dir, p.n, p.bus, dev_addr + p.off, dev_addr + p.off + p.n, t, info_.dram_bytes, read32(reg::PROT_CTRL),
            read32(reg::PROT_LAST_ADDR)));
      }
      const uint32_t tail = read32(reg::DMA_RING_TAIL);
      if (tail != pieces.size())
        throw std::runtime_error(fmt::format("DMA {}: completion interrupt with DMA_RING_TAIL {} (expected {})", dir, tail,
                                             pieces.size()));
      if (to_host)
        for (const auto& p : pieces) std::memcpy(host + p.off, plat_.host_ptr(p.bus, p.n), p.n);
    }
  }

  struct RingDesc {
    uint64_t host;
    uint32_t dev, len, flags, status;
    uint64_t reserved;
  };
  static_assert(sizeof(RingDesc) == 32);
  static constexpr size_t kRingEntries = 64;
  static constexpr size_t kBatch = kRingEntries - 1;  // HEAD == TAIL means empty: one entry stays free
  static constexpr size_t kDmaPiece = 1u << 20;  // bytes per descriptor

  void ensure_ring() {
    if (ring_bus_) return;
    ring_bus_ = plat_.host_alloc(kRingEntries * sizeof(RingDesc));
    write32(reg::DMA_RING_LO, static_cast<uint32_t>(ring_bus_));
    write32(reg::DMA_RING_HI, static_cast<uint32_t>(ring_bus_ >> 32));
    write32(reg::DMA_RING_SIZE, kRingEntries);
  }
  uint64_t ring_bus_ = 0;

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

void Device::zero_dram(uint64_t dev_addr, uint64_t bytes) {
  const std::vector<uint8_t> zeros(std::min<uint64_t>(bytes, 1u << 20), 0);
  for (uint64_t off = 0; off < bytes; off += zeros.size())
    copy_to_device(zeros.data(), dev_addr + off, std::min<uint64_t>(zeros.size(), bytes - off));
}

std::unique_ptr<Device> open_device(const std::string& backend, const arch::Config& cfg, const DeviceOptions& opt) {
  if (is_node_device(backend)) return open_remote_device(backend.substr(5), cfg, opt);
  if (backend != "verilator" && backend != "func")
    throw std::invalid_argument(
        fmt::format("unknown device backend '{}' (available: {}, or unix:PATH for a node daemon)", backend,
                    join(backends())));
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
