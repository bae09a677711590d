// The passes after the front end (pipeline.cc runs them in order; the table of passes
// and -O levels is pipeline_table()). Internal to the compiler.
#pragma once
#include <string>
#include <vector>

#include "lower.h"
#include "openrdu/compiler/heuristic.h"

namespace openrdu::compiler::detail {

// A section before lowering: elementwise PCUs in a pipeline, each running a fused chain
// of nodes (PCU i+1 may take PCU i's result over the network; the last PCU's result goes
// to DRAM), or one MatMul/Gemm/Transpose/reduction/copy node (`special`). With `reduce`
// (-O3), a row reduction runs on a PCU before them and sends each row's result to the
// first elementwise PCU over the scalar network (its result also stored, as its own
// section would).
struct SectionGroup {
  SectionGroup() = default;
  SectionGroup(std::vector<std::vector<int>> pcus_, int special_ = -1) : pcus(std::move(pcus_)), special(special_) {}
  std::vector<std::vector<int>> pcus;  // node ids per PCU
  int special = -1;                    // node id of a MatMul, Gemm or Transpose section
  int reduce = -1;                     // node id of a ReduceMax/Min fused by the scalar network
  int module = -1;                     // the fusion module it runs (ModuleGroups), -1 none
  std::vector<int> stored;             // elementwise PCUs (not the last) whose results are stored too
  std::vector<int> epilogue;           // a MatMul/Gemm `special`: a chain run after it in its section
  int first() const { return special >= 0 ? special : reduce >= 0 ? reduce : pcus.front().front(); }
};

// The fusion modules (fuse pass) on the legalized graph, for the group pass.
struct ModuleGroups {
  std::vector<int> module_of;           // per node: its module, -1 none
  std::vector<std::string> origin;      // per node: the name of the node it was legalized from
  std::vector<HeuristicParams> params;  // per module
};
// Node "X", or "X.<suffix>" made from X by legalize, belongs to X's module (by name:
// legalize names the nodes it makes after the node they replace).
ModuleGroups map_modules(const Graph& legalized, const std::map<std::string, int>& module_by_name,
                         std::vector<HeuristicParams> params);

// group (group.cc): section groups in schedule order, and their printout. With `mods`
// (-O1/-O3), the elementwise PCUs of one module share sections (module_sections).
std::vector<SectionGroup> group_nodes(const Lowered& lw, const arch::Config& cfg, int opt_level, bool scalar_fusion,
                                      const ModuleGroups* mods = nullptr);
std::string print_groups(const Graph& g, const std::vector<SectionGroup>& groups);

// lower (lower_sections.cc): every group lowered (a copy may take several sections).
// With `mods`, a module's products use its matmul_chain when `matmul_chain` is 0, and its
// matmul_candidates; every build records its group's module.
std::vector<SectionBuild> lower_groups(const Lowered& lw, const arch::Config& cfg,
                                       const std::vector<SectionGroup>& groups, int matmul_chain,
                                       const ModuleGroups* mods = nullptr);
// One group lowered: streams, PCU programs, placement and routing. Throws CompileError.
SectionBuild lower_section(const Lowered& lw, const arch::Config& cfg, const SectionGroup& grp, int matmul_chain = 0,
                           int matmul_candidates = 1);
// The plan of a group of elementwise nodes (in topological order) computed on one PCU.
SectionPlan build_plan(const Graph& g, const std::vector<int>& node_ids);
// Does the plan fit one PCU and the AGCU streams?
bool fits(const arch::Config& cfg, const SectionPlan& p);
// "FILE: node ..." or "FILE: section 'NAME'", for messages.
std::string describe_group(const Graph& g, const SectionGroup& grp, const std::string& name);

// split (merge_sections.cc; docs/compiler.md, "Merged sections"): independent sections
// merged into one when it places, routes and its estimate with configuration is lower:
// consecutive ones of one fusion module without PMUs, one store each (-O1); or
// (`whole_graph`, -O3) a section moved up to any earlier one it and every section between
// them are independent of, PMUs and several stores included.
std::vector<SectionBuild> merge_independent(const Lowered& lw, const arch::Config& cfg, std::vector<SectionBuild> builds,
                                            bool whole_graph);
// -O3 (merge_sections.cc): a section and the next one that reads one of its stored results
// in the order it stores it (the same vectors, every lane valid) joined: the result streams
// from its PCU to the readers over the network (and is still stored when read later or a
// graph output), when it places, routes and its estimate with configuration is lower.
std::vector<SectionBuild> merge_piped(const Lowered& lw, const arch::Config& cfg, std::vector<SectionBuild> builds);

// emit (emit.cc): DRAM layout, unit configurations, bitstreams, the PEF and its stats.
// The constants' data moves into WEIGHTS (lw's copies are released).
// `device`: the configuration of the device the PEF is for; `cfg` the grid it was placed
// on, the device's first Options::tiles tiles (or the device itself).
pef::Pef emit_pef(Lowered& lw, const std::vector<SectionBuild>& builds, const arch::Config& cfg,
                  const arch::Config& device, const Options& opts, CompileStats* stats);

}  // namespace openrdu::compiler::detail
