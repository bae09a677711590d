#include "openrdu/runtime/session.h"

#include "openrdu/runtime/host_tensor.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "openrdu/arch/bitstream.h"
#include "openrdu/arch/memory.h"
#include "openrdu/arch/relocate.h"
#include "openrdu/driver/device.h"
#include "openrdu/driver/protect.h"
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
    : dev_(device), cfg_(cfg), opts_(opts), dram_(device.info().dram_bytes, device.info().dram_base) {
  // Under a node daemon on part of an RDU: the session runs on the tiles it was given
  // (a PEF compiled for as many tiles, relocated at load).
  const auto& info = device.info();
  if (opts_.tiles.empty() && info.managed && !info.tiles.empty() && info.tiles.size() < cfg.num_tiles())
    opts_.tiles = info.tiles;
}

std::unique_ptr<Session> Session::open(const std::string& backend, const arch::Config& cfg, SessionOptions opts,
                                       const driver::DeviceOptions& dev_opts) {
  auto dev = driver::open_device(backend, cfg, dev_opts);
  std::unique_ptr<Session> s(new Session(*dev, cfg, opts));
  s->owned_ = std::move(dev);
  return s;
}

Session::~Session() = default;

void Session::unload() {
  pef_.reset();
  used_units_.clear();
  dram_.clear();
  uploaded_ = false;
  weights_released_ = false;
  pending_ = {};
}

void Session::load(pef::Pef program) {
  unload();
  const auto& info = dev_.info();
  check_pef_for_device(program, info.fingerprint, info.config, info.dram_bytes);
  relocate(program);
  place_program(program, dram_);
  pef_ = std::move(program);
  const pef::Pef& pef = *pef_;
  used_units_.clear();
  for (const auto& s : pef.sections) {
    std::vector<bool> used(cfg_.num_units(), true);
    try {
      const auto words = arch::parse_bitstream(cfg_, s.bitstream);
      for (uint32_t id = 0; id < words.size(); ++id)
        used[id] = std::any_of(words[id].begin(), words[id].end(), [](uint32_t w) { return w != 0; });
    } catch (const arch::BitstreamError&) {
      // The device reports the error at CONFIGURE; read every unit meanwhile.
    }
    used_units_.push_back(std::move(used));
  }
  if (info.managed || !opts_.tiles.empty()) {
    // A node daemon, or the owner of a device shared by tiles, programs the application's
    // DRAM windows itself (PROT_* and PROT_TILES are the owner's).
  } else if (opts_.protect_dram) {
    std::vector<driver::DramRange> ranges;
    for (const auto& t : pef.tensors) ranges.push_back({t.dev_addr, t.bytes});
    for (const auto& s : pef.sections) ranges.push_back({s.dev_addr, 4 * s.bitstream.size()});
    driver::protect_dram(dev_, ranges, 4ull * cfg_.lanes);
  } else {
    driver::unprotect_dram(dev_);
  }
  spdlog::debug("loaded PEF for '{}': {} tensors, {} sections; DRAM {} bytes free", pef.config_name,
                pef.tensors.size(), pef.sections.size(), dram_.free_bytes());
  try {
    upload(pending_);
  } catch (...) {
    unload();
    throw;
  }
}

// Weight tensors whose WEIGHTS ranges overlap (a hand-made PEF may share data): their
// pages cannot be released while another tensor still has to read them.
namespace {
bool weight_ranges_overlap(const pef::Pef& pef) {
  std::vector<std::pair<uint64_t, uint64_t>> r;
  for (const auto& t : pef.tensors)
    if (t.role == pef::Role::Weight && t.bytes) r.emplace_back(t.weight_offset, t.weight_offset + t.bytes);
  std::sort(r.begin(), r.end());
  for (size_t i = 1; i < r.size(); ++i)
    if (r[i].first < r[i - 1].second) return true;
  return false;
}
}  // namespace

// The weights by DMA; keep_weights off: the host copy is released as it goes.
void Session::upload_weights(RunResult& r) {
  pef::Pef& pef = *pef_;
  if (weights_released_)
    throw RuntimeError("the weights cannot be uploaded again after a failed run: the session released its copy "
                       "(SessionOptions::keep_weights off); load the PEF again");
  const bool release = !opts_.keep_weights && !weight_ranges_overlap(pef);
  for (const auto& t : pef.tensors) {
    if (t.role != pef::Role::Weight || t.bytes == 0) continue;
    spdlog::debug("DMA weight '{}' ({} bytes) -> 0x{:x}", t.name, t.bytes, t.dev_addr);
    const uint64_t t0 = now();
    if (release)
      arch::consume_chunks(pef.weights.data() + t.weight_offset, t.bytes, [&](const uint8_t* p, size_t off, size_t n) {
        dev_.copy_to_device(p, t.dev_addr + off, n);
      });
    else
      dev_.copy_to_device(pef.weights.data() + t.weight_offset, t.dev_addr, t.bytes);
    dma_span(r, true, "weight " + t.name, t.dev_addr, t.bytes, t0);
  }
  if (!opts_.keep_weights) {
    std::vector<uint8_t>().swap(pef.weights);
    weights_released_ = true;
  }
}

// Weights and bitstreams: once per load (and again after a failed run).
void Session::upload(RunResult& r) {
  const pef::Pef& pef = *pef_;
  upload_weights(r);
  for (const auto& s : pef.sections) {
    const uint32_t len = uint32_t(4 * s.bitstream.size());
    spdlog::debug("bitstream of '{}' ({} bytes) -> 0x{:x}", s.name, len, s.dev_addr);
    const uint64_t tb = now();
    dev_.copy_to_device(s.bitstream.data(), s.dev_addr, len);
    dma_span(r, true, "bitstream " + s.name, s.dev_addr, len, tb);
  }
  uploaded_ = true;
  ++uploads_;
}

uint32_t Session::tile_mask() const {
  uint32_t m = 0;
  for (uint32_t t : opts_.tiles) m |= 1u << t;
  return m;
}

// PEF compiled for N tiles (META `tiles`) onto SessionOptions::tiles.
void Session::relocate(pef::Pef& program) const {
  const auto it = program.meta.find("tiles");
  const std::string compiled = it == program.meta.end() ? "" : it->second;
  if (opts_.tiles.empty()) {
    if (!compiled.empty())
      throw RuntimeError(fmt::format("PEF compiled for {} tiles (sncompile --tiles): the session needs as many tiles "
                                     "(SessionOptions::tiles), it has the whole device",
                                     compiled));
    return;
  }
  if (compiled != std::to_string(opts_.tiles.size()))
    throw RuntimeError(fmt::format("PEF compiled for {} (META tiles), the session has {} tiles",
                                   compiled.empty() ? "whole devices" : compiled + " tiles", opts_.tiles.size()));
  const std::string shape = fmt::format("{}x{}", cfg_.tile_h(), cfg_.tile_w());
  if (program.meta["tile_shape"] != shape)
    throw RuntimeError(fmt::format("PEF compiled for tiles of {} slots (META tile_shape), configuration '{}' has {}",
                                   program.meta["tile_shape"], cfg_.name, shape));
  // A DRAM window that does not start at 0 (a node daemon's tile window): the program's
  // layout, checked to fit the window's size (check_pef_for_device), moves into it.
  const uint64_t offset = dev_.info().dram_base;
  for (auto& t : program.tensors) t.dev_addr += offset;
  for (auto& s : program.sections) {
    s.dev_addr += offset;
    try {
      s.bitstream = arch::relocate_bitstream(cfg_, s.bitstream, opts_.tiles, static_cast<uint32_t>(offset));
    } catch (const std::exception& e) {
      throw RuntimeError(fmt::format("section '{}': relocation onto tiles {}: {}", s.name, fmt::join(opts_.tiles, ","),
                                     e.what()));
    }
  }
}

// Polls TILE_IRQ_STATUS (waiting for the core interrupt in between) until every cause
// of `want` or an ERROR of the session's tiles; clears the tiles' causes. False at the
// timeout.
bool Session::wait_tiles(uint32_t want, uint32_t& err) {
  const uint32_t m = tile_mask(), mine = m | m << 8 | m << 16;
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(opts_.timeout_s);
  while (std::chrono::steady_clock::now() < end) {
    const uint32_t st = dev_.read32(reg::TILE_IRQ_STATUS);
    if ((st & m << 8) || (st & want) == want) {
      dev_.write32(reg::TILE_IRQ_STATUS, st & mine);  // w1c
      err = (st & m << 8) ? dev_.read32(reg::TILE_ERR0 + 4 * opts_.tiles.front()) : 0;
      return true;
    }
    dev_.wait_irq(kCoreVector, 0.01);
  }
  return false;
}

void Session::wait_core(size_t i, const pef::Section& s, const char* phase, uint32_t want_mask) {
  uint32_t irq = 0, err = 0;
  const bool tiled = !opts_.tiles.empty();
  const uint32_t m = tile_mask();
  if (tiled ? !wait_tiles(want_mask == reg::IRQ_STATUS_RUN_DONE_MASK ? m : m << 16, err)
            : !dev_.wait_irq(kCoreVector, opts_.timeout_s)) {
    std::string state;
    try {
      dev_.write32(tiled ? reg::TILE_CTRL : reg::CTRL, tiled ? m << 8 : reg::CTRL_ABORT_MASK);
      state = fmt::format("aborted, STATUS=0x{:x}", dev_.read32(tiled ? reg::TILE_STATUS : reg::STATUS));
      if (tiled) dev_.write32(reg::TILE_IRQ_STATUS, m | m << 8 | m << 16);
      else dev_.write32(reg::IRQ_STATUS, kIrqAll);
    } catch (const std::exception& e) {
      state = fmt::format("abort failed: {}", e.what());
    }
    throw RuntimeError(fmt::format("section {} ({}): device did not finish within {} s ({}; {})", i, s.name,
                                   opts_.timeout_s, phase, state));
  }
  if (tiled) {
    irq = err ? reg::IRQ_STATUS_ERROR_MASK : want_mask;
  } else {
    irq = dev_.read32(reg::IRQ_STATUS);
    dev_.write32(reg::IRQ_STATUS, irq);  // w1c
    if (irq & reg::IRQ_STATUS_ERROR_MASK) err = dev_.read32(reg::ERR_STATUS);
  }
  if (irq & reg::IRQ_STATUS_ERROR_MASK) {
    const uint32_t code = (err & reg::ERR_STATUS_CODE_MASK) >> reg::ERR_STATUS_CODE_SHIFT;
    const uint32_t unit = (err & reg::ERR_STATUS_UNIT_MASK) >> reg::ERR_STATUS_UNIT_SHIFT;
    std::string where = unit == 0xFFFF ? "" : " at " + cfg_.unit_name(unit);
    if (code == static_cast<uint32_t>(gen::ErrorCode::WATCHDOG)) {
      const std::string msg =
          fmt::format("section {} ({}): {} failed: error {} after {} cycles: {} is not done (ERR_STATUS=0x{:08x})", i,
                      s.name, phase, gen::error_name(code), opts_.watchdog_cycles,
                      unit == 0xFFFF ? std::string("no unit") : cfg_.unit_name(unit), err);
      // The run was stopped by the watchdog: reset the device so it can be used again
      // (tiles: the stopped tiles are idle again, the others run on).
      if (!tiled) {
        spdlog::info("{}; resetting the device", msg);
        dev_.reset();
        dev_.write32(reg::IRQ_STATUS, kIrqAll);
      }
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
  check_inputs(*pef_, inputs);
  std::map<std::string, std::vector<uint32_t>> words;  // converted before the device is touched
  for (const auto& t : pef_->tensors)
    if (t.role == pef::Role::Input) words.emplace(t.name, to_device_words(inputs.at(t.name), t));
  try {
    return run_steps(words);
  } catch (...) {
    uploaded_ = false;  // a failed run may have left DRAM in any state
    throw;
  }
}

namespace {
// A section's per-unit activity on its run span (profile): active and stalled cycles of
// every unit its bitstream configures (`used`), and its DRAM bytes.
void annotate_run_span(TraceSpan& span, const driver::Counters& c, const std::vector<bool>& used) {
  for (const auto& u : c.units) {
    if (u.id >= used.size() || !used[u.id]) continue;
    const std::string unit = u.name.substr(0, u.name.find(' '));
    span.num_args.push_back({unit + " active", u.active});
    span.num_args.push_back({unit + " stall_in", u.stall_in});
    span.num_args.push_back({unit + " stall_out", u.stall_out});
  }
  span.num_args.push_back({"dram_rd_bytes", c.mem_rd_bytes});
  span.num_args.push_back({"dram_wr_bytes", c.mem_wr_bytes});
}
}  // namespace

// Clears and enables the interrupt causes the session waits on: the whole device's, or
// its tiles' only.
void Session::enable_interrupts() {
  const uint32_t m = tile_mask();
  if (m == 0) {
    // The whole device: tiled sessions before may have left their tiles' causes enabled,
    // which would hold the core interrupt high (no new edge, no MSI) once CONFIGURE sets
    // every tile's CONFIG_DONE.
    dev_.write32(reg::TILE_IRQ_ENABLE, 0);
    dev_.write32(reg::IRQ_STATUS, kIrqAll);
    dev_.write32(reg::IRQ_ENABLE, kIrqAll);
  } else {  // the session's tiles' causes only
    dev_.write32(reg::TILE_IRQ_STATUS, m | m << 8 | m << 16);
    dev_.write32(reg::TILE_IRQ_ENABLE, dev_.read32(reg::TILE_IRQ_ENABLE) | m | m << 8 | m << 16);
  }
}

RunResult Session::run_steps(const std::map<std::string, std::vector<uint32_t>>& inputs) {
  const pef::Pef& pef = *pef_;
  RunResult result = std::move(pending_);
  pending_ = {};
  if (!uploaded_) upload(result);

  enable_interrupts();
  const uint32_t m = tile_mask();
  dev_.write32(reg::WATCHDOG, opts_.watchdog_cycles);
  dev_.write32(reg::FAULT, opts_.fault);

  for (const auto& t : pef.tensors) {
    if (t.role == pef::Role::Input && t.bytes) {
      spdlog::debug("DMA input '{}' ({} bytes) -> 0x{:x}", t.name, t.bytes, t.dev_addr);
      const uint64_t t0 = now();
      dev_.copy_to_device(inputs.at(t.name).data(), t.dev_addr, t.bytes);
      dma_span(result, true, "input " + t.name, t.dev_addr, t.bytes, t0);
    }
  }

  for (size_t i = 0; i < pef.sections.size(); ++i) {
    const auto& s = pef.sections[i];
    const uint32_t len = uint32_t(4 * s.bitstream.size());
    const uint64_t tc = now();
    dev_.write32(reg::CFG_ADDR, uint32_t(s.dev_addr));
    dev_.write32(reg::CFG_LEN, len);
    dev_.write32(m ? reg::TILE_CTRL : reg::CTRL, m ? m << 16 : reg::CTRL_CONFIGURE_MASK);  // TILE_CTRL.CONFIGURE
    wait_core(i, s, "configuration", reg::IRQ_STATUS_CONFIG_DONE_MASK);
    SectionReport rep;
    rep.index = i;
    rep.name = s.name;
    rep.config_cycles = dev_.read32(reg::CFG_CYCLES);
    result.spans.push_back({"configuration", fmt::format("configure {} ({})", i, s.name), tc, rep.config_cycles,
                            {{"section", s.name}}, {{"section_index", i}, {"bitstream_bytes", len}}});
    cursor_ = std::max(cursor_, tc + rep.config_cycles);
    const auto channels_before = driver::read_dram_channels(dev_);
    const uint64_t tr = now();
    dev_.write32(m ? reg::TILE_CTRL : reg::CTRL, m ? m : reg::CTRL_START_MASK);  // TILE_CTRL.START
    wait_core(i, s, "run", reg::IRQ_STATUS_RUN_DONE_MASK);
    if (m) {
      rep.cycles = dev_.read32(reg::TILE_CYCLES0 + 4 * opts_.tiles.front());
    } else {
      const uint32_t lo = dev_.read32(reg::CYCLES_LO);
      const uint32_t hi = dev_.read32(reg::CYCLES_HI);
      rep.cycles = uint64_t(hi) << 32 | lo;
    }
    result.spans.push_back({"run", fmt::format("run {} ({})", i, s.name), tr, rep.cycles, {{"section", s.name}},
                            {{"section_index", i}, {"cycles", rep.cycles}}});
    cursor_ = std::max(cursor_, tr + rep.cycles);
    spdlog::info("section {} ({}): {} cycles (configuration {} cycles)", i, s.name, rep.cycles, rep.config_cycles);
    result.total_cycles += rep.cycles;
    result.total_config_cycles += rep.config_cycles;
    const driver::Counters c = driver::read_counters(dev_, cfg_, &used_units_.at(i), &channels_before);
    annotate_run_span(result.spans.back(), c, used_units_.at(i));
    driver::accumulate(result.counters, c);
    result.sections.push_back(std::move(rep));
  }

  for (const auto& t : pef.tensors) {
    if (t.role != pef::Role::Output) continue;
    std::vector<uint32_t> w(t.elements());
    if (t.bytes) {
      const uint64_t t0 = now();
      dev_.copy_from_device(w.data(), t.dev_addr, t.bytes);
      dma_span(result, false, "output " + t.name, t.dev_addr, t.bytes, t0);
      spdlog::debug("DMA output '{}' ({} bytes) <- 0x{:x}", t.name, t.bytes, t.dev_addr);
    }
    result.outputs.emplace(t.name, from_device_words(w, t));
  }
  driver::refresh_link_counters(dev_, result.counters);
  return result;
}

const pef::Pef& Session::program() const {
  if (!pef_) throw RuntimeError("no PEF loaded");
  return *pef_;
}

const pef::Tensor& Session::loaded_tensor(const std::string& name, const char* what) const {
  if (!pef_) throw RuntimeError(fmt::format("{} '{}': no PEF loaded", what, name));
  const pef::Tensor* t = pef_->find(name);
  if (!t) throw RuntimeError(fmt::format("{} '{}': the loaded PEF has no tensor of that name", what, name));
  return *t;
}

HostTensor Session::read_tensor(const std::string& name) {
  const pef::Tensor& t = loaded_tensor(name, "read_tensor");
  std::vector<uint32_t> w(t.elements());
  if (t.bytes) dev_.copy_from_device(w.data(), t.dev_addr, t.bytes);
  return from_device_words(w, t);
}

void Session::write_tensor(const std::string& name, const HostTensor& value) {
  const pef::Tensor& t = loaded_tensor(name, "write_tensor");
  if (value.shape != t.shape)
    throw RuntimeError(fmt::format("write_tensor '{}': shape {} given, the tensor's shape is {}", name,
                                   shape_str(value.shape), shape_str(t.shape)));
  const std::vector<uint32_t> w = to_device_words(value, t);
  if (t.bytes) dev_.copy_to_device(w.data(), t.dev_addr, t.bytes);
  if (t.role == pef::Role::Weight && t.bytes && !weights_released_)
    std::memcpy(pef_->weights.data() + t.weight_offset, w.data(), t.bytes);
}

uint64_t Session::now() {
  cursor_ = std::max(cursor_, dev_.cycles());
  return cursor_;
}

void Session::dma_span(RunResult& r, bool to_device, const std::string& what, uint64_t addr, uint64_t bytes,
                       uint64_t t0) {
  const uint64_t t1 = dev_.cycles();
  const uint64_t dur = t1 > t0 ? t1 - t0 : 0;
  (to_device ? r.dma_to_device_bytes : r.dma_from_device_bytes) += bytes;
  r.spans.push_back({to_device ? "dma host->device" : "dma device->host", what, t0, dur,
                     {{"dev_addr", fmt::format("0x{:x}", addr)}}, {{"bytes", bytes}}});
  cursor_ = std::max(cursor_, t0 + dur);
}

namespace {
bool tail_equal(const std::vector<int64_t>& a, size_t from, const std::vector<int64_t>& b, size_t bfrom) {
  if (a.size() - from != b.size() - bfrom) return false;
  return std::equal(a.begin() + long(from), a.end(), b.begin() + long(bfrom));
}
}  // namespace

size_t batch_size(const pef::Pef& pef, const std::map<std::string, HostTensor>& batched) {
  for (const auto& [name, t] : batched) {
    auto it = std::find_if(pef.tensors.begin(), pef.tensors.end(), [&](const pef::Tensor& x) { return x.name == name; });
    if (it == pef.tensors.end() || it->role != pef::Role::Input)
      throw RuntimeError(fmt::format("batch input '{}': the model has no input of that name", name));
  }
  std::vector<std::string> desc;
  std::optional<int64_t> n;
  bool disagree = false;
  for (const auto& t : pef.tensors) {
    if (t.role != pef::Role::Input) continue;
    auto it = batched.find(t.name);
    if (it == batched.end()) throw RuntimeError(fmt::format("batch: input '{}' {} not given", t.name, shape_str(t.shape)));
    const auto& g = it->second.shape;
    int64_t k = -1;
    if (g.size() == t.shape.size() + 1 && tail_equal(g, 1, t.shape, 0)) k = g[0];
    else if (!t.shape.empty() && t.shape[0] == 1 && g.size() == t.shape.size() && tail_equal(g, 1, t.shape, 1)) k = g[0];
    if (k < 0)
      throw RuntimeError(fmt::format("batch input '{}': shape {} is not [N, ...] of the model's input shape {}", t.name,
                                     shape_str(g), shape_str(t.shape)));
    if (it->second.values() != it->second.elements())
      throw RuntimeError(fmt::format("batch input '{}': {} values for shape {}", t.name, it->second.values(),
                                     shape_str(g)));
    desc.push_back(fmt::format("'{}' {}", t.name, shape_str(g)));
    if (n && *n != k) disagree = true;
    if (!n) n = k;
  }
  if (!n) throw RuntimeError("batch: the model has no inputs");
  std::string all;
  for (const auto& d : desc) all += (all.empty() ? "" : ", ") + d;
  if (disagree) throw RuntimeError(fmt::format("batch inputs disagree on the number of samples: {}", all));
  if (*n == 0) throw RuntimeError(fmt::format("batch of 0 samples: {}", all));
  return static_cast<size_t>(*n);
}

std::map<std::string, HostTensor> batch_sample(const pef::Pef& pef, const std::map<std::string, HostTensor>& batched,
                                               size_t i) {
  std::map<std::string, HostTensor> out;
  for (const auto& t : pef.tensors) {
    if (t.role != pef::Role::Input) continue;
    const auto& b = batched.at(t.name);
    HostTensor s;
    s.shape = t.shape;
    s.dtype = b.dtype;
    const uint64_t n = s.elements();
    if ((i + 1) * n > b.values())
      throw RuntimeError(fmt::format("batch input '{}': no sample {}", t.name, i));
    append_elements(s, b, i * n, n);
    out.emplace(t.name, std::move(s));
  }
  return out;
}

BatchResult Session::run_batch(const std::map<std::string, HostTensor>& batched,
                               const std::function<void(size_t, size_t)>& progress) {
  if (!pef_) throw RuntimeError("Session::run_batch: no PEF loaded");
  const size_t n = batch_size(*pef_, batched);
  BatchResult br;
  br.samples = n;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t t0 = now();
    RunResult r;
    try {
      r = run(batch_sample(*pef_, batched, i));
    } catch (const RuntimeError& e) {
      throw RuntimeError(fmt::format("sample {} of {}: {}", i, n, e.what()));
    }
    br.spans.push_back({"batch", fmt::format("sample {}", i), t0, now() - t0, {}, {{"sample", i}, {"cycles", r.total_cycles}}});
    br.spans.insert(br.spans.end(), r.spans.begin(), r.spans.end());
    driver::accumulate(br.counters, r.counters);
    if (i == 0) {
      br.sections = r.sections;
    } else {
      for (size_t k = 0; k < r.sections.size(); ++k) {
        br.sections[k].cycles += r.sections[k].cycles;
        br.sections[k].config_cycles += r.sections[k].config_cycles;
      }
    }
    br.total_cycles += r.total_cycles;
    br.total_config_cycles += r.total_config_cycles;
    br.dma_to_device_bytes += r.dma_to_device_bytes;
    br.dma_from_device_bytes += r.dma_from_device_bytes;
    for (auto& [name, t] : r.outputs) {
      auto& o = br.outputs[name];
      if (i == 0) {
        o.shape = t.shape;
        o.shape.insert(o.shape.begin(), int64_t(n));
        o.dtype = t.dtype;
      }
      append_elements(o, t, 0, t.values());
    }
    if (progress) progress(i + 1, n);
  }
  return br;
}

}  // namespace openrdu::runtime
