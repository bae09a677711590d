// Fusion heuristics and O1HD parameter files (openrdu/compiler/heuristic.h).
#include "openrdu/compiler/heuristic.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "openrdu/arch/file.h"
#include "openrdu/arch/printable.h"
#include "openrdu/compiler/compiler.h"

namespace openrdu::compiler {
namespace {

// Sections as long as the configuration's PCUs allow; products and streaming sections
// as their own estimates choose.
class DefaultHeuristic : public FusionHeuristic {
 public:
  std::string name() const override { return "default"; }
  std::string what() const override {
    return "fused sections up to the configuration's PCUs, cut where a section stops fitting";
  }
  HeuristicParams choose(const Graph&, const FusionModule&, const arch::Config& cfg) const override {
    HeuristicParams p;
    p.pcus = int(cfg.num_pcu());
    return p;
  }
};

// GEMM-dominated modules: the default's sections; each product's mapping (parts, drain
// chains, B in PMUs, with its epilogue) is the one of least estimate plus configuration
// cycles among the first kGemmCandidates that build in the estimate's ranking (the default
// takes the first: a section's configuration is a large part of a small product's time).
class GemmHeuristic : public DefaultHeuristic {
 public:
  static constexpr int kGemmCandidates = 8;
  std::string name() const override { return "GEMM"; }
  std::string what() const override {
    return "default; products mapped for the least estimate plus configuration of their first 8 mappings";
  }
  HeuristicParams choose(const Graph& g, const FusionModule& m, const arch::Config& cfg) const override {
    HeuristicParams p = DefaultHeuristic::choose(g, m, cfg);
    p.matmul_candidates = kGemmCandidates;
    return p;
  }
};

// Attention: GEMM's products (scores and context), and the softmax's row max sends its
// results to the shift's PCU over the scalar network (its own section otherwise) at -O1 too.
class MhaHeuristic : public GemmHeuristic {
 public:
  std::string name() const override { return "MHA"; }
  std::string what() const override {
    return "GEMM, and the softmax's row max fused with its shift over the scalar network";
  }
  HeuristicParams choose(const Graph& g, const FusionModule& m, const arch::Config& cfg) const override {
    HeuristicParams p = GemmHeuristic::choose(g, m, cfg);
    p.scalar_fusion = true;
    return p;
  }
};

std::vector<std::unique_ptr<FusionHeuristic>>& registry() {
  static std::vector<std::unique_ptr<FusionHeuristic>> r = [] {
    std::vector<std::unique_ptr<FusionHeuristic>> v;
    v.push_back(std::make_unique<DefaultHeuristic>());
    v.push_back(std::make_unique<GemmHeuristic>());
    v.push_back(std::make_unique<MhaHeuristic>());
    return v;
  }();
  return r;
}

std::string heuristic_names() {
  std::string s;
  for (const auto& h : registry()) s += (s.empty() ? "" : ", ") + h->name();
  return s;
}

const FusionHeuristic& heuristic_or_throw(const std::string& name, const std::string& where) {
  const FusionHeuristic* h = find_heuristic(name);
  if (!h)
    throw CompileError(fmt::format("{}heuristic '{}' is not one of {}", where, arch::printable(name), heuristic_names()));
  return *h;
}

[[noreturn]] void hd_fail(const std::string& source, const YAML::Node& at, const std::string& what) {
  throw CompileError(fmt::format("{}:{}: {}", source, at.IsDefined() ? at.Mark().line + 1 : 0, what));
}

HdEntry parse_hd_entry(const std::string& source, const YAML::Node& key, const YAML::Node& body) {
  HdEntry e;
  e.key = key.Scalar();
  e.file = source;
  e.line = key.Mark().line + 1;
  const std::string who = fmt::format("module '{}'", arch::printable(e.key));
  if (!body.IsMap()) hd_fail(source, key, who + ": expected a mapping of fields");
  for (const auto& kv : body) {
    const std::string f = kv.first.Scalar();
    const YAML::Node v = kv.second;
    const int line = kv.first.Mark().line + 1;
    if (f == "heuristic") {
      e.heuristic = v.Scalar();
      heuristic_or_throw(e.heuristic, fmt::format("{}:{}: {}: field 'heuristic': ", source, line, who));
    } else if (f == "cuts") {
      if (!v.IsSequence()) hd_fail(source, kv.first, who + ": field 'cuts': expected a list of node names");
      for (const auto& c : v) e.cuts.push_back(c.Scalar());
      e.cuts_line = line;
    } else if (f == "pcus" || f == "matmul_chain" || f == "matmul_candidates" || f == "stream_parts" ||
               f == "scalar_fusion") {
      try {
        e.ints[f] = {f == "scalar_fusion" ? int64_t(v.as<bool>()) : v.as<int64_t>(), line};
      } catch (const YAML::Exception&) {
        hd_fail(source, v, fmt::format("{}: field '{}': '{}' is not {}", who, f, arch::printable(v.IsScalar() ? v.Scalar() : ""),
                                       f == "scalar_fusion" ? "true or false" : "an integer"));
      }
    } else {
      hd_fail(source, kv.first,
              fmt::format("{}: unknown field '{}' (fields: heuristic, pcus, matmul_chain, matmul_candidates, "
                          "stream_parts, scalar_fusion, cuts)",
                          who, arch::printable(f)));
    }
  }
  return e;
}

// One integer field of an HD entry checked against [lo, hi] and stored.
void apply_int(const HdEntry& e, const std::string& field, int64_t lo, int64_t hi, const std::string& why, int& out) {
  const auto it = e.ints.find(field);
  if (it == e.ints.end()) return;
  const auto [v, line] = it->second;
  if (v < lo || v > hi)
    throw CompileError(fmt::format("{}:{}: module '{}': field '{}': {} does not fit: {} (allowed {}..{})", e.file,
                                   line, arch::printable(e.key), field, v, why, lo, hi));
  out = int(v);
}

// The HD entry's fields applied to p (module `m` of g).
void apply_hd(const HdEntry& e, const Graph& g, const FusionModule& m, const arch::Config& cfg, HeuristicParams& p) {
  const int pcus = int(cfg.num_pcu());
  apply_int(e, "pcus", 1, pcus, fmt::format("configuration '{}' has {} PCUs", cfg.name, pcus), p.pcus);
  apply_int(e, "matmul_chain", 0, std::min<int64_t>({int64_t(cfg.lanes), 16, pcus}),
            fmt::format("PCUs per drain chain on configuration '{}' ({} lanes, {} PCUs)", cfg.name, cfg.lanes, pcus),
            p.matmul_chain);
  apply_int(e, "matmul_candidates", 1, 64, "product mappings compared", p.matmul_candidates);
  apply_int(e, "stream_parts", 0, cfg.agcu,
            fmt::format("parts of a streaming section, one AGCU each; configuration '{}' has {}", cfg.name, cfg.agcu),
            p.stream_parts);
  int sf = p.scalar_fusion;
  apply_int(e, "scalar_fusion", 0, 1, "a flag", sf);
  p.scalar_fusion = sf != 0;
  for (const auto& c : e.cuts) {
    const auto ids = m.node_ids();
    if (std::none_of(ids.begin(), ids.end(), [&](int n) { return g.nodes[size_t(n)].name == c; }))
      throw CompileError(fmt::format("{}:{}: module '{}': field 'cuts': '{}' is not a node of the module", e.file,
                                     e.cuts_line, arch::printable(e.key), arch::printable(c)));
    p.cuts.push_back(c);
  }
}

}  // namespace

const std::vector<std::unique_ptr<FusionHeuristic>>& fusion_heuristic_list() { return registry(); }

const FusionHeuristic* find_heuristic(const std::string& name) {
  for (const auto& h : registry())
    if (h->name() == name) return h.get();
  return nullptr;
}

void register_heuristic(std::unique_ptr<FusionHeuristic> h) {
  if (find_heuristic(h->name())) throw CompileError(fmt::format("heuristic '{}' is already registered", h->name()));
  registry().push_back(std::move(h));
}

std::vector<HdEntry> parse_hd(const std::string& text, const std::string& source) {
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw CompileError(fmt::format("{}:{}: not valid YAML: {}", source, e.mark.line + 1, e.msg));
  }
  if (!doc.IsMap() || doc.size() == 0) hd_fail(source, doc, "expected a mapping of modules to parameters");
  std::vector<HdEntry> out;
  for (const auto& kv : doc) out.push_back(parse_hd_entry(source, kv.first, kv.second));
  return out;
}

std::vector<HdEntry> load_hd(const std::string& path) {
  const auto bytes = arch::read_file_capped(path, uint64_t(16) << 20);
  return parse_hd(std::string(bytes.begin(), bytes.end()), path);
}

std::vector<HeuristicParams> choose_module_params(const Graph& g, const std::vector<FusionModule>& modules,
                                                  const arch::Config& cfg, const std::string& override_heuristic,
                                                  const std::vector<HdEntry>& hd,
                                                  std::vector<std::string>* heuristic_names) {
  if (!override_heuristic.empty()) heuristic_or_throw(override_heuristic, "--heuristic: ");
  for (const auto& e : hd) {
    const bool any = std::any_of(modules.begin(), modules.end(), [&](const FusionModule& m) { return m.rule->name == e.key; });
    bool index = false;
    for (size_t i = 0; i < modules.size(); ++i) index = index || e.key == fmt::format("module {}", i);
    if (!any && !index)
      throw CompileError(fmt::format("{}:{}: module '{}': names no matched module (a rule that matched, or "
                                     "'module N' for N < {}; --print-after fuse lists them)",
                                     e.file, e.line, arch::printable(e.key), modules.size()));
  }
  std::vector<HeuristicParams> out;
  for (size_t i = 0; i < modules.size(); ++i) {
    const FusionModule& m = modules[i];
    std::string name = override_heuristic.empty() ? m.rule->heuristic : override_heuristic;
    std::vector<const HdEntry*> mine;  // the rule's entries, then the module's
    for (const auto& e : hd)
      if (e.key == m.rule->name) mine.push_back(&e);
    for (const auto& e : hd)
      if (e.key == fmt::format("module {}", i)) mine.push_back(&e);
    for (const HdEntry* e : mine)
      if (!e->heuristic.empty()) name = e->heuristic;
    HeuristicParams p = heuristic_or_throw(name, "").choose(g, m, cfg);
    for (const HdEntry* e : mine) apply_hd(*e, g, m, cfg, p);
    out.push_back(std::move(p));
    if (heuristic_names) heuristic_names->push_back(name);
  }
  return out;
}

}  // namespace openrdu::compiler
