#include "openrdu/runtime/session.h"

#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "openrdu/driver/device.h"
#include "openrdu/gen/isa.h"
#include "openrdu/gen/regs.h"

namespace openrdu::runtime {

namespace reg = gen::reg;

namespace {
constexpr uint32_t kIrqAll =
    reg::IRQ_STATUS_CONFIG_DONE_MASK | reg::IRQ_STATUS_RUN_DONE_MASK | reg::IRQ_STATUS_ERROR_MASK;
constexpr unsigned kCoreVector = driver::kIrqCore;
}  // namespace

Session::Session(driver::Device& device, const arch::Config& cfg, SessionOptions opts)
    : dev_(device), cfg_(cfg), opts_(opts) {}

void Session::load(const pef::Pef& pef) {
  const auto& info = dev_.info();
  check_pef_for_device(pef, info.fingerprint, info.config, info.dram_bytes);
  pef_ = pef;
  spdlog::debug("loaded PEF for '{}': {} tensors, {} sections", pef.config_name, pef.tensors.size(),
                pef.sections.size());
}

void Session::wait_core(size_t i, const pef::Section& s, const char* phase, uint32_t want_mask) {
  if (!dev_.wait_irq(kCoreVector, opts_.timeout_s)) {
    std::string state;
    try {
      dev_.write32(reg::CTRL, reg::CTRL_ABORT_MASK);
      state = fmt::format("aborted, STATUS=0x{:x}", dev_.read32(reg::STATUS));
      dev_.write32(reg::IRQ_STATUS, kIrqAll);
    } catch (const std::exception& e) {
      state = fmt::format("abort failed: {}", e.what());
    }
    throw RuntimeError(fmt::format("section {} ({}): device did not finish within {} s ({}; {})", i, s.name,
                                   opts_.timeout_s, phase, state));
  }
  const uint32_t irq = dev_.read32(reg::IRQ_STATUS);
  dev_.write32(reg::IRQ_STATUS, irq);  // w1c
  if (irq & reg::IRQ_STATUS_ERROR_MASK) {
    const uint32_t err = dev_.read32(reg::ERR_STATUS);
    const uint32_t code = (err & reg::ERR_STATUS_CODE_MASK) >> reg::ERR_STATUS_CODE_SHIFT;
    const uint32_t unit = (err & reg::ERR_STATUS_UNIT_MASK) >> reg::ERR_STATUS_UNIT_SHIFT;
    std::string where = unit == 0xFFFF ? "" : " at " + cfg_.unit_name(unit);
    if (code == static_cast<uint32_t>(gen::ErrorCode::WATCHDOG)) {
      // The run was stopped by the watchdog: reset the device so it can be used again.
      const std::string msg =
          fmt::format("section {} ({}): {} failed: error {} after {} cycles: {} is not done (ERR_STATUS=0x{:08x})", i,
                      s.name, phase, gen::error_name(code), opts_.watchdog_cycles,
                      unit == 0xFFFF ? std::string("no unit") : cfg_.unit_name(unit), err);
      spdlog::info("{}; resetting the device", msg);
      dev_.reset();
      dev_.write32(reg::IRQ_STATUS, kIrqAll);
      throw RuntimeError(msg);
    }
    throw RuntimeError(fmt::format("section {} ({}): {} failed: error {} ({}){} (ERR_STATUS=0x{:08x})", i, s.name,
                                   phase, gen::error_name(code), gen::error_desc(code), where, err));
  }
  if (!(irq & want_mask))
    throw RuntimeError(fmt::format("section {} ({}): {}: core interrupt without the expected cause "
                                   "(IRQ_STATUS=0x{:x})", i, s.name, phase, irq));
}

RunResult Session::run(const std::map<std::string, HostTensor>& inputs) {
  if (!pef_) throw RuntimeError("Session::run: no PEF loaded");
  const pef::Pef& pef = *pef_;
  check_inputs(pef, inputs);

  dev_.write32(reg::IRQ_STATUS, kIrqAll);
  dev_.write32(reg::IRQ_ENABLE, kIrqAll);
  dev_.write32(reg::WATCHDOG, opts_.watchdog_cycles);

  for (const auto& t : pef.tensors) {
    if (t.role == pef::Role::Constant) {
      spdlog::debug("DMA constant '{}' ({} bytes) -> 0x{:x}", t.name, t.bytes, t.dev_addr);
      dev_.copy_to_device(pef.consts.data() + t.const_offset, t.dev_addr, t.bytes);
    } else if (t.role == pef::Role::Input) {
      spdlog::debug("DMA input '{}' ({} bytes) -> 0x{:x}", t.name, t.bytes, t.dev_addr);
      dev_.copy_to_device(inputs.at(t.name).data.data(), t.dev_addr, t.bytes);
    }
  }

  RunResult result;
  for (size_t i = 0; i < pef.sections.size(); ++i) {
    const auto& s = pef.sections[i];
    const uint32_t len = uint32_t(4 * s.bitstream.size());
    spdlog::debug("section {} ({}): bitstream {} bytes -> 0x{:x}", i, s.name, len, s.dev_addr);
    dev_.copy_to_device(s.bitstream.data(), s.dev_addr, len);
    dev_.write32(reg::CFG_ADDR, uint32_t(s.dev_addr));
    dev_.write32(reg::CFG_LEN, len);
    dev_.write32(reg::CTRL, reg::CTRL_CONFIGURE_MASK);
    wait_core(i, s, "configuration", reg::IRQ_STATUS_CONFIG_DONE_MASK);
    SectionReport rep;
    rep.index = i;
    rep.name = s.name;
    rep.config_cycles = dev_.read32(reg::CFG_CYCLES);
    dev_.write32(reg::CTRL, reg::CTRL_START_MASK);
    wait_core(i, s, "run", reg::IRQ_STATUS_RUN_DONE_MASK);
    const uint32_t lo = dev_.read32(reg::CYCLES_LO);
    const uint32_t hi = dev_.read32(reg::CYCLES_HI);
    rep.cycles = uint64_t(hi) << 32 | lo;
    spdlog::info("section {} ({}): {} cycles (configuration {} cycles)", i, s.name, rep.cycles, rep.config_cycles);
    result.total_cycles += rep.cycles;
    result.total_config_cycles += rep.config_cycles;
    result.sections.push_back(std::move(rep));
  }

  for (const auto& t : pef.tensors) {
    if (t.role != pef::Role::Output) continue;
    HostTensor out;
    out.shape = t.shape;
    out.data.resize(t.elements());
    dev_.copy_from_device(out.data.data(), t.dev_addr, t.bytes);
    spdlog::debug("DMA output '{}' ({} bytes) <- 0x{:x}", t.name, t.bytes, t.dev_addr);
    result.outputs.emplace(t.name, std::move(out));
  }
  return result;
}

}  // namespace openrdu::runtime
