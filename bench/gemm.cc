// bench/gemm: where GEMM stands on the array (issue 8, first step). For each case an
// ONNX MatMul Y[M,N] = A[M,K] x B[K,N] is built here (A an input, B a constant weight:
// the inference case; with --b-input B is an input too), compiled with sncompile's
// library, run through runtime::Session on a backend and checked bit for bit against
// compiler::reference_run. Per case it reports the kernel cycles (sum of the sections'
// CYCLES), MACs per cycle against the array's peak (whole run, and the product section
// alone with the PCUs it configures), DRAM traffic from the
// hardware counters (MEM_RD_BYTES + MEM_WR_BYTES), arithmetic intensity and the
// roofline bound, the functional model's cycles beside the backend's, and the product
// section's per-unit activity (PERF_ACTIVE / STALL_IN / STALL_OUT).
//
//   gemm [--config tiny,small] [--backend verilator] [--sizes 64,128,1024x64x64]
//        [--b-input] [--budget-s 600] [--md FILE] [--json FILE]
//
// A size is N (M = N = K) or MxNxK. Cases whose predicted wall time exceeds the budget
// (from the functional model's cycles, the RTL/func ratio and the simulation speed seen
// so far) are skipped and listed as such. Progress goes to stderr, the table to stdout.
// Timing figures are reported, never judged: the exit status is 1 on a wrong result (of
// the backend or of the functional model run beside it), an error, or a case skipped
// (a case asked for and not measured), or a figure beyond a floor given (--min-peak-share,
// --max-estimate-error: the tests guarding the README's figures).
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "onnx_model.h"
#include "openrdu/arch/config.h"
#include "openrdu/compiler/compiler.h"
#include "openrdu/driver/counters.h"
#include "openrdu/driver/device.h"
#include "openrdu/runtime/session.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Shape {
  int64_t m, n, k;
};

// Peak DRAM bytes per cycle of the configuration (all channels, when it has several).
template <typename C>
double dram_peak(const C& cfg) {
  double ch = 1;
  if constexpr (requires { cfg.dram_channels; }) ch = std::max<double>(1, cfg.dram_channels);
  return double(cfg.dram_bytes_per_cycle) * ch;
}

std::vector<Shape> parse_sizes(const std::string& s) {
  std::vector<Shape> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    std::vector<int64_t> v;
    std::stringstream is(item);
    std::string d;
    while (std::getline(is, d, 'x')) {
      size_t pos = 0;
      int64_t x = 0;
      try {
        x = std::stoll(d, &pos);
      } catch (const std::exception&) {
        pos = 0;
      }
      if (pos != d.size() || x <= 0) throw std::runtime_error(fmt::format("--sizes: bad size '{}' (N or MxNxK)", item));
      v.push_back(x);
    }
    if (v.size() == 1) out.push_back({v[0], v[0], v[0]});
    else if (v.size() == 3) out.push_back({v[0], v[1], v[2]});
    else throw std::runtime_error(fmt::format("--sizes: bad size '{}' (N or MxNxK)", item));
  }
  return out;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

// Y = MatMul(A, B); B an initializer (weight) unless b_input.
std::string write_model(const Shape& s, bool b_input, const std::vector<float>& bdata) {
  using openrdu::bench::value_info;
  onnx::ModelProto m;
  auto* g = openrdu::bench::start_model(m, "openrdu-bench-gemm", "gemm");
  openrdu::bench::add_node(g, "MatMul", "mm", {"A", "B"}, {"Y"});
  value_info(g->add_input(), "A", {s.m, s.k});
  if (b_input) {
    value_info(g->add_input(), "B", {s.k, s.n});
  } else {
    auto* t = g->add_initializer();
    t->set_name("B");
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_dims(s.k);
    t->add_dims(s.n);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(bdata.data()), bdata.size() * 4));
  }
  value_info(g->add_output(), "Y", {s.m, s.n});
  const auto path = fs::temp_directory_path() /
                    fmt::format("openrdu_gemm_{}_{}x{}x{}{}.onnx", ::getpid(), s.m, s.n, s.k, b_input ? "_bin" : "");
  std::ofstream f(path, std::ios::binary);
  if (!m.SerializeToOstream(&f)) throw std::runtime_error(fmt::format("{}: cannot write the model", path.string()));
  return path.string();
}

// Prints "still running" lines on stderr every `period` while alive (never touches the device).
class Ticker {
 public:
  Ticker(std::string what, std::chrono::seconds period) : what_(std::move(what)) {
    th_ = std::thread([this, period] {
      const auto t0 = Clock::now();
      std::unique_lock lk(mu_);
      while (!cv_.wait_for(lk, period, [this] { return stop_; }))
        fmt::print(stderr, "gemm:   ... {} still running, {:.0f} s\n", what_,
                   std::chrono::duration<double>(Clock::now() - t0).count());
    });
  }
  ~Ticker() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    th_.join();
  }

 private:
  std::string what_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread th_;
};

struct UnitFig {
  std::string name;
  uint64_t active = 0, stall_in = 0, stall_out = 0;
};

struct Result {
  std::string config, backend;
  Shape s{};
  bool b_input = false;
  std::string status;  // PASS, FAIL, SKIP, ERROR
  std::string note;
  std::vector<std::string> sections;
  std::vector<uint64_t> section_cycles;
  uint64_t cycles = 0, config_cycles = 0, product_cycles = 0;
  uint64_t est_cycles = 0, func_cycles = 0;
  uint64_t macs = 0;
  uint64_t rd_bytes = 0, wr_bytes = 0, rd_reqs = 0, wr_reqs = 0;
  double peak_array = 0, peak_pcu = 0, dram_bpc = 0;
  std::vector<UnitFig> units;  // product section: configured PCUs and AGCUs
  double wall_s = 0, sim_cycles_per_s = 0;
  uint64_t mismatches = 0;

  double macs_per_cycle() const { return cycles ? double(macs) / double(cycles) : 0; }
  uint64_t dram_bytes() const { return rd_bytes + wr_bytes; }
  double intensity() const { return dram_bytes() ? double(macs) / double(dram_bytes()) : 0; }
  // Compulsory traffic: A, B read once, Y written once.
  uint64_t min_bytes() const { return 4 * uint64_t(s.m * s.k + s.k * s.n + s.m * s.n); }
  double roofline() const { return std::min(peak_array, intensity() * dram_bpc); }
  // The product section alone: MACs per cycle over the array's peak, and its PCUs.
  double product_util() const {
    return product_cycles && peak_array > 0 ? double(macs) / double(product_cycles) / peak_array : 0;
  }
  size_t product_pcus() const {
    return size_t(std::count_if(units.begin(), units.end(), [](const UnitFig& u) { return u.name.rfind("pcu", 0) == 0; }));
  }
  const char* bound() const { return intensity() * dram_bpc < peak_array ? "DRAM" : "compute"; }
};

std::map<std::string, openrdu::compiler::HostTensor> to_ref(const std::map<std::string, openrdu::runtime::HostTensor>& in) {
  std::map<std::string, openrdu::compiler::HostTensor> r;
  for (const auto& [k, v] : in) r[k] = {v.shape, v.data};
  return r;
}

// One case on one backend, in this process (a process can hold one simulated device):
// compile, run, read the counters, check against the CPU reference.
Result measure(const openrdu::arch::Config& cfg, const Shape& s, bool b_input, const std::string& backend,
               uint32_t seed, int opt) {
  Result r;
  r.config = cfg.name;
  r.backend = backend;
  r.s = s;
  r.b_input = b_input;
  r.macs = uint64_t(s.m) * uint64_t(s.n) * uint64_t(s.k);
  const std::string tag =
      fmt::format("{} {}x{}x{}{} on {}", cfg.name, s.m, s.n, s.k, b_input ? " (B input)" : "", backend);

  std::mt19937 rng(seed);
  std::normal_distribution<float> dist;
  std::map<std::string, openrdu::runtime::HostTensor> in;
  auto& a = in["A"];
  a.shape = {s.m, s.k};
  a.data.resize(size_t(s.m * s.k));
  for (auto& x : a.data) x = dist(rng);
  std::vector<float> bdata(size_t(s.k * s.n));
  for (auto& x : bdata) x = dist(rng);
  if (b_input) in["B"] = {{s.k, s.n}, bdata};

  const std::string model = write_model(s, b_input, bdata);
  struct Cleanup {
    std::string p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove(p, ec);
    }
  } cleanup{model};

  openrdu::compiler::Options copts;
  copts.opt_level = opt;
  const auto pef = openrdu::compiler::compile_onnx_file(model, cfg, copts);
  for (const auto& sec : pef.sections) {
    r.sections.push_back(sec.name);
    r.est_cycles += sec.est_cycles;
  }
  auto dev = openrdu::driver::open_device(backend, cfg);
  openrdu::runtime::Session session(*dev, cfg, {3600});
  session.load(pef);
  const auto t0 = Clock::now();
  openrdu::runtime::RunResult res;
  {
    Ticker tick(tag, std::chrono::seconds(30));
    res = session.run(in);
  }
  r.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  // The device's counters now hold the last section's run: the product (a run-time A may
  // be transposed by an earlier section). The totals over the sections come from res.
  const auto last = openrdu::driver::read_counters(*dev, cfg);
  r.cycles = res.total_cycles;
  r.config_cycles = res.total_config_cycles;
  for (const auto& sec : res.sections) r.section_cycles.push_back(sec.cycles);
  r.product_cycles = res.sections.empty() ? 0 : res.sections.back().cycles;
  r.rd_bytes = res.counters.mem_rd_bytes;
  r.wr_bytes = res.counters.mem_wr_bytes;
  r.rd_reqs = res.counters.mem_rd_reqs;
  r.wr_reqs = res.counters.mem_wr_reqs;
  for (const auto& u : last.units)
    if ((u.kind == "pcu" || u.kind == "agcu") && u.active + u.stall_in + u.stall_out > 0)
      r.units.push_back({u.name, u.active, u.stall_in, u.stall_out});
  r.sim_cycles_per_s = r.wall_s > 0 ? double(r.cycles) / r.wall_s : 0;

  const auto ref = openrdu::compiler::reference_run(model, to_ref(in));
  const auto& y = res.outputs.at("Y").data;
  const auto& yr = ref.at("Y").data;
  if (y.size() != yr.size())
    throw std::runtime_error(fmt::format("{}: output Y has {} elements, the reference {}", tag, y.size(), yr.size()));
  for (size_t i = 0; i < y.size(); ++i)
    if (std::memcmp(&y[i], &yr[i], 4) != 0) {
      if (r.mismatches == 0)
        r.note = fmt::format("first mismatch Y[{}][{}]: device {} reference {}", i / size_t(s.n), i % size_t(s.n),
                             y[i], yr[i]);
      ++r.mismatches;
    }
  r.status = r.mismatches ? "FAIL" : "PASS";
  return r;
}

// The measured fields of a Result, between the worker and the parent process.
nlohmann::json raw_json(const Result& r) {
  nlohmann::json us = nlohmann::json::array();
  for (const auto& u : r.units)
    us.push_back({{"name", u.name}, {"active", u.active}, {"stall_in", u.stall_in}, {"stall_out", u.stall_out}});
  return {{"status", r.status},         {"note", r.note},
          {"sections", r.sections},     {"section_cycles", r.section_cycles},
          {"cycles", r.cycles},         {"config_cycles", r.config_cycles},
          {"product_cycles", r.product_cycles}, {"est_cycles", r.est_cycles},
          {"rd_bytes", r.rd_bytes},     {"wr_bytes", r.wr_bytes},
          {"rd_reqs", r.rd_reqs},       {"wr_reqs", r.wr_reqs},
          {"units", us},                {"wall_s", r.wall_s},
          {"mismatches", r.mismatches}};
}

void from_raw_json(const nlohmann::json& j, Result& r) {
  r.status = j.at("status");
  r.note = j.at("note");
  r.sections = j.at("sections").get<std::vector<std::string>>();
  r.section_cycles = j.at("section_cycles").get<std::vector<uint64_t>>();
  r.cycles = j.at("cycles");
  r.config_cycles = j.at("config_cycles");
  r.product_cycles = j.at("product_cycles");
  r.est_cycles = j.at("est_cycles");
  r.rd_bytes = j.at("rd_bytes");
  r.wr_bytes = j.at("wr_bytes");
  r.rd_reqs = j.at("rd_reqs");
  r.wr_reqs = j.at("wr_reqs");
  r.units.clear();
  for (const auto& u : j.at("units")) r.units.push_back({u.at("name"), u.at("active"), u.at("stall_in"), u.at("stall_out")});
  r.wall_s = j.at("wall_s");
  r.mismatches = j.at("mismatches");
  r.sim_cycles_per_s = r.wall_s > 0 ? double(r.cycles) / r.wall_s : 0;
}

struct Bench {
  std::string self;  // this executable, run once per (case, backend)
  std::string backend;
  bool func_too = true;
  double budget_s = 600;
  uint32_t seed = 1;
  int opt = 1;
  // Per configuration: backend cycles per functional-model cycle and kernel cycles per
  // wall second seen so far (for the skip prediction).
  std::map<std::string, double> ratio, speed;

  // Runs `self --worker ...` for one case on one backend and reads its result.
  Result spawn(const std::string& config, const Shape& s, bool b_input, const std::string& be) {
    const fs::path out = fs::temp_directory_path() /
                         fmt::format("openrdu_gemm_{}_{}_{}x{}x{}_{}.json", ::getpid(), config, s.m, s.n, s.k, be);
    std::vector<std::string> args = {self,
                                     "--worker",
                                     "--config",
                                     config,
                                     "--backend",
                                     be,
                                     "--sizes",
                                     fmt::format("{}x{}x{}", s.m, s.n, s.k),
                                     "--seed",
                                     std::to_string(seed),
                                     "-O",
                                     std::to_string(opt),
                                     "--json",
                                     out.string()};
    if (b_input) args.push_back("--b-input");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(fmt::format("fork: {}", std::strerror(errno)));
    if (pid == 0) {
      ::dup2(2, 1);  // the worker's log lines go to stderr: stdout carries only the table
      ::execv(self.c_str(), argv.data());
      std::_Exit(127);
    }
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    std::ifstream f(out);
    if (!f) throw std::runtime_error(fmt::format("worker for {} {}x{}x{} on {} failed (status {})", config, s.m, s.n,
                                                 s.k, be, st));
    const auto j = nlohmann::json::parse(f);
    f.close();
    fs::remove(out);
    if (j.contains("error")) throw std::runtime_error(j.at("error").get<std::string>());
    Result r;
    from_raw_json(j, r);
    return r;
  }

  Result run_case(const openrdu::arch::Config& cfg, const Shape& s, bool b_input) {
    Result r;
    const std::string tag = fmt::format("{} {}x{}x{}{}", cfg.name, s.m, s.n, s.k, b_input ? " (B input)" : "");
    uint64_t func_cycles = 0;
    std::string func_failed;  // the functional model's run beside the backend went wrong
    if (func_too || backend == "func") {
      fmt::print(stderr, "gemm: {}: functional model\n", tag);
      const Result f = spawn(cfg.name, s, b_input, "func");
      if (f.status != "PASS") fmt::print(stderr, "gemm: {}: functional model {}: {}\n", tag, f.status, f.note);
      func_cycles = f.cycles;
      if (backend == "func") r = f;
      func_failed = f.status != "PASS" ? fmt::format("functional model {}: {}", f.status, f.note) : "";
    }
    if (backend != "func") {
      if (func_cycles && speed.count(cfg.name)) {
        const double pred_cycles = double(func_cycles) * ratio[cfg.name];
        const double pred_s = pred_cycles / speed[cfg.name];
        if (pred_s > budget_s) {
          r.status = "SKIP";
          r.note = fmt::format("predicted {:.3g} cycles, ~{:.0f} s of simulation > budget {:.0f} s", pred_cycles,
                               pred_s, budget_s);
          fmt::print(stderr, "gemm: {}: skipped: {}\n", tag, r.note);
        } else {
          fmt::print(stderr, "gemm: {}: running on {} (predicted {:.3g} cycles, ~{:.0f} s)\n", tag, backend,
                     pred_cycles, pred_s);
        }
      } else {
        fmt::print(stderr, "gemm: {}: running on {}\n", tag, backend);
      }
      if (r.status != "SKIP") r = spawn(cfg.name, s, b_input, backend);
    }
    if (!func_failed.empty() && r.status == "PASS") {
      r.status = "FAIL";
      r.note = func_failed;
    }
    r.config = cfg.name;
    r.backend = backend;
    r.s = s;
    r.b_input = b_input;
    r.macs = uint64_t(s.m) * uint64_t(s.n) * uint64_t(s.k);
    r.peak_pcu = double(cfg.lanes) * cfg.stages;
    r.peak_array = r.peak_pcu * cfg.num_pcu();
    r.dram_bpc = dram_peak(cfg);
    r.func_cycles = func_cycles;
    if (backend != "func" && func_cycles && r.cycles && r.wall_s > 0) {
      ratio[cfg.name] = double(r.cycles) / double(func_cycles);
      speed[cfg.name] = r.sim_cycles_per_s;
    }
    if (r.status == "PASS" || r.status == "FAIL")
      fmt::print(stderr, "gemm: {}: {} cycles, {:.2f} MAC/cycle, {} ({:.1f} s wall, {:.0f} cycles/s)\n", tag,
                 r.cycles, r.macs_per_cycle(), r.status, r.wall_s, r.sim_cycles_per_s);
    return r;
  }
};

std::string pct(double x) { return fmt::format("{:.1f}%", 100 * x); }

std::string units_str(const Result& r) {
  std::string out;
  const double c = double(std::max<uint64_t>(r.product_cycles, 1));
  for (const auto& u : r.units) {
    if (!out.empty()) out += "; ";
    std::string name = u.name.substr(0, u.name.find(' '));
    out += fmt::format("{} {:.0f}/{:.0f}/{:.0f}", name, 100 * u.active / c, 100 * u.stall_in / c, 100 * u.stall_out / c);
  }
  return out;
}

std::string md_row(const std::vector<std::string>& cells) {
  std::string o = "|";
  for (std::string c : cells) {
    for (size_t p = 0; (p = c.find('|', p)) != std::string::npos; p += 2) c.replace(p, 1, "\\|");
    o += " " + c + " |";
  }
  return o + "\n";
}

std::string markdown(const std::vector<Result>& rs) {
  const std::vector<std::string> head = {"config", "backend", "M", "N", "K", "B", "result", "cycles", "product cycles",
                                         "func cycles", "cycles/func", "MACs", "MAC/cycle", "% array peak",
                                         "product: % array peak (PCUs)", "DRAM bytes", "x compulsory", "DRAM B/cycle", "MAC/byte",
                                         "roofline MAC/cycle", "bound",
                                         "product section: unit active/stall-in/stall-out %", "wall s"};
  std::string o = md_row(head);
  std::vector<std::string> sep(head.size(), "--:");
  for (size_t i : {0, 1, 5, 6, 20, 21}) sep[i] = "---";
  o += md_row(sep);
  for (const auto& r : rs) {
    std::vector<std::string> c = {r.config, r.backend, std::to_string(r.s.m), std::to_string(r.s.n),
                                  std::to_string(r.s.k), r.b_input ? "input" : "weight", r.status};
    if (r.status == "SKIP" || r.status == "ERROR") {
      c.resize(head.size());
      c[9] = r.func_cycles ? std::to_string(r.func_cycles) : "";
      c[11] = std::to_string(r.macs);
      c[21] = r.note;
      o += md_row(c);
      continue;
    }
    const std::vector<std::string> more = {
        std::to_string(r.cycles),
        std::to_string(r.product_cycles),
        std::to_string(r.func_cycles),
        fmt::format("{:.2f}", r.func_cycles ? double(r.cycles) / double(r.func_cycles) : 0.0),
        std::to_string(r.macs),
        fmt::format("{:.2f}", r.macs_per_cycle()),
        pct(r.macs_per_cycle() / r.peak_array),
        fmt::format("{} ({})", pct(r.product_util()), r.product_pcus()),
        std::to_string(r.dram_bytes()),
        fmt::format("{:.1f}", double(r.dram_bytes()) / double(r.min_bytes())),
        fmt::format("{:.2f}", r.cycles ? double(r.dram_bytes()) / double(r.cycles) : 0.0),
        fmt::format("{:.2f}", r.intensity()),
        fmt::format("{:.1f}", r.roofline()),
        r.bound(),
        units_str(r) + (r.note.empty() ? "" : "; " + r.note),
        fmt::format("{:.1f}", r.wall_s)};
    c.insert(c.end(), more.begin(), more.end());
    o += md_row(c);
  }
  return o;
}

nlohmann::json to_json(const std::vector<Result>& rs) {
  nlohmann::json cases = nlohmann::json::array();
  for (const auto& r : rs) {
    nlohmann::json j;
    j["config"] = r.config;
    j["backend"] = r.backend;
    j["M"] = r.s.m;
    j["N"] = r.s.n;
    j["K"] = r.s.k;
    j["b"] = r.b_input ? "input" : "weight";
    j["status"] = r.status;
    j["note"] = r.note;
    j["sections"] = r.sections;
    j["func_cycles"] = r.func_cycles;
    j["est_cycles"] = r.est_cycles;
    j["macs"] = r.macs;
    j["peak_array_macs_per_cycle"] = r.peak_array;
    j["peak_pcu_macs_per_cycle"] = r.peak_pcu;
    j["dram_peak_bytes_per_cycle"] = r.dram_bpc;
    if (r.status == "PASS" || r.status == "FAIL") {
      j["section_cycles"] = r.section_cycles;
      j["cycles"] = r.cycles;
      j["product_cycles"] = r.product_cycles;
      j["config_cycles"] = r.config_cycles;
      j["cycles_over_func"] = r.func_cycles ? double(r.cycles) / double(r.func_cycles) : 0.0;
      j["macs_per_cycle"] = r.macs_per_cycle();
      j["util_array"] = r.macs_per_cycle() / r.peak_array;
      j["util_product"] = r.product_util();
      j["product_pcus"] = r.product_pcus();
      j["dram"] = {{"rd_bytes", r.rd_bytes}, {"wr_bytes", r.wr_bytes}, {"rd_reqs", r.rd_reqs}, {"wr_reqs", r.wr_reqs}};
      j["dram_bytes_per_cycle"] = r.cycles ? double(r.dram_bytes()) / double(r.cycles) : 0.0;
      j["macs_per_dram_byte"] = r.intensity();
      j["compulsory_bytes"] = r.min_bytes();
      j["roofline_macs_per_cycle"] = r.roofline();
      j["bound"] = r.bound();
      nlohmann::json us = nlohmann::json::array();
      for (const auto& u : r.units)
        us.push_back({{"name", u.name}, {"active", u.active}, {"stall_in", u.stall_in}, {"stall_out", u.stall_out}});
      j["product_units"] = us;
      j["mismatches"] = r.mismatches;
      j["wall_s"] = r.wall_s;
      j["cycles_per_wall_s"] = r.sim_cycles_per_s;
    }
    cases.push_back(j);
  }
  return {{"format", "openrdu-bench-gemm-1"}, {"cases", cases}};
}

void write_file(const std::string& path, const std::string& text) {
  if (path.empty()) return;
  const fs::path p(path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  std::ofstream f(p);
  f << text;
  if (!f) throw std::runtime_error(fmt::format("{}: cannot write", path));
}

// --worker: one case on one backend in this process, its raw JSON (or the error) to json_path.
int worker_main(const std::string& config, const std::string& sizes, bool b_input, const Bench& b,
                const std::string& json_path) {
  nlohmann::json j;
  int rc = 0;
  try {
    const auto shapes = parse_sizes(sizes);
    if (shapes.size() != 1) throw std::runtime_error("--worker takes one size");
    j = raw_json(measure(openrdu::arch::load_config(config), shapes[0], b_input, b.backend, b.seed, b.opt));
  } catch (const std::exception& e) {
    j = {{"error", e.what()}};
    rc = 1;
  }
  try {
    write_file(json_path, j.dump() + "\n");
  } catch (const std::exception& e) {
    fmt::print(stderr, "gemm: error: {}\n", e.what());
    return 1;
  }
  return rc;
}

// The table's row of a case that failed with `what`.
Result error_result(const std::string& config, const std::string& backend, const Shape& s, bool b_input,
                    const std::string& what) {
  Result r;
  r.config = config;
  r.backend = backend;
  r.s = s;
  r.b_input = b_input;
  r.macs = uint64_t(s.m) * uint64_t(s.n) * uint64_t(s.k);
  r.status = "ERROR";
  r.note = what;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"GEMM on the array: cycles, MACs/cycle, DRAM traffic and roofline per MatMul shape"};
  std::string configs = "tiny", sizes = "64,128,256,512,1024x64x64", md_path, json_path;
  Bench b;
  b.backend = "verilator";
  bool b_input = false, no_func = false, worker = false;
  app.add_option("--config", configs, "configurations, comma-separated (tiny, small or a YAML path)");
  app.add_option("--backend", b.backend, "verilator or func");
  app.add_option("--sizes", sizes, "comma-separated sizes: N (M=N=K) or MxNxK");
  app.add_flag("--b-input", b_input, "also run every size with B a run-time input (not a weight)");
  app.add_option("--budget-s", b.budget_s, "skip a case whose predicted simulation exceeds this many seconds");
  app.add_flag("--no-func", no_func, "do not run the functional model beside the backend (no skip prediction)");
  app.add_option("--seed", b.seed, "input data seed");
  app.add_option("-O", b.opt, "compiler mode");
  app.add_option("--md", md_path, "write the Markdown table to FILE");
  app.add_option("--json", json_path, "write the figures as JSON to FILE");
  openrdu::bench::Floors floors;
  openrdu::bench::add_floor_options(app, floors);  // the estimate: the functional model's cycles
  app.add_flag("--worker", worker, "internal: run one case on one backend in this process, raw JSON to --json");
  CLI11_PARSE(app, argc, argv);
  b.func_too = !no_func;
  b.self = fs::read_symlink("/proc/self/exe").string();
  if (worker) return worker_main(configs, sizes, b_input, b, json_path);
  std::vector<Result> results;
  bool ok = true;
  try {
    const auto shapes = parse_sizes(sizes);
    for (const auto& cname : split(configs)) {
      const auto cfg = openrdu::arch::load_config(cname);
      for (const auto& s : shapes)
        for (bool bi : b_input ? std::vector<bool>{false, true} : std::vector<bool>{false}) {
          try {
            results.push_back(b.run_case(cfg, s, bi));
          } catch (const std::exception& e) {
            fmt::print(stderr, "gemm: {} {}x{}x{}: error: {}\n", cfg.name, s.m, s.n, s.k, e.what());
            results.push_back(error_result(cfg.name, b.backend, s, bi, e.what()));
          }
          if (results.back().status != "PASS") ok = false;  // FAIL, ERROR or SKIP
        }
    }
    for (const auto& r : results)
      if (r.status == "PASS" &&
          openrdu::bench::check_floors(floors, "gemm", fmt::format("{} {}x{}x{}", r.config, r.s.m, r.s.n, r.s.k),
                                       r.macs_per_cycle() / r.peak_array, double(r.cycles), double(r.func_cycles)))
        ok = false;
    const std::string md = markdown(results);
    fmt::print("{}", md);
    write_file(md_path, md);
    write_file(json_path, to_json(results).dump(2) + "\n");
  } catch (const std::exception& e) {
    fmt::print(stderr, "gemm: error: {}\n", e.what());
    return 1;
  }
  if (!ok) {
    int n = 0;
    for (const auto& r : results) n += r.status != "PASS";
    fmt::print(stderr, "gemm: {} of {} cases not PASS (FAIL, ERROR or SKIP) or below a floor: exit status 1\n", n,
               results.size());
  }
  return ok ? 0 : 1;
}
