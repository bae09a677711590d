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
#include "openrdu/compiler/compiler.h"
#include "openrdu/compiler/fold_limit.h"
#include "openrdu/compiler/ir.h"
#include "openrdu/compiler/pipeline.h"
#include "openrdu/compiler/train.h"
#include "openrdu/pef/pef.h"
#include "openrdu/support/cli.h"
#include "openrdu/support/log.h"
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

// Every option of the command line.
struct Args {
  std::string model, out, config = "small", weights_file, export_onnx, dot_file;
  openrdu::compiler::Options opts;
  uint64_t fold_limit_mib = openrdu::compiler::kDefaultFoldLimitBytes >> 20;
  bool no_scalar_fusion = false, report = false, time_passes = false, list_passes = false;
  bool train = false, keep_weights = false;
  std::vector<std::string> print_after;
  openrdu::compiler::TrainOptions topts;
};

void add_mapping_options(CLI::App& app, Args& a) {
  app.add_option("-O", a.opts.opt_level, "optimization level: 0 (one operator per section), 1 or 3 (fuse "
                                         "elementwise chains; --list-passes)")
      ->check(CLI::IsMember({0, 1, 3}))
      ->capture_default_str();
  app.add_option("--tiles", a.opts.tiles,
                 "compile for N tiles of the configuration (docs/hardware.md \"Tiles\"): placed and routed on the "
                 "first N tiles, loaded onto any N consecutive free tiles (relocated); 0 (default): whole devices")
      ->check(CLI::Range(0, 8))
      ->capture_default_str();
  app.add_option("--stream-parts", a.opts.stream_parts,
                 "streaming (elementwise, copy) sections cut into parallel parts on several AGCUs: 0 as many as "
                 "the cycle estimate favours, 1 never, N exactly N where the walk and the grid allow")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  app.add_option("--matmul-chain", a.opts.matmul_chain,
                 "MatMul/Gemm: PCUs per drain chain (an m-tile's rows split over a chain that leaves through one "
                 "store stream): 0 as the cycle estimate favours, N exactly N")
      ->check(CLI::Range(0, 16))
      ->capture_default_str();
  app.add_flag("--no-scalar-fusion", a.no_scalar_fusion,
               "-O3: keep a ReduceMax/Min over the last axis in its own section instead of sending its row results "
               "over the scalar network to the Add/Sub/Mul/Max/Min that reads them (e.g. a softmax's shift)");
  app.add_option("--fusion-rules", a.opts.fusion_rules,
                 "-O1/-O3: also the fusion rules of this YAML file (repeatable; syntax: docs/compiler.md), beside "
                 "the built-in rules of compiler/rules/")
      ->check(CLI::ExistingFile);
  app.add_option("--heuristic", a.opts.heuristic,
                 "-O1/-O3: the fusion heuristic of every module instead of its rule's (default, GEMM, MHA; "
                 "docs/compiler.md, \"Fusion heuristics\")");
  app.add_option("--hd", a.opts.hd_file,
                 "-O1/-O3 (O1HD): a YAML file fixing modules' heuristic parameters (pcus, matmul_chain, "
                 "matmul_candidates, stream_parts, scalar_fusion, cuts; docs/compiler.md)")
      ->check(CLI::ExistingFile);
  app.add_option("--fold-limit", a.fold_limit_mib,
                 "constant folding budget in MiB: a node whose inputs are all constants is evaluated at compile "
                 "time only if its output fits in it (and its work in 16 operations per byte), else it is an error "
                 "naming the node")
      ->check(CLI::Range(uint64_t(1), uint64_t(1) << 20))
      ->capture_default_str();
}

// --print-after, --time-passes, --dump-dot, --report, --list-passes.
void add_developer_options(CLI::App& app, Args& a) {
  std::vector<std::string> names{"all"};
  std::string list;
  for (const auto& p : openrdu::compiler::pipeline_passes()) {
    names.push_back(p.name);
    list += (list.empty() ? "" : ", ") + std::string(p.name);
  }
  app.add_option("--print-after", a.print_after,
                 "print the IR or the section plan after PASS (comma-separated, or all) to stdout; passes in order: " +
                     list + " (--list-passes)")
      ->check(CLI::IsMember(names))
      ->delimiter(',');
  app.add_flag("--time-passes", a.time_passes, "print the wall time of every pass");
  app.add_flag("--list-passes", a.list_passes, "print the passes and what each -O level does, then exit");
  app.add_option("--dump-dot", a.dot_file, "write the legalized graph as Graphviz, sections as clusters, to FILE");
  app.add_flag("--report", a.report,
               "print the mapping report: per section the units used (PCUs, PMUs, AGCU streams, switches), route "
               "lengths and the functional model's cycle estimate");
}

void add_weight_options(CLI::App& app, Args& a) {
  app.add_option("--weights", a.weights_file,
                 "replace the model's initializers by the tensors of this .npz (e.g. a training checkpoint) by name");
  app.add_option("--export-onnx", a.export_onnx,
                 "with --weights: also write the ONNX model with those weights to this file (for other tools)");
  app.add_flag("--keep-weights", a.keep_weights,
               "keep every float initializer as a device weight under its own name (not folded into derived "
               "constants), so that snrun --checkpoint can replace it at run time");
}

// The front end's inputs; writes --export-onnx first when asked.
openrdu::compiler::FrontEnd front_end(const Args& a) {
  openrdu::compiler::FrontEnd front;
  front.path = a.model;
  front.train = a.train;
  front.train_opts = a.topts;
  front.import.params_as_state = a.train || a.keep_weights;
  if (!a.weights_file.empty()) front.import.weights = read_weights(a.weights_file);
  if (!a.export_onnx.empty()) {
    if (a.weights_file.empty()) throw std::runtime_error("--export-onnx needs --weights CKPT.npz");
    openrdu::compiler::export_onnx_with_weights(a.model, front.import.weights, a.export_onnx);
    std::printf("%s: %s with the weights of %s\n", a.export_onnx.c_str(), a.model.c_str(), a.weights_file.c_str());
  }
  return front;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  if (!f) throw std::runtime_error(path + ": cannot write");
}

void compile(Args& a) {
  using namespace openrdu;
  const arch::Config cfg = arch::load_config(a.config);
  a.opts.scalar_fusion = !a.no_scalar_fusion;
  compiler::set_fold_limit(a.fold_limit_mib << 20);
  compiler::PassHooks hooks;
  hooks.print_after = a.print_after;
  hooks.time_passes = a.time_passes;
  hooks.dot = !a.dot_file.empty();
  hooks.report = a.report;
  compiler::CompileStats st;
  const pef::Pef p = compiler::compile_file(front_end(a), cfg, a.opts, &st, &hooks);
  std::fputs(hooks.printed.c_str(), stdout);
  if (!a.dot_file.empty()) write_text(a.dot_file, hooks.dot_text);
  pef::write_file(p, a.out);
  std::printf(
      "%s -> %s (config %s, -O%d): %zu sections, %u PCUs, %u AGCU streams, %u switches, "
      "%zu tensors, DRAM 0x00100000..0x%08llx (%llu bytes)\n",
      a.model.c_str(), a.out.c_str(), cfg.name.c_str(), a.opts.opt_level, p.sections.size(), st.pcus,
      st.agcu_streams, st.switches, p.tensors.size(), static_cast<unsigned long long>(st.dram_bytes),
      static_cast<unsigned long long>(st.dram_bytes - 0x00100000));
  if (a.report) std::fputs(hooks.report_text.c_str(), stdout);
  if (a.time_passes) std::printf("pass times:\n%s", hooks.timings.c_str());
  for (size_t i = 0; i < st.sections.size(); ++i)
    spdlog::info("section {} {}: {}; {} vectors, {} bitstream words", i, st.sections[i].name, st.sections[i].units,
                 st.sections[i].vectors, st.sections[i].bitstream_words);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace openrdu;
  CLI::App app{"sncompile: compile an ONNX model (fp32, opsets 1-18) into a PEF for an OpenRDU device"};
  Args a;
  app.add_option("model", a.model, "ONNX model file (or a .yaml/.yml test graph, compiler/README.md)");
  app.add_option("-o,--output", a.out, "PEF file to write");
  app.add_option("--config", a.config, "device configuration: tiny, small, plasticine or a YAML file")
      ->capture_default_str();
  add_mapping_options(app, a);
  support::ToolCli cli{"sncompile"};
  support::add_common_options(app, cli);
  add_developer_options(app, a);
  add_train_options(app, a.train, a.topts);
  add_weight_options(app, a);
  if (const int rc = support::parse_command_line(app, cli, argc, argv); rc >= 0) return rc;
  if (a.list_passes) {
    std::fputs(compiler::pipeline_table().c_str(), stdout);
    return 0;
  }
  if (a.model.empty() || a.out.empty()) {
    support::log_error("sncompile", std::string(a.model.empty() ? "model" : "--output") + " is required (see --help)");
    return 1;
  }
  try {
    support::init_logging(cli);
    compile(a);
  } catch (const std::bad_alloc&) {
    support::log_error("sncompile", support::out_of_memory_message(a.model));
    return 1;
  } catch (const std::exception& e) {
    support::log_error("sncompile", e.what());
    return 1;
  }
  return 0;
}
