// sncompile: compile an ONNX model into a PEF for one OpenRDU configuration.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "openrdu/arch/config.h"
#include "openrdu/arch/file.h"
#include "openrdu/compiler/compiler.h"
#include "openrdu/compiler/fold_limit.h"
#include "openrdu/compiler/graph_section.h"
#include "openrdu/compiler/ir.h"
#include "openrdu/compiler/train.h"
#include "lower.h"  // compiler/src: the pipeline with trace hooks (detail::compile_traced)
#include "openrdu/pef/pef.h"
#include "openrdu/runtime/cli.h"
#include "openrdu/runtime/log.h"
#include "openrdu/runtime/npz.h"

namespace {

// --train and the optimizer's hyperparameters (torch.optim's names and defaults).
void add_train_options(CLI::App& app, bool& train, openrdu::compiler::TrainOptions& t) {
  app.add_flag("--train", train,
               "compile for training: the model's first output is a scalar loss; the PEF runs forward, backward "
               "(gradients of every float initializer the loss depends on) and the optimizer's update on the device");
  app.add_option("--optimizer", t.optimizer, "with --train: sgd, adam or adamw (torch.optim definitions)")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}))
      ->capture_default_str();
  app.add_option("--lr", t.lr, "learning rate")->capture_default_str();
  app.add_option("--momentum", t.momentum, "SGD momentum (dampening 0)")->capture_default_str();
  app.add_option("--weight-decay", t.weight_decay, "weight decay (AdamW: decoupled)")->capture_default_str();
  app.add_option("--beta1", t.beta1, "Adam/AdamW beta1")->capture_default_str();
  app.add_option("--beta2", t.beta2, "Adam/AdamW beta2")->capture_default_str();
  app.add_option("--eps", t.eps, "Adam/AdamW epsilon")->capture_default_str();
  app.add_option("--freeze", t.freeze, "parameters whose whole name matches this regular expression stay fixed");
}

// A checkpoint's (or any .npz's) fp32 tensors by name, for --weights.
std::map<std::string, openrdu::compiler::HostTensor> read_weights(const std::string& path) {
  std::map<std::string, openrdu::compiler::HostTensor> out;
  for (const auto& [name, t] : openrdu::runtime::read_npz(path))
    if (t.dtype == openrdu::pef::DType::F32) out[name] = openrdu::compiler::HostTensor{t.shape, t.data};
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace openrdu;
  CLI::App app{"sncompile: compile an ONNX model (fp32, opsets 6-18) into a PEF for an OpenRDU device"};
  std::string model, out, config = "small";
  int opt_level = 0;
  app.add_option("model", model, "ONNX model file (or a .yaml/.yml test graph, compiler/README.md)")->required();
  app.add_option("-o,--output", out, "PEF file to write")->required();
  app.add_option("--config", config, "device configuration: tiny, small, plasticine or a YAML file")->capture_default_str();
  app.add_option("-O", opt_level, "optimization level: 0 (one operator per section), 1 or 3 (fuse elementwise chains)")
      ->check(CLI::IsMember({0, 1, 3}))
      ->capture_default_str();
  int stream_parts = 0;
  app.add_option("--stream-parts", stream_parts,
                 "streaming (elementwise, copy) sections cut into parallel parts on several AGCUs: 0 as many as "
                 "the cycle estimate favours, 1 never, N exactly N where the walk and the grid allow")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  int matmul_chain = 0;
  app.add_option("--matmul-chain", matmul_chain,
                 "MatMul/Gemm: PCUs per drain chain (an m-tile's rows split over a chain that leaves through one "
                 "store stream): 0 as the cycle estimate favours, N exactly N")
      ->check(CLI::Range(0, 16))
      ->capture_default_str();
  bool no_scalar_fusion = false;
  app.add_flag("--no-scalar-fusion", no_scalar_fusion,
               "-O3: keep a ReduceMax/Min over the last axis in its own section instead of sending its row results "
               "over the scalar network to the Add/Sub/Mul/Max/Min that reads them (e.g. a softmax's shift)");
  uint64_t fold_limit_mib = compiler::kDefaultFoldLimitBytes >> 20;
  app.add_option("--fold-limit", fold_limit_mib,
                 "constant folding budget in MiB: a node whose inputs are all constants is evaluated at compile "
                 "time only if its output fits in it (and its work in 16 operations per byte), else it is an error "
                 "naming the node")
      ->check(CLI::Range(uint64_t(1), uint64_t(1) << 20))
      ->capture_default_str();
  runtime::ToolCli cli{"sncompile"};
  runtime::add_common_options(app, cli);
  std::vector<std::string> print_after;
  std::string dot_file;
  bool report = false;
  std::vector<std::string> passes(std::begin(compiler::detail::kPassNames), std::end(compiler::detail::kPassNames));
  app.add_option("--print-after", print_after,
                 "print the IR (import, fold, legalize) or the section plan (group, lower) after PASS to stdout; "
                 "passes: import, fold (the importer folds constants: the finalized graph), legalize (Gemm split, "
                 "constant transposes, output copies), group (sections), lower (streams, PCU programs, placement)")
      ->check(CLI::IsMember(passes))
      ->delimiter(',');
  app.add_option("--dump-dot", dot_file, "write the legalized graph as Graphviz, sections as clusters, to FILE");
  app.add_flag("--report", report,
               "print the mapping report: per section the units used (PCUs, PMUs, AGCU streams, switches), route "
               "lengths and the functional model's cycle estimate");
  bool train = false, keep_weights = false;
  compiler::TrainOptions topts;
  add_train_options(app, train, topts);
  std::string weights_file, export_onnx;
  app.add_option("--weights", weights_file,
                 "replace the model's initializers by the tensors of this .npz (e.g. a training checkpoint) by name");
  app.add_option("--export-onnx", export_onnx,
                 "with --weights: also write the ONNX model with those weights to this file (for other tools)");
  app.add_flag("--keep-weights", keep_weights,
               "keep every float initializer as a device weight under its own name (not folded into derived "
               "constants), so that snrun --checkpoint can replace it at run time");
  if (const int rc = runtime::parse_command_line(app, cli, argc, argv); rc >= 0) return rc;

  try {
    runtime::init_logging(cli);
    const arch::Config cfg = arch::load_config(config);
    compiler::Options opts;
    opts.opt_level = opt_level;
    opts.stream_parts = stream_parts;
    opts.matmul_chain = matmul_chain;
    opts.scalar_fusion = !no_scalar_fusion;
    compiler::CompileStats st;
    compiler::detail::Trace trace;
    trace.print_after = print_after;
    compiler::set_fold_limit(fold_limit_mib << 20);
    compiler::ImportOptions io;
    io.params_as_state = train || keep_weights;
    if (!weights_file.empty()) io.weights = read_weights(weights_file);
    if (!export_onnx.empty()) {
      if (weights_file.empty()) throw std::runtime_error("--export-onnx needs --weights CKPT.npz");
      compiler::export_onnx_with_weights(model, io.weights, export_onnx);
      std::printf("%s: %s with the weights of %s\n", export_onnx.c_str(), model.c_str(), weights_file.c_str());
    }
    auto wants = [&](const char* pass) {
      return std::find(print_after.begin(), print_after.end(), pass) != print_after.end();
    };
    compiler::TrainInfo info;
    pef::Pef p = [&] {  // the imported graph (its constants) is freed once the PEF holds the weights
      compiler::Graph g = compiler::load_graph_file(model, io);  // ONNX, or a .yaml/.yml test graph
      if (wants("import")) std::printf("=== after import ===\n%s", compiler::detail::print_graph(g).c_str());
      if (wants("fold")) std::printf("=== after fold ===\n%s", compiler::detail::print_graph(g).c_str());
      if (train) g = compiler::build_training_graph(g, topts, &info);
      return compiler::detail::compile_traced(g, cfg, opts, &st, &trace);
    }();
    if (train) compiler::add_train_meta(p, info, topts);
    const std::string ext = model.size() >= 5 ? model.substr(model.size() - 5) : "";
    if (ext != ".yaml" && ext.substr(1) != ".yml")  // PEF GRAPH: the ONNX model, weights in WEIGHTS
      p.graph = compiler::graph_section(arch::read_file_capped(model, uint64_t(2) << 30), p);
    std::fputs(trace.out.c_str(), stdout);
    if (!dot_file.empty()) {
      std::ofstream f(dot_file);
      f << trace.dot;
      if (!f) throw std::runtime_error(dot_file + ": cannot write");
    }
    pef::write_file(p, out);
    std::printf(
        "%s -> %s (config %s, -O%d): %zu sections, %u PCUs, %u AGCU streams, %u switches, "
        "%zu tensors, DRAM 0x00100000..0x%08llx (%llu bytes)\n",
        model.c_str(), out.c_str(), cfg.name.c_str(), opt_level, p.sections.size(), st.pcus, st.agcu_streams,
        st.switches, p.tensors.size(), static_cast<unsigned long long>(st.dram_bytes),
        static_cast<unsigned long long>(st.dram_bytes - 0x00100000));
    if (report) std::fputs(trace.report.c_str(), stdout);
    for (size_t i = 0; i < st.sections.size(); ++i)
      spdlog::info("section {} {}: {}; {} vectors, {} bitstream words", i, st.sections[i].name, st.sections[i].units,
                   st.sections[i].vectors, st.sections[i].bitstream_words);
  } catch (const std::bad_alloc&) {
    runtime::log_error("sncompile", runtime::out_of_memory_message(model));
    return 1;
  } catch (const std::exception& e) {
    runtime::log_error("sncompile", e.what());
    return 1;
  }
  return 0;
}
