// snrun: run a compiled PEF on a simulated OpenRDU device.
//   snrun [--backend verilator|func] [--config tiny|small|plasticine|FILE.yaml] MODEL.pef
//         --input NAME=FILE.npy ... --output-dir DIR
//         [--trace FILE.fst [--trace-start N] [--trace-stop M]] [--timeout S] [--watchdog CYCLES]
//         [--log-level LEVEL] [--log-dir DIR] [--batch] [--profile FILE.json]
//         [--test [--rtol R] [--atol A]] [--labels FILE.npy]
//   snrun --info [--backend B] [--config C]   (open the device, print its identity, exit)
//   snrun TRAIN.pef --train --data NAME=FILE.npy ... [--epochs E] ...  (train_cli.h)
// Writes DIR/<output>.npy for every output of the model (temporary file, then rename;
// nothing is written unless the whole run succeeds). Every error: one line, exit 1.
// --batch: every input holds N samples ([N, ...model shape], or [N, ...rest] for a model
// shape [1, ...rest]); the program is loaded once and run per sample; every output is
// written stacked as [N, ...model output shape]. Progress bar on stderr when it is a TTY,
// else a progress line in the log every 10%.
// --profile FILE.json: Chrome trace / Perfetto JSON of the run in simulated time, and a
// summary on stdout (`docs/runtime.md` ("snrun batches and profiles")).
// --test: also run the CPU reference (compiler::reference_run on the PEF's GRAPH section)
// on the same inputs; per output print the max abs and rel error and PASS/FAIL
// (|device - ref| <= atol + rtol * |ref|, or both NaN); exit 1 on FAIL.
// DIR/counters.json: the hardware counters of the run (per-unit activity, DRAM, DMA and
// link traffic; `docs/platform.md` ("Counters, protection, fault injection, descriptor ring")), read by sntilestat, snddrstat and
// snpciestat. --fault KIND:ARG[:LANE] writes the FAULT register before every run
// (hang:UNIT, corrupt:WORD, stuck:PCU_UNIT:LANE) for reliability tests.
// --labels FILE.npy: class labels (float32 [N] or [N, 1]); prints the accuracy of the
// argmax of the single output ([N, C] after --batch, or [C]/[1, C] for one sample).
#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <optional>
#include <functional>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "openrdu/arch/config.h"
#include "openrdu/arch/file.h"
#include "openrdu/compiler/compiler.h"
#include "openrdu/compiler/graph_section.h"
#include "openrdu/compiler/ir.h"
#include "openrdu/driver/counters.h"
#include "openrdu/driver/device.h"
#include "openrdu/gen/regs.h"
#include "openrdu/pef/pef.h"
#include "openrdu/runtime/checks.h"
#include "openrdu/runtime/host_tensor.h"
#include "openrdu/support/cli.h"
#include "openrdu/support/files.h"
#include "openrdu/support/log.h"
#include "openrdu/runtime/npy.h"
#include "openrdu/runtime/profile.h"
#include "openrdu/runtime/session.h"
#include "train_cli.h"

using namespace openrdu;

namespace {

[[noreturn]] void die(const std::string& msg) {
  support::log_error("snrun", msg);
  std::exit(1);
}

// --info: the device's identity registers and the configuration it was opened with.
void print_info(driver::Device& dev) {
  namespace reg = gen::reg;
  const auto& i = dev.info();
  const uint32_t id = dev.read32(reg::ID), version = dev.read32(reg::VERSION);
  const uint32_t fp = dev.read32(reg::FINGERPRINT);
  std::string id_str;
  for (int k = 3; k >= 0; --k) {
    const char ch = static_cast<char>((id >> (8 * k)) & 0xFF);
    id_str += (ch >= 0x20 && ch < 0x7F) ? ch : '.';
  }
  fmt::print("device:        OpenRDU\n");
  fmt::print("ID:            0x{:08x} ('{}')\n", id, id_str);
  fmt::print("VERSION:       0x{:08x} ({}.{})\n", version, version >> 16, version & 0xFFFF);
  fmt::print("backend:       {}\n", i.backend);
  fmt::print("configuration: {}\n", i.config);
  fmt::print("fingerprint:   0x{:08x}{}\n", fp, fp == i.fingerprint ? "" : fmt::format(" (configuration: 0x{:08x})", i.fingerprint));
  fmt::print("grid:          {} x {} units, {} AGCU{}\n", i.rows, i.cols, i.agcu, i.agcu == 1 ? "" : "s");
  fmt::print("PCU:           {} lanes x {} stages, {} registers, {} vector inputs\n", i.lanes, i.stages, i.regs, i.vin);
  fmt::print("PMU:           {} bytes\n", i.pmu_bytes);
  fmt::print("AGCUs:         {}\n", i.agcu);
  fmt::print("DRAM:          {} bytes ({} MiB)\n", i.dram_bytes, i.dram_bytes >> 20);
  if (fp != i.fingerprint) die(fmt::format("FINGERPRINT 0x{:08x} differs from the configuration's 0x{:08x}", fp, i.fingerprint));
}

// Progress of a batch: a bar on stderr when it is a TTY, else a log line every 10%.
class Progress {
 public:
  Progress() : tty_(::isatty(2) != 0), t0_(std::chrono::steady_clock::now()) {}
  void operator()(size_t done, size_t n) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    const double rate = s > 0 ? double(done) / s : 0.0;
    if (tty_) {
      constexpr size_t kWidth = 30;
      const size_t fill = done * kWidth / n;
      fmt::print(stderr, "\r[{}{}] {}/{} samples, {:.2f} samples/s{}", std::string(fill, '#'),
                 std::string(kWidth - fill, ' '), done, n, rate, done == n ? "\n" : "");
      std::fflush(stderr);
    } else {
      const size_t decile = done * 10 / n;
      if (decile > last_decile_ || done == n) {
        last_decile_ = decile;
        spdlog::info("batch: {}/{} samples ({}%), {:.2f} samples/s", done, n, done * 100 / n, rate);
      }
    }
  }

 private:
  bool tty_;
  std::chrono::steady_clock::time_point t0_;
  size_t last_decile_ = 0;
};

// The CPU reference of the PEF's GRAPH on the same inputs (per sample for a batch,
// stacked like the device outputs).
std::map<std::string, runtime::HostTensor> reference(const pef::Pef& pef, const std::string& path,
                                                     const std::map<std::string, runtime::HostTensor>& inputs, bool batch) {
  // The GRAPH's initializers refer to WEIGHTS for their data (compiler/graph_section.h).
  const compiler::Graph g =
      compiler::import_onnx_bytes(compiler::graph_model_bytes(pef, path), path + ": GRAPH (source model)");
  auto one = [&](const std::map<std::string, runtime::HostTensor>& in) {
    std::map<std::string, compiler::HostTensor> ci;
    for (const auto& [k, v] : in) ci[k] = {v.shape, v.data, v.idata};  // integers (labels) in idata
    std::map<std::string, runtime::HostTensor> out;
    for (auto& [k, v] : compiler::reference_run(g, ci))  // int outputs: idata, compared exactly
      out[k] = {v.shape, std::move(v.data), v.idata.empty() ? pef::DType::F32 : pef::DType::I64, std::move(v.idata)};
    return out;
  };
  if (!batch) return one(inputs);
  const size_t n = runtime::batch_size(pef, inputs);
  std::map<std::string, runtime::HostTensor> stacked;
  for (size_t i = 0; i < n; ++i) {
    for (auto& [k, v] : one(runtime::batch_sample(pef, inputs, i))) {
      auto& o = stacked[k];
      if (i == 0) {
        o.shape = v.shape;
        o.shape.insert(o.shape.begin(), int64_t(n));
      }
      o.data.insert(o.data.end(), v.data.begin(), v.data.end());
      o.idata.insert(o.idata.end(), v.idata.begin(), v.idata.end());
    }
  }
  return stacked;
}

// Per output: max abs error, max rel error, PASS/FAIL. Returns true when all pass.
bool compare(const std::map<std::string, runtime::HostTensor>& dev, const std::map<std::string, runtime::HostTensor>& ref,
             double rtol, double atol) {
  bool all = true;
  fmt::print("test against the CPU reference (rtol {:g}, atol {:g}):\n", rtol, atol);
  for (const auto& [name, r] : ref) {
    auto it = dev.find(name);
    if (it == dev.end()) {
      fmt::print("  {:<24} FAIL  no device output of that name\n", name);
      all = false;
      continue;
    }
    const auto& d = it->second;
    if (d.shape != r.shape || d.data.size() != r.data.size() || d.idata.size() != r.idata.size()) {
      fmt::print("  {:<24} FAIL  shape {} on the device, {} in the reference\n", name, runtime::shape_str(d.shape),
                 runtime::shape_str(r.shape));
      all = false;
      continue;
    }
    const runtime::Comparison c = runtime::compare_values(d, r, rtol, atol);
    fmt::print("  {:<24} {}  max abs error {:.3g}, max rel error {:.3g} ({} elements){}\n", name,
               c.pass() ? "PASS" : "FAIL", c.max_abs, c.max_rel, r.values(), c.failure(d, r));
    all = all && c.pass();
  }
  return all;
}

// Accuracy of the argmax of `logits` ([N, C], [C] or [1, C]) against labels ([N] or [N, 1]).
void print_accuracy(const std::string& name, const runtime::HostTensor& logits, const runtime::HostTensor& labels,
                    const std::string& lpath) {
  const auto& s = logits.shape;
  if (s.empty()) throw std::runtime_error("--labels: the output is a scalar, not logits");
  const size_t c = size_t(s.back());
  const size_t n = c ? logits.data.size() / c : 0;
  if (c == 0 || n == 0) throw std::runtime_error(fmt::format("--labels: output shape {} has no classes", runtime::shape_str(s)));
  if (labels.data.size() != n)
    throw std::runtime_error(fmt::format("--labels {}: {} labels for {} samples (output shape {})", lpath,
                                         labels.data.size(), n, runtime::shape_str(s)));
  size_t right = 0;
  for (size_t i = 0; i < n; ++i) {
    const float* row = logits.data.data() + i * c;
    const size_t best = size_t(std::max_element(row, row + c) - row);
    if (float(best) == labels.data[i]) ++right;
  }
  double sum = 0;
  for (float v : logits.data) sum += double(v);
  fmt::print("accuracy: {}/{} = {:.2f}% (argmax of '{}' against {}; logits sum {:.6f})\n", right, n,
             100.0 * double(right) / double(n), name, lpath, sum);
}

}  // namespace

// --fault KIND:ARG[:LANE] -> FAULT register value (`docs/platform.md` ("Counters, protection, fault injection, descriptor ring")).
uint32_t parse_fault(const std::string& spec) {
  if (spec.empty()) return 0;
  std::vector<std::string> f;
  for (size_t a = 0;;) {
    const size_t b = spec.find(':', a);
    f.push_back(spec.substr(a, b == std::string::npos ? std::string::npos : b - a));
    if (b == std::string::npos) break;
    a = b + 1;
  }
  auto num = [&](const std::string& x, uint32_t max, const char* what) {
    try {
      size_t used = 0;
      const unsigned long v = std::stoul(x, &used, 0);
      if (used != x.size() || v > max) throw std::out_of_range(what);
      return static_cast<uint32_t>(v);
    } catch (const std::exception&) {
      die(fmt::format("--fault {}: {} '{}' is not a number from 0 to {}", spec, what, x, max));
    }
  };
  if (f[0] == "hang" && f.size() == 2) return 1u << 16 | num(f[1], 0xFFFF, "unit");
  if (f[0] == "corrupt" && f.size() == 2) return 2u << 16 | num(f[1], 0xFFFF, "word");
  if (f[0] == "stuck" && f.size() == 3) return 3u << 16 | num(f[1], 0xFFFF, "unit") | num(f[2], 15, "lane") << 20;
  die(fmt::format("--fault {}: expected hang:UNIT, corrupt:WORD or stuck:UNIT:LANE", spec));
}

// The unit and lane of a --fault exist on the device: hang names a PCU, PMU or AGCU,
// stuck a PCU and one of its lanes (a fault on nothing would inject nothing and pass).
void check_fault(uint32_t fault, const std::string& spec, const arch::Config& cfg) {
  const uint32_t kind = fault >> 16 & 0xF, unit = fault & 0xFFFF, lane = fault >> 20 & 0xF;
  if (kind != 1 && kind != 3) return;
  if (unit >= cfg.num_units() || cfg.unit_kind(unit) == arch::UnitKind::Switch)
    die(fmt::format("--fault {}: unit {} is not a PCU, PMU or AGCU of configuration '{}' (units 0 to {}, switches "
                    "excluded)", spec, unit, cfg.name, cfg.num_units() - 1));
  if (kind == 3 && cfg.unit_kind(unit) != arch::UnitKind::Pcu)
    die(fmt::format("--fault {}: unit {} is {}, not a PCU (stuck lanes are PCU outputs)", spec, unit,
                    cfg.unit_name(unit)));
  if (kind == 3 && lane >= cfg.lanes)
    die(fmt::format("--fault {}: lane {} does not exist ({} has lanes 0 to {})", spec, lane, cfg.unit_name(unit),
                    cfg.lanes - 1));
}

namespace {

// Every option of an inference run (training: train_cli.h).
struct Args {
  std::string backend = "verilator", config = "small", model, outdir, trace, labels_path, profile, fault_spec;
  std::vector<std::string> input_specs;
  uint64_t trace_start = 0, trace_stop = UINT64_MAX;
  double timeout = 60, rtol = 1e-5, atol = 1e-6;
  uint32_t watchdog = runtime::SessionOptions{}.watchdog_cycles;
  bool info = false, batch = false, test = false;
  std::string device;  // unix:PATH: a node daemon's RDU (docs/daemon.md)
  bool no_wait = false;
};

void add_run_options(CLI::App& app, Args& a) {
  app.add_option("--backend", a.backend, "device backend: verilator (RTL) or func (functional model)")
      ->check(CLI::IsMember({"verilator", "func"}));
  app.add_option("--config", a.config, "device configuration: tiny, small, plasticine or a FILE.yaml (default small)");
  app.add_option("--device", a.device,
                 "unix:PATH: run on an RDU of the node daemon snd listening on PATH instead of --backend "
                 "(default $OPENRDU_DEVICE when --backend is not given)");
  app.add_flag("--no-wait", a.no_wait, "with --device: be refused at once when the node is busy instead of waiting");
  app.add_flag("--info", a.info, "open the device, print its identity and configuration, exit (no PEF needed)");
  app.add_option("MODEL.pef", a.model, "compiled program");
  app.add_option("--input", a.input_specs, "input tensor NAME=FILE.npy (repeat for each input)")
      ->allow_extra_args(false);
  app.add_option("--output-dir", a.outdir, "directory for <output name>.npy");
  auto* tr = app.add_option("--trace", a.trace, "FST waveform of the RTL core (verilator backend)");
  app.add_option("--trace-start", a.trace_start, "first traced core cycle")->needs(tr);
  app.add_option("--trace-stop", a.trace_stop, "traced cycles end before this core cycle")->needs(tr);
  app.add_option("--timeout", a.timeout, "seconds to wait for each device step (default 60)");
  app.add_option("--watchdog", a.watchdog,
                 fmt::format("device WATCHDOG: stop a run after CYCLES cycles, 0 = off (default {})", a.watchdog));
  app.add_flag("--batch", a.batch,
               "inputs hold N samples ([N, ...input shape]): run each, write outputs stacked as [N, ...]");
  app.add_option("--profile", a.profile,
                 "write a Chrome trace / Perfetto JSON of the run (simulated time) and print a summary");
  app.add_flag("--test", a.test, "also run the CPU reference on the PEF's model (GRAPH) and compare; exit 1 on FAIL");
  app.add_option("--rtol", a.rtol, "--test relative tolerance (default 1e-5)");
  app.add_option("--atol", a.atol, "--test absolute tolerance (default 1e-6)");
  app.add_option("--fault", a.fault_spec,
                 "inject a fault before every run: hang:UNIT, corrupt:WORD or stuck:UNIT:LANE (FAULT register)");
  app.add_option("--labels", a.labels_path,
                 "class labels .npy (float32 or integer [N]): print the accuracy of the output's argmax");
}

// --device unix:PATH (or $OPENRDU_DEVICE without --backend): the session's device is the
// node daemon's (driver::open_device takes "unix:PATH" as a backend).
void select_device(Args& a, bool backend_given) {
  if (a.device.empty() && !backend_given)
    if (const char* e = std::getenv("OPENRDU_DEVICE")) a.device = e;
  if (a.device.empty()) {
    if (a.no_wait) die("--no-wait needs --device unix:PATH");
    return;
  }
  if (!driver::is_node_device(a.device))
    die(fmt::format("--device '{}': expected unix:PATH (the socket of a node daemon, snd)", a.device));
  if (!a.trace.empty()) die("--trace needs a device of this process (--backend verilator), not --device");
  a.backend = a.device;
}

int run_info(const Args& a) {
  if (!a.model.empty() || !a.outdir.empty() || !a.input_specs.empty() || !a.trace.empty())
    die("--info takes only --backend and --config (no MODEL.pef, --input, --output-dir or --trace)");
  const arch::Config cfg = arch::load_config(a.config);
  driver::DeviceOptions dopt;
  dopt.timeout_s = a.timeout;
  dopt.wait_for_tiles = !a.no_wait;
  dopt.app_name = "snrun --info";
  auto dev = driver::open_device(a.backend, cfg, dopt);
  spdlog::info("device info: backend {}, configuration {}", a.backend, cfg.name);
  print_info(*dev);
  return 0;
}

void check_run_flags(const Args& a) {
  if (a.outdir.empty()) die("--output-dir is required (see --help)");
  if (!(a.timeout > 0)) die(fmt::format("--timeout {}: must be positive", a.timeout));
  if (!(a.rtol >= 0) || !(a.atol >= 0)) die("--rtol and --atol must be non-negative");
  if (a.trace_stop <= a.trace_start)
    die(fmt::format("--trace-stop {} must be after --trace-start {}", a.trace_stop, a.trace_start));
  if (!a.trace.empty() && a.backend != "verilator")
    die("--trace needs --backend verilator (the functional model has no waveform)");
}

// What a run needs, read and checked before the (slow) device starts.
struct Prepared {
  pef::Pef pef;
  std::map<std::string, runtime::HostTensor> inputs;
  size_t samples = 0;
  std::optional<runtime::HostTensor> labels;
  std::vector<runtime::SectionUsage> usage;
  std::vector<uint64_t> estimates;  // the compiler's estimate of each section's run cycles (0 = unknown)
};

Prepared prepare(const Args& a, const arch::Config& cfg) {
  support::ensure_writable_dir(a.outdir, "--output-dir");
  Prepared p;
  p.pef = pef::read_file(a.model);
  for (const auto& s : p.pef.sections) p.estimates.push_back(s.est_cycles);
  p.inputs = runtime::read_named_npy(a.input_specs, "--input");
  try {
    runtime::check_pef_for_device(p.pef, cfg.fingerprint(), cfg.name, cfg.dram_bytes);
  } catch (const runtime::RuntimeError& e) {
    die(fmt::format("{}: {}", a.model, e.what()));
  }
  if (a.batch)
    p.samples = runtime::batch_size(p.pef, p.inputs);
  else
    runtime::check_inputs(p.pef, p.inputs);
  if (a.test && p.pef.graph.empty())
    die(fmt::format("--test: {} has no GRAPH section (the source model); recompile it with sncompile", a.model));
  if (!a.labels_path.empty()) {
    p.labels = runtime::convert_dtype(runtime::read_npy(a.labels_path), runtime::DType::F32);  // integer labels too
    size_t outs = 0;
    for (const auto& t : p.pef.tensors) outs += t.role == pef::Role::Output;
    if (outs != 1) die(fmt::format("--labels: the model has {} outputs, accuracy needs exactly one", outs));
  }
  if (!a.profile.empty()) {
    const auto pp = std::filesystem::path(a.profile).parent_path();
    if (!pp.empty() && !std::filesystem::is_directory(pp))
      die(fmt::format("--profile {}: directory {} does not exist", a.profile, pp.string()));
    p.usage = runtime::section_usage(cfg, p.pef);
  }
  return p;
}

// The run on the device: one sample, or --batch. Without --test the PEF moves into the
// session (its weights released as they reach the device).
runtime::BatchResult run_device(const Args& a, const arch::Config& cfg, uint32_t fault, Prepared& p,
                                const std::string& checkpoint, driver::SimStats& sim) {
  driver::DeviceOptions dopt;
  dopt.trace_file = a.trace;
  dopt.trace_start = a.trace_start;
  dopt.trace_stop = a.trace_stop;
  dopt.timeout_s = a.timeout;
  dopt.wait_for_tiles = !a.no_wait;
  dopt.app_name = "snrun " + a.model;
  if (const auto t = p.pef.meta.find("tiles"); t != p.pef.meta.end())
    dopt.tiles = static_cast<uint32_t>(std::stoul(t->second));  // a node daemon gives as many tiles
  runtime::SessionOptions sopt;
  sopt.timeout_s = a.timeout;
  sopt.watchdog_cycles = a.watchdog;
  sopt.fault = fault;
  sopt.keep_weights = a.test;  // --test's reference reads them; else one copy (on the device)
  auto session = runtime::Session::open(a.backend, cfg, sopt, dopt);
  spdlog::info("{} on {} ({}), watchdog {} cycles", a.model, a.backend, cfg.name, a.watchdog);
  if (a.test)
    session->load(p.pef);
  else
    session->load(std::move(p.pef));  // not used again without --test
  if (!checkpoint.empty()) snrun::apply_checkpoint(*session, checkpoint);
  runtime::BatchResult result;
  if (a.batch) {
    spdlog::info("batch of {} samples", p.samples);
    Progress progress;
    result = session->run_batch(p.inputs, std::ref(progress));
  } else {
    auto r = session->run(p.inputs);
    result.samples = 1;
    result.outputs = std::move(r.outputs);
    result.sections = std::move(r.sections);
    result.total_cycles = r.total_cycles;
    result.total_config_cycles = r.total_config_cycles;
    result.dma_to_device_bytes = r.dma_to_device_bytes;
    result.dma_from_device_bytes = r.dma_from_device_bytes;
    result.spans = std::move(r.spans);
    result.counters = std::move(r.counters);
  }
  sim = session->device().sim_stats();
  return result;
}

// The sections' run cycles beside the compiler's estimates (times the samples of a batch).
void print_sections(const Args& a, const arch::Config& cfg, const runtime::BatchResult& result, const Prepared& p) {
  fmt::print("{} on {} ({}): {} section{}{}\n", a.model, a.backend, cfg.name, result.sections.size(),
             result.sections.size() == 1 ? "" : "s",
             a.batch ? fmt::format(", batch of {} samples (cycles summed over the samples)", p.samples) : "");
  const uint64_t runs = a.batch ? p.samples : 1;
  uint64_t estimate = 0;
  bool known = true;
  for (const auto& s : result.sections) {
    const uint64_t est = s.index < p.estimates.size() ? p.estimates[s.index] * runs : 0;
    known = known && est != 0;
    estimate += est;
    fmt::print("  section {} {:<24} {:>10} cycles  (estimate {}, configuration {} cycles)\n", s.index, s.name,
               s.cycles, est ? std::to_string(est) : "unknown", s.config_cycles);
  }
  fmt::print("  total {:>33} cycles  (configuration {} cycles)\n", result.total_cycles, result.total_config_cycles);
  if (known && estimate)
    fmt::print("  estimate {:>30} cycles  (device / estimate {:.4f})\n", estimate,
               double(result.total_cycles) / double(estimate));
}

// --profile: the Chrome trace, and its summary on stdout.
void print_profile(const Args& a, const arch::Config& cfg, const runtime::BatchResult& result,
                   const std::vector<runtime::SectionUsage>& usage) {
  runtime::write_profile(a.profile, result.spans, cfg.clock_mhz, fmt::format("OpenRDU {} ({})", cfg.name, a.backend));
  uint64_t end = 0;
  for (const auto& sp : result.spans) end = std::max(end, sp.start + sp.dur);
  const double mhz = cfg.clock_mhz;
  fmt::print("profile {}:\n", a.profile);
  fmt::print("  device cycles:        {} run + {} configuration ({:.3f} us + {:.3f} us at {} MHz)\n",
             result.total_cycles, result.total_config_cycles, double(result.total_cycles) / mhz,
             double(result.total_config_cycles) / mhz, cfg.clock_mhz);
  fmt::print("  simulated time:       {} cycles ({:.3f} us), DMA included\n", end, double(end) / mhz);
  fmt::print("  DMA host->device:     {} bytes\n", result.dma_to_device_bytes);
  fmt::print("  DMA device->host:     {} bytes\n", result.dma_from_device_bytes);
  for (size_t i = 0; i < usage.size(); ++i)
    fmt::print("  section {} {:<24} PCUs used {}/{} ({:.0f}%)\n", i, usage[i].name, usage[i].pcus_used,
               usage[i].pcus_present, 100.0 * usage[i].pcus_used / std::max(1u, usage[i].pcus_present));
  // Utilisation from the activity counters: active cycles over all run cycles.
  const auto& c = result.counters;
  uint64_t act[2] = {0, 0}, units[2] = {0, 0};
  for (const auto& u : c.units)
    if (u.kind == "pcu" || u.kind == "pmu") act[u.kind == "pmu"] += u.active, ++units[u.kind == "pmu"];
  auto pct = [&](int k) { return c.run_cycles && units[k] ? 100.0 * act[k] / (double(c.run_cycles) * units[k]) : 0.0; };
  fmt::print("  utilisation:          PCUs {:.1f}%, PMUs {:.1f}% of {} run cycles (activity counters{})\n", pct(0),
             pct(1), c.run_cycles, c.estimated ? ", estimated by the functional model" : "");
  fmt::print("  DRAM (AGCUs):         {} bytes read, {} bytes written ({:.2f} bytes/cycle)\n", c.mem_rd_bytes,
             c.mem_wr_bytes, c.run_cycles ? double(c.mem_rd_bytes + c.mem_wr_bytes) / double(c.run_cycles) : 0.0);
}

// The outputs and counters.json, all renamed into place at once (arch::write_files_atomic).
void write_outputs(const Args& a, const runtime::BatchResult& result) {
  std::vector<arch::FileContents> files;
  for (const auto& [name, t] : result.outputs)
    files.push_back({(std::filesystem::path(a.outdir) / runtime::npy_file_name(name)).string(),
                     runtime::serialize_npy(t)});
  const std::string json = driver::to_json(result.counters);
  files.push_back({(std::filesystem::path(a.outdir) / "counters.json").string(),
                   std::vector<uint8_t>(json.begin(), json.end())});
  arch::write_files_atomic(files);
  for (const auto& [name, t] : result.outputs)
    fmt::print("  wrote {} {}\n", (std::filesystem::path(a.outdir) / runtime::npy_file_name(name)).string(),
               runtime::shape_str(t.shape));
  fmt::print("  wrote {} (sntilestat, snddrstat, snpciestat)\n", files.back().path);
}

int run_inference(const Args& a, const std::string& checkpoint) {
  check_run_flags(a);
  const uint32_t fault = parse_fault(a.fault_spec);
  const arch::Config cfg = arch::load_config(a.config);
  check_fault(fault, a.fault_spec, cfg);
  Prepared p = prepare(a, cfg);
  driver::SimStats sim;
  const runtime::BatchResult result = run_device(a, cfg, fault, p, checkpoint, sim);
  print_sections(a, cfg, result, p);
  if (!a.profile.empty()) print_profile(a, cfg, result, p.usage);
  // Outputs only when the run and its checks complete: the reference (which can fail)
  // and the labels check come first. A --test FAIL verdict keeps them, for inspection
  // (docs/debugging.md).
  std::map<std::string, runtime::HostTensor> ref;
  if (a.test) ref = reference(p.pef, a.model, p.inputs, a.batch);
  if (p.labels)
    print_accuracy(result.outputs.begin()->first, result.outputs.begin()->second, *p.labels, a.labels_path);
  write_outputs(a, result);
  fmt::print("  simulated {} cycles ({} evaluated, idle cycles skipped), {:.0f} evaluated cycles/s, trace {}\n",
             sim.cycles, sim.evaluated_cycles, sim.cycles_per_second, a.trace.empty() ? std::string("off") : a.trace);
  if (a.test && !compare(result.outputs, ref, a.rtol, a.atol)) {
    fmt::print("test: FAIL\n");
    return 1;
  }
  if (a.test) fmt::print("test: PASS\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"snrun: run a compiled OpenRDU program (PEF) on a simulated device"};
  Args a;
  add_run_options(app, a);
  snrun::TrainCli train;  // --train, --data, ..., --checkpoint (train_cli.h)
  snrun::add_train_options(app, train);
  support::ToolCli cli{"snrun"};
  support::add_common_options(app, cli);
  if (const int rc = support::parse_command_line(app, cli, argc, argv); rc >= 0) return rc;
  try {
    support::init_logging(cli);
    select_device(a, app.count("--backend") > 0);
    if (a.info) return run_info(a);
    if (a.model.empty()) die("MODEL.pef is required (see --help)");
    if (train.train && (!a.input_specs.empty() || !a.outdir.empty() || a.batch || a.test || !a.labels_path.empty()))
      die("--train takes --data NAME=FILE.npy (not --input, --output-dir, --batch, --test or --labels)");
    if (train.train)
      return snrun::run_train(train, a.model, {a.backend, a.config, a.timeout, a.watchdog, parse_fault(a.fault_spec)});
    snrun::check_inference_flags(train);
    return run_inference(a, train.checkpoint);
  } catch (const std::bad_alloc&) {
    die(support::out_of_memory_message(a.model));
  } catch (const std::exception& e) {
    die(e.what());
  }
}
