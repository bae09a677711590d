// Fusion heuristics (docs/compiler.md, "Fusion heuristics"): given a matched module and
// the configuration, the parameters with which the group and lower passes build its
// sections. A rule names its heuristic (fusion.h); sncompile --heuristic NAME overrides
// it for every module; sncompile --hd FILE.yaml (O1HD) fixes parameters per module.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "openrdu/arch/config.h"
#include "openrdu/compiler/fusion.h"
#include "openrdu/compiler/ir.h"

namespace openrdu::compiler {

// What a heuristic chooses for one module.
struct HeuristicParams {
  int pcus = 0;          // the most PCUs of one fused section of the module (>= 1; 1: no pipeline)
  int matmul_chain = 0;  // PCUs per drain chain of the module's products (0: by the product's estimate)
  int matmul_candidates = 1;  // product mappings compared by estimate + configuration (1: the estimate's first)
  int stream_parts = 0;  // parts of the module's streaming sections (0: by the estimate, 1: never cut)
  bool scalar_fusion = false;      // a row max/min sends its results to the module's next PCU (scalar network)
  std::vector<std::string> cuts;   // node names: a fused section ends at the PCU running one of them
};

// A heuristic: a name and a choice. Implementations are stateless.
class FusionHeuristic {
 public:
  virtual ~FusionHeuristic() = default;
  virtual std::string name() const = 0;
  virtual std::string what() const = 0;  // one line for --help and the docs
  virtual HeuristicParams choose(const Graph& g, const FusionModule& m, const arch::Config& cfg) const = 0;
};

// The registered heuristics (default, GEMM, MHA first); null when `name` is not one.
const FusionHeuristic* find_heuristic(const std::string& name);
const std::vector<std::unique_ptr<FusionHeuristic>>& fusion_heuristic_list();
// Adds a heuristic (a plug-in); a name already registered is a CompileError.
void register_heuristic(std::unique_ptr<FusionHeuristic> h);

// O1HD: a parameter file fixes fields of HeuristicParams for the modules it names.
//   mlp_block:           # a rule name: every module of that rule
//     heuristic: GEMM    # optional: the heuristic that chooses the other fields
//     pcus: 4
//   module 3:            # or one module by its index (--print-after fuse)
//     matmul_chain: 2
//     cuts: [/act/Erf]
struct HdEntry {
  std::string key, file;  // rule name or "module N"
  int line = 0;
  std::string heuristic;  // empty: the rule's
  std::map<std::string, std::pair<int64_t, int>> ints;  // field -> (value, line)
  std::vector<std::string> cuts;
  int cuts_line = 0;
};
std::vector<HdEntry> parse_hd(const std::string& text, const std::string& source);
std::vector<HdEntry> load_hd(const std::string& path);

// The parameters of every module: its rule's heuristic (or `override_heuristic`), then
// the HD entries that name it (rule first, then "module N"). Errors (CompileError, one
// line) name the file, line, module and field: a key naming no matched module, a value
// that does not fit the configuration (pcus above its PCUs, matmul_chain above its
// lanes or PCUs, stream_parts above its AGCUs), a cut naming no node of the module.
std::vector<HeuristicParams> choose_module_params(const Graph& g, const std::vector<FusionModule>& modules,
                                                  const arch::Config& cfg, const std::string& override_heuristic,
                                                  const std::vector<HdEntry>& hd,
                                                  std::vector<std::string>* heuristic_names = nullptr);

}  // namespace openrdu::compiler
