// The compiler pipeline: an ordered list of named passes, each in its own file under
// compiler/src/, run by one pass manager (pipeline.cc) that also handles the developer
// aids (sncompile --print-after, --time-passes, --dump-dot, --report). The passes and
// what each does at -O0, -O1 and -O3: pipeline_table() (sncompile --list-passes).
#pragma once
#include <string>
#include <vector>

#include "openrdu/arch/config.h"
#include "openrdu/compiler/compiler.h"
#include "openrdu/compiler/ir.h"
#include "openrdu/compiler/train.h"
#include "openrdu/pef/pef.h"

namespace openrdu::compiler {

// What the front end reads: the model file (ONNX, or a .yaml/.yml test graph), its import
// options and, with `train`, the optimizer of the training graph.
struct FrontEnd {
  std::string path;
  ImportOptions import;
  bool train = false;
  TrainOptions train_opts;
};

// The developer aids, filled in as the passes run.
struct PassHooks {
  std::vector<std::string> print_after;  // pass names, or "all"
  bool time_passes = false;
  bool dot = false, report = false;  // fill `dot_text` / `report_text` (after split)
  std::string printed;  // "=== after PASS ===" and the IR or plan, for each pass asked for
  std::string timings;  // with time_passes: one line per pass run (wall milliseconds) and the total
  std::string dot_text;     // Graphviz of the legalized graph, one cluster per section
  std::string report_text;  // the mapping report (units, routes, estimated cycles per section)
};

// A pass of the pipeline: its name (for --print-after) and what it does.
struct PassInfo {
  const char* name;
  const char* what;
};
// Every pass, in pipeline order: import, fold, train, fuse, legalize, group, lower, split, emit, package.
const std::vector<PassInfo>& pipeline_passes();
// The passes and what each does at -O0, -O1 and -O3, as a text table.
std::string pipeline_table();

// The whole pipeline from the file. The PEF's GRAPH section holds the ONNX model (none
// for a YAML graph); with front.train its META gets the train.* keys (`info`, if given,
// receives what the training graph is).
pef::Pef compile_file(const FrontEnd& front, const arch::Config& cfg, const Options& opts,
                      CompileStats* stats = nullptr, PassHooks* hooks = nullptr, TrainInfo* info = nullptr);

}  // namespace openrdu::compiler
