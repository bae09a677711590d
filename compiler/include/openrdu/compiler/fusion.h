// Fusion rules (docs/compiler.md, "Fusion rules"): YAML files naming the modules that
// -O1 fuses, in the syntax of the reference system's O1 rules with ONNX operator names.
//
//   RULE_NAME:
//     priority: 10            # integer; where rules overlap, the higher priority wins
//     heuristic: GEMM         # optional: default, GEMM or MHA
//     pattern:                # entry name -> entry
//       proj:
//         op_type: MatMul     # an ONNX operator
//         child: bias         # the entry fed by this one's output (or children: [a, b])
//       bias:
//         op_type: Add
//         optional: true      # the module may lack it (its edges then join parent and child)
//         child: act
//       act:
//         op_type: Relu
//
// The compiler ships rules in compiler/rules/ (builtin_fusion_rules); users add theirs
// with sncompile --fusion-rules FILE.yaml.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "openrdu/compiler/ir.h"

namespace openrdu::compiler {

struct FusionEntry {
  std::string name, op_type;
  std::vector<std::string> children;
  bool optional = false;
  int line = 0;
};

struct FusionRule {
  std::string name;
  int priority = 0;
  std::string heuristic = "default";
  std::vector<FusionEntry> entries;  // in file order
  std::string file;
  int line = 0;
};

// A rule may name any registered heuristic (heuristic.h: default, GEMM, MHA, plug-ins).

// Parses and checks a rule file. Errors (CompileError, one line) name the file, the line,
// the rule and the field: "rules.yaml:7: rule 'mlp': pattern entry 'act': op_type
// 'Rleu' is not an ONNX operator the compiler knows". Checked: unknown keys, priority an
// integer, heuristic known, op_type known, children naming entries of the pattern, no
// cycle, one connected pattern, at least one entry that is not optional, at most 8 optional ones.
std::vector<FusionRule> parse_fusion_rules(const std::string& text, const std::string& source);
std::vector<FusionRule> load_fusion_rules(const std::string& path);

// The rules of compiler/rules/, built in.
const std::vector<FusionRule>& builtin_fusion_rules();

// A matched module: the rule and the node of each present entry (entry name -> node id).
struct FusionModule {
  const FusionRule* rule = nullptr;
  std::map<std::string, int> nodes;
  std::vector<int> node_ids() const;  // ascending
};

// Every match of every rule in g, then the winners: by priority (higher first), then
// more nodes, then earlier first node; a node belongs to at most one module. An edge
// parent -> child of the pattern matches when some input of the child's node is an
// output of the parent's node; optional entries may be absent (their edges contracted).
std::vector<FusionModule> match_fusion_rules(const Graph& g, const std::vector<FusionRule>& rules);

// "module 0: rule 'NAME' (heuristic H): entry=node (Op), ..." one line per module.
std::string print_modules(const Graph& g, const std::vector<FusionModule>& modules);

}  // namespace openrdu::compiler
