// The ONNX node conformance tests (<data>/node/test_*) on the functional model: every
// test whose model uses only operators the compiler supports, with fp32 tensors and an
// opset the importer reads, is compiled and run on model::Core, and its outputs are
// compared with test_data_set_*/output_*.pb bit for bit (any NaN equals any NaN).
// Used by the compiler_model_tests gtest and by the onnx_node_table tool.
#pragma once
#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "model_run.h"
#include "openrdu/compiler/ir.h"
#include "test_util.h"

namespace openrdu::compiler::test {

struct NodeCase {
  std::string test;  // directory name, e.g. test_clip_example
  std::string op;    // operator(s) of the model, '+'-joined when several
  enum Status { Skipped, NotCompiled, Failed, Passed } status = Skipped;
  std::string reason;  // skip reason or failure message
  int data_sets = 0;   // test_data_set_* directories compared
};

inline const char* status_name(NodeCase::Status s) {
  static const char* names[] = {"skipped", "not compiled", "FAILED", "passed"};
  return names[s];
}

inline std::string elem_type_name(int t) {
  if (onnx::TensorProto_DataType_IsValid(t)) return onnx::TensorProto_DataType_Name(onnx::TensorProto_DataType(t));
  return fmt::format("type {}", t);
}

// First mismatch between the model's outputs and the expected tensors, "" when equal.
inline std::string compare_outputs(const std::map<std::string, HostTensor>& got, const std::vector<std::string>& names,
                                   const std::vector<HostTensor>& want) {
  for (size_t k = 0; k < names.size(); ++k) {
    auto it = got.find(names[k]);
    if (it == got.end()) return fmt::format("output '{}' missing", names[k]);
    const HostTensor& g = it->second;
    if (g.shape != want[k].shape)
      return fmt::format("output '{}' has shape {}, expected {}", names[k], shape_str(g.shape),
                         shape_str(want[k].shape));
    for (size_t i = 0; i < g.data.size(); ++i)
      if (!same_f32(g.data[i], want[k].data[i]))
        return fmt::format("output '{}' element {}: got 0x{:08X} ({}), expected 0x{:08X} ({})", names[k], i,
                           bits(g.data[i]), g.data[i], bits(want[k].data[i]), want[k].data[i]);
  }
  return "";
}

// Run one test directory at the given configuration and optimization levels.
inline NodeCase run_node_case(const std::filesystem::path& dir, const arch::Config& cfg,
                              const std::vector<int>& levels) {
  NodeCase c;
  c.test = dir.filename().string();
  onnx::ModelProto m;
  {
    std::ifstream f(dir / "model.onnx", std::ios::binary);
    if (!f || !m.ParseFromIstream(&f)) {
      c.op.push_back('?');
      c.reason = "model.onnx unreadable";
      return c;
    }
  }
  std::set<std::string> ops;
  std::string unsupported;
  for (const auto& n : m.graph().node()) {
    ops.insert(n.op_type());
    if ((!n.domain().empty() && n.domain() != "ai.onnx") || !find_op(n.op_type()))
      unsupported = unsupported.empty() ? n.op_type() : unsupported;
  }
  for (const auto& o : ops) {
    if (!c.op.empty()) c.op += '+';
    c.op += o;
  }
  if (m.graph().node_size() == 0) c.op = "(no node)";
  if (!unsupported.empty()) {
    c.reason = fmt::format("operator {} not supported", unsupported);
    return c;
  }
  for (const auto* list : {&m.graph().input(), &m.graph().output()})
    for (const auto& vi : *list) {
      if (!vi.type().has_tensor_type()) {
        c.reason = fmt::format("'{}' is not a tensor", vi.name());
        return c;
      }
      const int t = vi.type().tensor_type().elem_type();
      if (t != onnx::TensorProto::FLOAT) {
        c.reason = fmt::format("'{}' is {} (fp32 only)", vi.name(), elem_type_name(t));
        return c;
      }
    }
  for (const auto& os : m.opset_import())
    if ((os.domain().empty() || os.domain() == "ai.onnx") && (os.version() < 6 || os.version() > 17)) {
      c.reason = fmt::format("opset {} (the importer reads 6 to 17)", os.version());
      return c;
    }

  c.status = NodeCase::NotCompiled;
  try {
    const Graph g = import_onnx_file((dir / "model.onnx").string());
    std::vector<pef::Pef> pefs;
    for (int level : levels) {
      Options o;
      o.opt_level = level;
      pefs.push_back(compile_graph(g, cfg, o));
    }
    c.status = NodeCase::Failed;
    std::vector<std::filesystem::path> sets;
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
    std::sort(sets.begin(), sets.end());
    if (sets.empty()) {
      c.reason = "no test_data_set_*";
      return c;
    }
    for (const auto& set : sets) {
      std::map<std::string, HostTensor> in;
      for (size_t i = 0; i < g.inputs.size(); ++i)
        in[g.tensors[g.inputs[i]].name] = load_tensor_pb((set / fmt::format("input_{}.pb", i)).string());
      std::vector<std::string> names;
      std::vector<HostTensor> want;
      for (size_t k = 0; k < g.outputs.size(); ++k) {
        names.push_back(g.tensors[g.outputs[k]].name);
        want.push_back(load_tensor_pb((set / fmt::format("output_{}.pb", k)).string()));
      }
      const std::string where = fmt::format("{}/{}", c.test, set.filename().string());
      // The CPU reference must agree with ONNX's expected outputs too.
      if (std::string e = compare_outputs(reference_run(g, in), names, want); !e.empty()) {
        c.reason = fmt::format("{}: reference: {}", where, e);
        return c;
      }
      for (size_t l = 0; l < levels.size(); ++l)
        if (std::string e = compare_outputs(run_on_model(cfg, pefs[l], in), names, want); !e.empty()) {
          c.reason = fmt::format("{} {} -O{}: {}", where, cfg.name, levels[l], e);
          return c;
        }
      ++c.data_sets;
    }
    c.status = NodeCase::Passed;
  } catch (const std::exception& e) {
    c.reason = e.what();
  }
  return c;
}

inline std::vector<NodeCase> run_node_suite(const std::string& root, const arch::Config& cfg,
                                            const std::vector<int>& levels) {
  std::vector<std::filesystem::path> dirs;
  for (const auto& e : std::filesystem::directory_iterator(root))
    if (e.is_directory() && std::filesystem::exists(e.path() / "model.onnx")) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  std::vector<NodeCase> cases;
  for (const auto& d : dirs) cases.push_back(run_node_case(d, cfg, levels));
  return cases;
}

}  // namespace openrdu::compiler::test
