// Session protocol against a scripted device: the register sequence of section 10,
// error reporting (code and unit names), timeout with abort, DMA of tensors.
#include <gtest/gtest.h>

#include <cstring>
#include <deque>

#include "openrdu/driver/device.h"
#include "openrdu/gen/isa.h"
#include "openrdu/gen/regs.h"
#include "openrdu/arch/bitstream.h"
#include "openrdu/runtime/profile.h"
#include "openrdu/runtime/session.h"
#include "fake_device.h"

namespace openrdu::runtime {
namespace {

namespace reg = gen::reg;
using fake::FakeDevice;

pef::Pef program(const arch::Config& cfg) {
  pef::Pef p;
  p.config_name = cfg.name;
  p.fingerprint = cfg.fingerprint();
  p.tensors = {{"x", pef::DType::F32, pef::Role::Input, {4}, 0x1000, 16, 0},
               {"c", pef::DType::F32, pef::Role::Weight, {2}, 0x2000, 8, 4},
               {"y", pef::DType::F32, pef::Role::Output, {4}, 0x3000, 16, 0}};
  p.weights = {0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
  p.sections.push_back({"add", 0x8000, {0x42554452u, arch::kBitstreamVersion, p.fingerprint, 5, 0xFFFF0000u}, 0, {}});
  return p;
}

std::map<std::string, HostTensor> inputs() { return {{"x", {{4}, {1, 2, 3, 4}}}}; }

// ERR_STATUS of an error `code` naming `unit`.
uint32_t err_status(gen::ErrorCode code, uint32_t unit) { return uint32_t(code) | (unit << reg::ERR_STATUS_UNIT_SHIFT); }

// The message of the RuntimeError that s.run(inputs()) throws ("" and a failure when none).
std::string run_error(Session& s) {
  try {
    s.run(inputs());
  } catch (const RuntimeError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected RuntimeError";
  return "";
}

TEST(Session, RunsTheSection10Sequence) {
  auto cfg = arch::load_config("tiny");
  FakeDevice dev(cfg);
  // Result the "device" leaves in DRAM for y.
  float y[4] = {5, 6, 7, 8};
  std::memcpy(&dev.mem[0x3000], y, 16);
  Session s(dev, cfg);
  s.load(program(cfg));
  // load: the weight and the bitstream, once.
  ASSERT_EQ(dev.to_device.size(), 2u);
  EXPECT_EQ(dev.to_device[0], (std::pair<uint64_t, size_t>{0x2000, 8}));
  EXPECT_EQ(dev.to_device[1], (std::pair<uint64_t, size_t>{0x8000, 20}));
  // load starts nothing; it programs the DRAM protection (section 19): one window per
  // tensor and bitstream, each plus 4*LANES bytes, then ENABLE.
  for (const auto& w : dev.writes) EXPECT_NE(w.first, reg::CTRL);
  ASSERT_FALSE(dev.writes.empty());
  EXPECT_EQ(dev.writes.back(), (std::pair<uint32_t, uint32_t>{reg::PROT_CTRL, reg::PROT_CTRL_ENABLE_MASK}));
  std::map<uint32_t, std::pair<uint32_t, uint32_t>> win;
  uint32_t idx = 0;
  for (const auto& [off, v] : dev.writes) {
    if (off == reg::PROT_INDEX) idx = v;
    if (off == reg::PROT_BASE) win[idx].first = v;
    if (off == reg::PROT_LIMIT) win[idx].second = v;
  }
  const uint32_t slack = 4 * cfg.lanes;
  EXPECT_EQ(win[0], (std::pair<uint32_t, uint32_t>{0x1000, 0x1000 + 16 + slack}));
  EXPECT_EQ(win[1], (std::pair<uint32_t, uint32_t>{0x2000, 0x2000 + 8 + slack}));
  EXPECT_EQ(win[2], (std::pair<uint32_t, uint32_t>{0x3000, 0x3000 + 16 + slack}));
  EXPECT_EQ(win[3], (std::pair<uint32_t, uint32_t>{0x8000, 0x8000 + 20 + slack}));
  EXPECT_EQ(win[4], (std::pair<uint32_t, uint32_t>{0, 0}));
  dev.writes.clear();
  auto r = s.run(inputs());
  // run: the input only.
  ASSERT_EQ(dev.to_device.size(), 3u);
  EXPECT_EQ(dev.to_device[2], (std::pair<uint64_t, size_t>{0x1000, 16}));
  EXPECT_EQ(r.dma_to_device_bytes, 8u + 20 + 16);  // the load's uploads are reported with the first run
  EXPECT_EQ(dev.mem[0x2000], 1);  // weight data from WEIGHTS offset 4
  EXPECT_EQ(dev.mem[0x8000], 0x52);
  // CFG_ADDR, CFG_LEN before CONFIGURE; START after it.
  std::vector<std::pair<uint32_t, uint32_t>> ctrl;
  for (auto& w : dev.writes)
    if (w.first == reg::CFG_ADDR || w.first == reg::CFG_LEN || w.first == reg::CTRL) ctrl.push_back(w);
  ASSERT_EQ(ctrl.size(), 4u);
  EXPECT_EQ(ctrl[0], (std::pair<uint32_t, uint32_t>{reg::CFG_ADDR, 0x8000}));
  EXPECT_EQ(ctrl[1], (std::pair<uint32_t, uint32_t>{reg::CFG_LEN, 20}));
  EXPECT_EQ(ctrl[2], (std::pair<uint32_t, uint32_t>{reg::CTRL, reg::CTRL_CONFIGURE_MASK}));
  EXPECT_EQ(ctrl[3], (std::pair<uint32_t, uint32_t>{reg::CTRL, reg::CTRL_START_MASK}));
  ASSERT_EQ(r.sections.size(), 1u);
  EXPECT_EQ(r.sections[0].cycles, 0x100000010ull);
  EXPECT_EQ(r.total_cycles, 0x100000010ull);
  ASSERT_EQ(r.outputs.count("y"), 1u);
  EXPECT_EQ(r.outputs["y"].data, (std::vector<float>{5, 6, 7, 8}));
  EXPECT_EQ(r.outputs["y"].shape, (std::vector<int64_t>{4}));
}

TEST(Session, ConfigurationErrorNamesCodeAndUnit) {
  auto cfg = arch::load_config("tiny");
  FakeDevice dev(cfg);
  dev.config_irq = reg::IRQ_STATUS_ERROR_MASK;
  dev.config_err = err_status(gen::ErrorCode::BAD_CRC, 3);
  Session s(dev, cfg);
  s.load(program(cfg));
  const std::string m = run_error(s);
  EXPECT_NE(m.find("section 0 (add)"), std::string::npos) << m;
  EXPECT_NE(m.find("BAD_CRC"), std::string::npos) << m;
  EXPECT_NE(m.find(cfg.unit_name(3)), std::string::npos) << m;
}

TEST(Session, TimeoutAborts) {
  auto cfg = arch::load_config("tiny");
  FakeDevice dev(cfg);
  dev.run_irq = 0;  // never finishes
  Session s(dev, cfg, SessionOptions{2.5});
  s.load(program(cfg));
  const std::string m = run_error(s);
  EXPECT_NE(m.find("section 0 (add): device did not finish within 2.5 s"), std::string::npos) << m;
  EXPECT_EQ(dev.writes.back().first == reg::IRQ_STATUS || dev.writes.back().first == reg::CTRL, true);
  bool aborted = false;
  for (auto& w : dev.writes) aborted |= w.first == reg::CTRL && w.second == reg::CTRL_ABORT_MASK;
  EXPECT_TRUE(aborted);
}

TEST(Session, WatchdogSetBeforeStartAndErrorResetsDevice) {
  auto cfg = arch::load_config("tiny");
  FakeDevice dev(cfg);
  dev.run_irq = reg::IRQ_STATUS_ERROR_MASK;
  dev.run_err = err_status(gen::ErrorCode::WATCHDOG, 2);
  SessionOptions o;
  EXPECT_EQ(o.watchdog_cycles, 100'000'000u);
  o.watchdog_cycles = 777;
  Session s(dev, cfg, o);
  s.load(program(cfg));
  const std::string m = run_error(s);
  EXPECT_NE(m.find("section 0 (add): run failed: error WATCHDOG after 777 cycles"), std::string::npos) << m;
  EXPECT_NE(m.find(cfg.unit_name(2) + " is not done"), std::string::npos) << m;
  EXPECT_EQ(dev.resets, 1);
  // WATCHDOG written once, before START.
  size_t wd = SIZE_MAX, start = SIZE_MAX;
  for (size_t k = 0; k < dev.writes.size(); ++k) {
    if (dev.writes[k].first == reg::WATCHDOG) {
      EXPECT_EQ(wd, SIZE_MAX) << "WATCHDOG written twice";
      EXPECT_EQ(dev.writes[k].second, 777u);
      wd = k;
    }
    if (dev.writes[k] == std::pair<uint32_t, uint32_t>{reg::CTRL, reg::CTRL_START_MASK}) start = k;
  }
  ASSERT_NE(wd, SIZE_MAX);
  ASSERT_NE(start, SIZE_MAX);
  EXPECT_LT(wd, start);
}

TEST(Session, OtherRunErrorsDoNotReset) {
  auto cfg = arch::load_config("tiny");
  FakeDevice dev(cfg);
  dev.run_irq = reg::IRQ_STATUS_ERROR_MASK;
  dev.run_err = err_status(gen::ErrorCode::MEM_ERROR, 9);
  Session s(dev, cfg);
  s.load(program(cfg));
  EXPECT_THROW(s.run(inputs()), RuntimeError);
  EXPECT_EQ(dev.resets, 0);
}

TEST(Session, LoadRejectsOtherConfiguration) {
  auto tiny = arch::load_config("tiny");
  auto small = arch::load_config("small");
  FakeDevice dev(tiny);
  Session s(dev, tiny);
  try {
    s.load(program(small));
    ADD_FAILURE();
  } catch (const RuntimeError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("'small'"), std::string::npos) << m;
    EXPECT_NE(m.find("'tiny'"), std::string::npos) << m;
  }
  EXPECT_THROW(s.run(inputs()), RuntimeError);  // nothing loaded
}

// A fake whose "program" computes y[k] = 2 * x[k] + sample marker on START, so the stacked
// outputs show which sample each slice came from.
class DoublingDevice : public FakeDevice {
 public:
  using FakeDevice::FakeDevice;
  void write32(uint32_t off, uint32_t v) override {
    FakeDevice::write32(off, v);
    if (off == reg::CTRL && (v & reg::CTRL_START_MASK)) {
      float x[4], y[4];
      std::memcpy(x, &mem[0x1000], 16);
      for (int k = 0; k < 4; ++k) y[k] = 2 * x[k];
      std::memcpy(&mem[0x3000], y, 16);
    }
  }
};

TEST(Session, BatchRunsEverySampleAndStacksOutputs) {
  auto cfg = arch::load_config("tiny");
  DoublingDevice dev(cfg);
  Session s(dev, cfg);
  s.load(program(cfg));
  std::map<std::string, HostTensor> in{{"x", {{3, 4}, {1, 2, 3, 4, 10, 20, 30, 40, -1, -2, -3, -4}}}};
  std::vector<std::pair<size_t, size_t>> prog;
  auto r = s.run_batch(in, [&](size_t d, size_t n) { prog.push_back({d, n}); });
  EXPECT_EQ(r.samples, 3u);
  ASSERT_EQ(r.outputs.count("y"), 1u);
  EXPECT_EQ(r.outputs["y"].shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(r.outputs["y"].data, (std::vector<float>{2, 4, 6, 8, 20, 40, 60, 80, -2, -4, -6, -8}));
  EXPECT_EQ(prog, (std::vector<std::pair<size_t, size_t>>{{1, 3}, {2, 3}, {3, 3}}));
  // Weight and bitstream once (8 + 20), then per sample the input (16); output back (16).
  EXPECT_EQ(r.dma_to_device_bytes, 8u + 20 + 3 * 16);
  EXPECT_EQ(r.dma_from_device_bytes, 3u * 16);
  EXPECT_EQ(r.total_cycles, 3 * ((uint64_t(1) << 32) | 0x10));
  ASSERT_EQ(r.sections.size(), 1u);
  EXPECT_EQ(r.sections[0].cycles, r.total_cycles);
  std::map<std::string, int> per_track;
  for (const auto& sp : r.spans) ++per_track[sp.track];
  EXPECT_EQ(per_track["batch"], 3);
  EXPECT_EQ(per_track["configuration"], 3);
  EXPECT_EQ(per_track["run"], 3);
  EXPECT_EQ(per_track["dma host->device"], 5);
  EXPECT_EQ(per_track["dma device->host"], 3);
  // Samples follow one another on the time line; each contains its run span.
  std::vector<const TraceSpan*> samples, runs;
  for (const auto& sp : r.spans) {
    if (sp.track == "batch") samples.push_back(&sp);
    if (sp.track == "run") runs.push_back(&sp);
  }
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(runs[i]->dur, (uint64_t(1) << 32) | 0x10);
    EXPECT_GE(runs[i]->start, samples[i]->start);
    EXPECT_LE(runs[i]->start + runs[i]->dur, samples[i]->start + samples[i]->dur);
    if (i) {
      EXPECT_GE(samples[i]->start, samples[i - 1]->start + samples[i - 1]->dur);
    }
  }
}

TEST(Session, BatchOfModelShapeWithLeadingOne) {
  pef::Pef p;
  p.tensors = {{"a", pef::DType::F32, pef::Role::Input, {1, 2}, 0x1000, 8, 0},
               {"b", pef::DType::F32, pef::Role::Input, {2}, 0x2000, 8, 0}};
  std::map<std::string, HostTensor> in{{"a", {{5, 2}, std::vector<float>(10)}}, {"b", {{5, 2}, std::vector<float>(10)}}};
  for (int k = 0; k < 10; ++k) in["a"].data[size_t(k)] = float(k);
  EXPECT_EQ(batch_size(p, in), 5u);
  auto s3 = batch_sample(p, in, 3);
  EXPECT_EQ(s3["a"].shape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(s3["a"].data, (std::vector<float>{6, 7}));
  // [N, 1, 2] for the model's [1, 2] also works (the leading-dimension form).
  EXPECT_EQ(batch_size(p, {{"a", {{1, 1, 2}, {0, 0}}}, {"b", {{1, 2}, {0, 0}}}}), 1u);
  EXPECT_EQ(batch_size(p, {{"a", {{2, 1, 2}, std::vector<float>(4)}}, {"b", {{2, 2}, std::vector<float>(4)}}}), 2u);
}

std::string batch_error(const pef::Pef& p, const std::map<std::string, HostTensor>& in) {
  try {
    batch_size(p, in);
  } catch (const RuntimeError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Session, BatchShapeErrorsNameInputsAndShapes) {
  pef::Pef p;
  p.tensors = {{"a", pef::DType::F32, pef::Role::Input, {2}, 0x1000, 8, 0},
               {"b", pef::DType::F32, pef::Role::Input, {3}, 0x2000, 12, 0},
               {"y", pef::DType::F32, pef::Role::Output, {3}, 0x3000, 12, 0}};
  EXPECT_EQ(batch_error(p, {{"a", {{4, 2}, std::vector<float>(8)}}, {"b", {{3, 3}, std::vector<float>(9)}}}),
            "batch inputs disagree on the number of samples: 'a' (4, 2), 'b' (3, 3)");
  EXPECT_EQ(batch_error(p, {{"a", {{2}, std::vector<float>(2)}}, {"b", {{3, 3}, std::vector<float>(9)}}}),
            "batch input 'a': shape (2,) is not [N, ...] of the model's input shape (2,)");
  EXPECT_EQ(batch_error(p, {{"a", {{0, 2}, {}}}, {"b", {{0, 3}, {}}}}), "batch of 0 samples: 'a' (0, 2), 'b' (0, 3)");
  EXPECT_EQ(batch_error(p, {{"a", {{1, 2}, std::vector<float>(2)}}}), "batch: input 'b' (3,) not given");
  EXPECT_EQ(batch_error(p, {{"y", {{1, 3}, std::vector<float>(3)}}}),
            "batch input 'y': the model has no input of that name");
}

TEST(Profile, JsonHasCompleteEventsInMicrosecondsPerTrack) {
  std::vector<TraceSpan> spans = {{"run", "run 0 (\"add\")", 1500, 250, {{"section", "add"}}, {{"cycles", 250}}},
                                  {"dma host->device", "input x", 0, 10, {}, {{"bytes", 16}}}};
  const std::string j = profile_json(spans, 500, "dev");
  EXPECT_NE(j.find("\"traceEvents\":["), std::string::npos);
  EXPECT_NE(j.find("\"name\":\"thread_name\",\"args\":{\"name\":\"run\"}"), std::string::npos);
  // 1500 cycles at 500 MHz = 3 us; 250 cycles = 0.5 us; tid 1 = first track.
  EXPECT_NE(j.find("{\"ph\":\"X\",\"pid\":1,\"tid\":1,\"name\":\"run 0 (\\\"add\\\")\",\"cat\":\"run\",\"ts\":3.000,"
                   "\"dur\":0.500,\"args\":{\"cycles\":250,\"section\":\"add\"}}"),
            std::string::npos)
      << j;
  EXPECT_NE(j.find("\"tid\":2,\"name\":\"input x\",\"cat\":\"dma host->device\",\"ts\":0.000,\"dur\":0.020,"
                   "\"args\":{\"bytes\":16}"),
            std::string::npos)
      << j;
  EXPECT_THROW(profile_json(spans, 0, "dev"), std::invalid_argument);
}

TEST(Profile, SectionUsageCountsEnabledPcus) {
  auto cfg = arch::load_config("tiny");
  pef::Pef p;
  arch::PcuConfig on;
  on.enable = true;
  on.count = 1;
  on.stages.resize(cfg.stages);
  arch::PcuConfig off = on;
  off.enable = false;
  // tiny (2 x 2): PCU slots (0,0) and (1,1). s0: (0,0) on, (1,1) written but disabled.
  ASSERT_EQ(cfg.num_pcu(), 2u);
  p.sections.push_back({"s0", 0x8000, arch::assemble_bitstream(cfg, {{cfg.slot_id(0, 0), on.encode(cfg)},
                                                                     {cfg.slot_id(1, 1), off.encode(cfg)}}), 0, {}});
  p.sections.push_back({"s1", 0x9000, arch::assemble_bitstream(cfg, {}), 0, {}});
  p.sections.push_back({"s2", 0xA000, arch::assemble_bitstream(cfg, {{cfg.slot_id(0, 0), on.encode(cfg)},
                                                                     {cfg.slot_id(1, 1), on.encode(cfg)}}), 0, {}});
  auto u = section_usage(cfg, p);
  ASSERT_EQ(u.size(), 3u);
  EXPECT_EQ(u[0].name, "s0");
  EXPECT_EQ(u[0].pcus_used, 1u);
  EXPECT_EQ(u[0].pcus_present, 2u);
  EXPECT_EQ(u[1].pcus_used, 0u);
  EXPECT_EQ(u[2].pcus_used, 2u);
}

}  // namespace
}  // namespace openrdu::runtime

namespace openrdu::runtime {
namespace {

TEST(Session, WeightsUploadedOncePerLoadAndAfterAFailedRun) {
  auto cfg = arch::load_config("tiny");
  FakeDevice dev(cfg);
  Session s(dev, cfg);
  s.load(program(cfg));
  for (int k = 0; k < 5; ++k) s.run(inputs());
  auto count = [&](uint64_t addr) {
    return std::count_if(dev.to_device.begin(), dev.to_device.end(), [&](auto& d) { return d.first == addr; });
  };
  EXPECT_EQ(count(0x2000), 1);  // weight
  EXPECT_EQ(count(0x8000), 1);  // bitstream
  EXPECT_EQ(count(0x1000), 5);  // input, every run
  EXPECT_EQ(s.uploads(), 1u);
  dev.run_irq = reg::IRQ_STATUS_ERROR_MASK;
  dev.run_err = uint32_t(gen::ErrorCode::MEM_ERROR);
  EXPECT_THROW(s.run(inputs()), RuntimeError);
  dev.run_irq = reg::IRQ_STATUS_RUN_DONE_MASK;
  dev.run_err = 0;
  auto r = s.run(inputs());
  EXPECT_EQ(count(0x2000), 2);  // uploaded again after the failure
  EXPECT_EQ(s.uploads(), 2u);
  EXPECT_EQ(r.dma_to_device_bytes, 8u + 20 + 16);
  // A second load replaces the first and uploads again; DRAM claims are those of one program.
  s.load(program(cfg));
  EXPECT_EQ(s.dram().claimed(), 4u);  // x, c, y, the bitstream
  EXPECT_EQ(count(0x2000), 3);
  s.unload();
  EXPECT_EQ(s.dram().claimed(), 0u);
  EXPECT_EQ(s.dram().free_bytes(), cfg.dram_bytes);
  EXPECT_THROW(s.run(inputs()), RuntimeError);
}

// keep_weights off (snrun): the host copy goes at the first upload; a run after a failed
// run cannot restore the weights and says so instead of running on whatever DRAM holds.
TEST(Session, ReleasedWeightsAreUploadedOnceThenRefused) {
  auto cfg = arch::load_config("tiny");
  FakeDevice dev(cfg);
  SessionOptions o;
  o.keep_weights = false;
  Session s(dev, cfg, o);
  s.load(program(cfg));
  s.run(inputs());
  s.run(inputs());
  EXPECT_EQ(std::count(dev.to_device.begin(), dev.to_device.end(), std::pair<uint64_t, size_t>{0x2000, 8}), 1);
  EXPECT_TRUE(s.program().weights.empty());
  dev.run_irq = reg::IRQ_STATUS_ERROR_MASK;
  dev.run_err = uint32_t(gen::ErrorCode::MEM_ERROR);
  EXPECT_THROW(s.run(inputs()), RuntimeError);
  dev.run_irq = reg::IRQ_STATUS_RUN_DONE_MASK;
  dev.run_err = 0;
  try {
    s.run(inputs());
    ADD_FAILURE() << "ran after a failed run without its weights";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("load the PEF again"), std::string::npos) << e.what();
  }
  s.load(program(cfg));  // a new load brings them back
  EXPECT_NO_THROW(s.run(inputs()));
}

std::string oom_message(const pef::Pef& p, const arch::Config& cfg, uint64_t dram) {
  FakeDevice dev(cfg);
  dev.info_.dram_bytes = dram;
  Session s(dev, cfg);
  try {
    s.load(p);
  } catch (const OutOfMemory& e) {
    EXPECT_TRUE(dev.to_device.empty()) << "uploaded before failing";
    return e.what();
  }
  return "no error";
}

TEST(Session, LoadFailsWhenDramIsExhausted) {
  auto cfg = arch::load_config("tiny");
  // y ends at 0x3010; the bitstream at 0x8000 + 20.
  EXPECT_EQ(oom_message(program(cfg), cfg, 0x3008),
            "device DRAM exhausted: output tensor 'y' needs 16 bytes at [0x3000, 0x3010), beyond the device's 12296 "
            "bytes of DRAM (12272 bytes free)");
  EXPECT_EQ(oom_message(program(cfg), cfg, 0x8010),
            "device DRAM exhausted: bitstream of section 0 (add) needs 20 bytes at [0x8000, 0x8014), beyond the "
            "device's 32784 bytes of DRAM (32744 bytes free)");
}

TEST(Dram, FirstFitWithFreeAndCoalescing) {
  DramAllocator d(0x1000);
  EXPECT_EQ(d.allocate("a", 0x100), 0x0u);
  EXPECT_EQ(d.allocate("b", 0x80), 0x100u);
  EXPECT_EQ(d.allocate("c", 0x100), 0x200u);  // 256-aligned
  EXPECT_EQ(d.free_bytes(), 0x1000u - 0x280);
  d.free(0x100);
  EXPECT_EQ(d.allocate("d", 0x40, 64), 0x100u);  // first fit reuses the hole
  d.free(0x0);
  d.free(0x100);
  EXPECT_EQ(d.largest_free(), 0x1000u - 0x300);  // 0x300..0x1000
  EXPECT_EQ(d.allocate("e", 0x200), 0x0u);       // holes merged: 0..0x200
  d.free(0x200);
  d.free(0x0);
  EXPECT_EQ(d.free_bytes(), 0x1000u);
  EXPECT_EQ(d.largest_free(), 0x1000u);
  d.reserve("fixed", 0x800, 0x10);
  try {
    d.allocate("weight tensor 'big'", 0x900);
    ADD_FAILURE();
  } catch (const OutOfMemory& e) {
    EXPECT_EQ(std::string(e.what()), "device DRAM exhausted: weight tensor 'big' needs 2304 bytes, 4080 of the "
                                     "device's 4096 bytes are free (largest free block 2048 bytes)");
  }
  try {
    d.reserve("tensor 'x'", 0x808, 4);
    ADD_FAILURE();
  } catch (const OutOfMemory&) {
    ADD_FAILURE() << "overlap is not an out-of-memory";
  } catch (const RuntimeError& e) {
    EXPECT_EQ(std::string(e.what()), "tensor 'x' at DRAM [0x808, 0x80c) overlaps fixed at [0x800, 0x810)");
  }
  EXPECT_THROW(d.free(0x10), RuntimeError);
}

}  // namespace
}  // namespace openrdu::runtime
