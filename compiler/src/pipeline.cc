// The pass manager: the passes in order, each in its own file, and the developer aids
// (--print-after, --time-passes, --dump-dot, --report) handled here once.
#include "openrdu/compiler/pipeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "openrdu/compiler/fusion.h"
#include "openrdu/compiler/graph_section.h"
#include "openrdu/compiler/heuristic.h"
#include "passes.h"

#ifndef OPENRDU_VERSION
#define OPENRDU_VERSION "0.0.0"
#endif

namespace openrdu::compiler {

const char* version() { return OPENRDU_VERSION; }

namespace {

using detail::Lowered;
using detail::SectionBuild;
using detail::SectionGroup;

// What the passes transform, in pipeline order.
struct PassState {
  const FrontEnd* front;  // null: the pipeline starts at legalize, from `graph`
  const arch::Config& cfg;
  const Options& opts;
  Graph graph;  // import .. train; released by legalize
  TrainInfo info;
  OnnxSource source;                  // import: the ONNX model without its fp32 data, for GRAPH
  std::vector<FusionRule> rules;      // fuse: built-in and --fusion-rules
  std::vector<FusionModule> modules;  // fuse: matched in `graph`
  std::vector<std::string> heuristics;         // fuse: per module, the heuristic that chose its parameters
  std::map<std::string, int> module_by_name;   // fuse: node name -> module
  detail::ModuleGroups mods;                    // legalize: the modules on the legalized graph
  Lowered lw;
  std::vector<SectionGroup> groups;
  std::vector<SectionBuild> builds;
  pef::Pef pef;
  CompileStats stats;
  const arch::Config* device = nullptr;  // the device the PEF is for, when cfg is its first tiles
};

bool yaml_file(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  return ext == ".yaml" || ext == ".yml";
}

void run_import(PassState& s) {
  ImportOptions io = s.front->import;
  io.finalize = false;
  if (!yaml_file(s.front->path)) io.source = &s.source;
  s.graph = load_graph_file(s.front->path, io);
}

// The modules of the fusion rules (-O1 and -O3): the built-in rules, then the user's; a
// rule name defined twice is an error naming both places.
void run_fuse(PassState& s) {
  if (s.opts.opt_level == 0) {
    if (!s.opts.hd_file.empty() || !s.opts.heuristic.empty())
      throw CompileError("--hd and --heuristic choose fusion parameters: they need -O1 or -O3");
    return;
  }
  s.rules = builtin_fusion_rules();
  for (const auto& f : s.opts.fusion_rules)
    for (auto& r : load_fusion_rules(f)) {
      for (const auto& q : s.rules)
        if (q.name == r.name)
          throw CompileError(fmt::format("{}:{}: rule '{}' is already defined at {}:{}", r.file, r.line, r.name, q.file,
                                         q.line));
      s.rules.push_back(std::move(r));
    }
  s.modules = match_fusion_rules(s.graph, s.rules);
  const auto hd = s.opts.hd_file.empty() ? std::vector<HdEntry>{} : load_hd(s.opts.hd_file);
  auto params = choose_module_params(s.graph, s.modules, s.cfg, s.opts.heuristic, hd, &s.heuristics);
  for (size_t m = 0; m < s.modules.size(); ++m)
    for (int n : s.modules[m].node_ids()) s.module_by_name[s.graph.nodes[size_t(n)].name] = int(m);
  s.mods.params = std::move(params);
}

void run_legalize(PassState& s) {
  if (s.opts.opt_level != 0 && s.opts.opt_level != 1 && s.opts.opt_level != 3)
    throw CompileError(fmt::format("optimization level {} is not supported (0, 1, 3)", s.opts.opt_level));
  if (s.cfg.dram_bytes > (uint64_t(1) << 32))
    throw CompileError(fmt::format("configuration '{}': DRAM of {} bytes exceeds the 32-bit address space",
                                   s.cfg.name, s.cfg.dram_bytes));
  s.lw = detail::legalize(std::move(s.graph), &s.cfg, s.opts.opt_level != 0);  // the graph moves into Lowered::g
  s.graph = Graph{};
  if (s.opts.opt_level != 0) s.mods = detail::map_modules(s.lw.g, s.module_by_name, std::move(s.mods.params));
  if (s.lw.g.nodes.empty()) throw CompileError(fmt::format("{}: the graph has no nodes", s.lw.g.source));
}

void run_split(PassState& s) {
  if (s.opts.stream_parts < 0)
    throw CompileError(
        fmt::format("stream parts {} is not supported (0 automatic, 1 never, N >= 2)", s.opts.stream_parts));
  for (auto& b : s.builds) {  // a module's parts (its heuristic or --hd) unless --stream-parts fixes them
    const int parts = s.opts.stream_parts == 0 && b.module >= 0 ? s.mods.params[size_t(b.module)].stream_parts
                                                                  : s.opts.stream_parts;
    b = detail::split_streaming(s.cfg, std::move(b), parts);
  }
  if (s.opts.opt_level == 3) s.builds = detail::merge_piped(s.lw, s.cfg, std::move(s.builds));
  if (s.opts.opt_level != 0)
    s.builds = detail::merge_independent(s.lw, s.cfg, std::move(s.builds), s.opts.opt_level == 3);
}

void run_package(PassState& s) {
  if (s.front->train) add_train_meta(s.pef, s.info, s.front->train_opts);
  if (!yaml_file(s.front->path))  // GRAPH: the ONNX model as imported, its weights referring to WEIGHTS
    s.pef.graph = graph_section_of_file(s.source, s.front->path, s.pef);
}

std::string print_emitted(const PassState& s) {
  std::string out;
  for (size_t i = 0; i < s.pef.sections.size(); ++i)
    out += fmt::format("section {} '{}': {} bitstream words, estimated cycles {}\n", i, s.pef.sections[i].name,
                       s.pef.sections[i].bitstream.size(), s.pef.sections[i].est_cycles);
  return out;
}

std::string print_meta(const PassState& s) {
  std::string out;
  for (const auto& [k, v] : s.pef.meta) out += k + " = " + v + "\n";
  return out + fmt::format("GRAPH: {} bytes\n", s.pef.graph.size());
}

// The estimate of `nodes` each in its own section (as -O0 lowers them, parts included).
uint64_t unfused_cycles(const PassState& s, const std::vector<int>& nodes) {
  uint64_t sum = 0;
  for (int n : nodes) {
    detail::SectionGroup grp;
    if (detail::is_elementwise_op(s.lw.g.nodes[size_t(n)].op))
      grp.pcus = {{n}};
    else
      grp.special = n;
    for (auto& b : detail::lower_groups(s.lw, s.cfg, {grp}, s.opts.matmul_chain))
      sum += detail::estimate_cycles(s.cfg, detail::split_streaming(s.cfg, std::move(b), s.opts.stream_parts));
  }
  return sum;
}

// --report: per section of a module, its rule, heuristic, parameters, and the estimate
// fused against its operators each in their own section.
std::vector<std::string> module_notes(const PassState& s) {
  std::vector<std::string> notes;
  for (const auto& b : s.builds) {
    if (b.module < 0) {
      notes.emplace_back();
      continue;
    }
    const FusionModule& m = s.modules[size_t(b.module)];
    const HeuristicParams& p = s.mods.params[size_t(b.module)];
    std::string cuts;
    for (const auto& c : p.cuts) cuts += (cuts.empty() ? "" : " ") + c;
    std::string line = fmt::format(
        "module {}: rule '{}', heuristic {} (pcus {}, matmul_chain {}, matmul_candidates {}, stream_parts {}, "
        "scalar_fusion {}{}{})",
        b.module, m.rule->name, s.heuristics[size_t(b.module)], p.pcus, p.matmul_chain, p.matmul_candidates, p.stream_parts,
        p.scalar_fusion ? "on" : "off", cuts.empty() ? "" : ", cuts ", cuts);
    if (b.node_ids.size() > 1)
      line += fmt::format("; estimated cycles fused {}, unfused {} ({} operators in sections of their own)",
                          detail::estimate_cycles(s.cfg, b), unfused_cycles(s, b.node_ids), b.node_ids.size());
    notes.push_back(line);
  }
  return notes;
}

struct Pass {
  PassInfo info;
  bool front_end;  // runs only from a file
  void (*run)(PassState&);
  std::string (*print)(const PassState&);
};

std::string print_ir(const PassState& s) { return detail::print_graph(s.graph); }
std::string print_sections(const PassState& s) { return detail::print_sections(s.lw, s.builds, s.cfg); }

const std::vector<Pass>& passes() {
  static const std::vector<Pass> p = {
      {{"import", "read the model into the IR (ONNX or YAML), as written"}, true, run_import, print_ir},
      {{"fold", "shape inference, constant folding, canonical parameters, verification"}, true,
       [](PassState& s) { finalize(s.graph); }, print_ir},
      {{"train", "with --train: gradients (autodiff) and the optimizer's update"}, true,
       [](PassState& s) {
         if (s.front->train) s.graph = build_training_graph(s.graph, s.front->train_opts, &s.info);
       },
       print_ir},
      {{"fuse", "-O1/-O3: modules matched by the fusion rules (compiler/rules/, --fusion-rules)"}, false, run_fuse,
       [](const PassState& s) { return print_modules(s.graph, s.modules); }},
      {{"legalize", "Gemm split, constant transposes, views aliased, output copies"}, false, run_legalize,
       [](const PassState& s) { return detail::print_graph(s.lw.g); }},
      {{"group", "sections: which nodes share one (by -O level)"}, false,
       [](PassState& s) {
         s.groups = detail::group_nodes(s.lw, s.cfg, s.opts.opt_level, s.opts.scalar_fusion,
                                        s.opts.opt_level == 0 ? nullptr : &s.mods);
       },
       [](const PassState& s) { return detail::print_groups(s.lw.g, s.groups); }},
      {{"lower", "streams, PCU programs, placement and routing per section"}, false,
       [](PassState& s) {
         s.builds = detail::lower_groups(s.lw, s.cfg, s.groups, s.opts.matmul_chain,
                                         s.opts.opt_level == 0 ? nullptr : &s.mods);
       },
       print_sections},
      {{"split", "streaming sections cut into parts over AGCUs when faster; -O1/-O3: independent sections merged"}, false, run_split, print_sections},
      {{"emit", "DRAM layout, unit configurations, bitstreams, estimates, the PEF"}, false,
       [](PassState& s) { s.pef = detail::emit_pef(s.lw, s.builds, s.cfg, s.device ? *s.device : s.cfg, s.opts, &s.stats); }, print_emitted},
      {{"package", "META train.* keys, the GRAPH section (the model, weights stored once)"}, true, run_package,
       print_meta},
  };
  return p;
}

bool asked(const PassHooks* h, const char* name) {
  return h && std::any_of(h->print_after.begin(), h->print_after.end(),
                          [&](const std::string& n) { return n == name || n == "all"; });
}

// Runs every pass that applies; the hooks' printouts, timings, Graphviz and report.
void run_pipeline(PassState& s, PassHooks* hooks) {
  using Clock = std::chrono::steady_clock;
  double total_ms = 0;
  for (const Pass& p : passes()) {
    if (p.front_end && !s.front) continue;
    const auto t0 = Clock::now();
    p.run(s);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    total_ms += ms;
    if (!hooks) continue;
    if (hooks->time_passes) hooks->timings += fmt::format("  {:<9} {:>10.1f} ms\n", p.info.name, ms);
    if (asked(hooks, p.info.name)) hooks->printed += fmt::format("=== after {} ===\n{}", p.info.name, p.print(s));
    if (std::string(p.info.name) == "split") {  // only what was asked for
      if (hooks->dot) hooks->dot_text = detail::graph_dot(s.lw, s.builds);
      if (hooks->report) hooks->report_text = detail::mapping_report(s.cfg, s.builds, module_notes(s));
    }
  }
  if (hooks && hooks->time_passes) hooks->timings += fmt::format("  {:<9} {:>10.1f} ms\n", "total", total_ms);
}

}  // namespace

const std::vector<PassInfo>& pipeline_passes() {
  static const std::vector<PassInfo> v = [] {
    std::vector<PassInfo> out;
    for (const Pass& p : passes()) out.push_back(p.info);
    return out;
  }();
  return v;
}

std::string pipeline_table() {
  std::string out = fmt::format("{:<9} {}\n", "pass", "what it does");
  for (const Pass& p : passes()) out += fmt::format("{:<9} {}\n", p.info.name, p.info.what);
  out += "\n-O levels (the group pass; every other pass is the same at each level):\n";
  out += "  -O0  one operator per section\n";
  out += "  -O1  elementwise chains fused on one PCU; the chains of one fusion module (compiler/rules/,\n"
         "       --fusion-rules) pipelined on the PCUs of one section as its heuristic chooses\n"
         "       (--heuristic, --hd FILE.yaml: O1HD)\n";
  out += "  -O3  -O1, and consecutive chains pipelined on several PCUs of a section; a row\n"
         "       ReduceMax/Min sent to its chain over the scalar network (--no-scalar-fusion: not)\n";
  return out;
}

// The grid of the first `opts.tiles` tiles of `cfg` (full-height tiles: the first
// tiles * tile_w columns and their AGCUs), or cfg itself without --tiles.
arch::Config placement_grid(const arch::Config& cfg, const Options& opts) {
  if (opts.tiles == 0) return cfg;
  if (opts.tiles > cfg.num_tiles())
    throw CompileError(fmt::format("--tiles {}: configuration '{}' has {} tile{} ({}x{} slots each)", opts.tiles,
                                   cfg.name, cfg.num_tiles(), cfg.num_tiles() == 1 ? "" : "s", cfg.tile_h(),
                                   cfg.tile_w()));
  arch::Config sub = cfg;
  sub.cols = opts.tiles * cfg.tile_w();
  sub.agcu = 0;
  for (uint32_t k = 0; k < cfg.agcu; ++k) sub.agcu += cfg.tile_of(cfg.agcu_id(k)) < opts.tiles;
  return sub;
}

pef::Pef compile_file(const FrontEnd& front, const arch::Config& cfg, const Options& opts, CompileStats* stats,
                      PassHooks* hooks, TrainInfo* info) {
  const arch::Config grid = placement_grid(cfg, opts);
  PassState s{&front, grid, opts, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}};
  s.device = &cfg;
  run_pipeline(s, hooks);
  if (stats) *stats = std::move(s.stats);
  if (info) *info = std::move(s.info);
  return std::move(s.pef);
}

pef::Pef compile_graph(Graph g, const arch::Config& cfg, const Options& opts, CompileStats* stats) {
  const arch::Config grid = placement_grid(cfg, opts);
  PassState s{nullptr, grid, opts, std::move(g), {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}};
  s.device = &cfg;
  run_pipeline(s, nullptr);
  if (stats) *stats = std::move(s.stats);
  return std::move(s.pef);
}

pef::Pef compile_onnx_file(const std::string& onnx_path, const arch::Config& cfg, const Options& opts,
                           CompileStats* stats) {
  FrontEnd front;
  front.path = onnx_path;
  return compile_file(front, cfg, opts, stats);
}

}  // namespace openrdu::compiler
