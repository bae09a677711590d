// The ONNX node conformance tests (<data>/node/test_*) on the functional model: every
// test whose model uses only operators the front end supports, with fp32, int64, int32
// or bool inputs/outputs and an opset the importer reads, is imported and run on the CPU reference, which must
// match test_data_set_*/output_*.pb: bit for bit (any NaN equals any NaN; integers equal), or within
// rtol 1e-5 / atol 1e-6 when the model has an operator whose ONNX expected output comes
// from numpy with another summation order (tolerant_op). When every remaining node is
// lowered (OpInfo::lowered), the test is also compiled and run on model::Core, whose
// outputs must equal the CPU reference's bit for bit; otherwise it is skipped as
// "not lowered" (its reference result is still recorded).
// Used by the compiler_model_tests gtest and by the onnx_node_table tool.
#pragma once
#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
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
  // The CPU reference against ONNX's expected outputs (also for "not lowered" tests).
  enum RefStatus { RefNotRun, RefFailed, RefPassed } ref = RefNotRun;
  bool tolerant = false;   // compared within rtol/atol (tolerant_op)
  double worst_abs = 0;    // worst |reference - expected| over the compared elements
  double worst_rel = 0;    // worst |reference - expected| / |expected| (expected != 0)
  bool not_lowered = false;
  // The model's int64/int32 graph inputs (other than parameters) stayed run-time inputs
  // (device int32 words) rather than being bound as constants.
  bool ints_at_run_time = false;
  // Skipped as out of the front end's scope (an operator it does not support, a dtype other
  // than fp32/int64/int32/bool, an elementwise broadcast over 5 or more address dimensions, an
  // opset outside 1-18, Dropout in training mode, size-0 dimensions): the only skips the suite accepts.
  bool out_of_scope = false;
};

// Operators whose ONNX expected outputs are computed by numpy with another summation
// order or libm: the CPU reference is compared within a tolerance for them.
inline bool tolerant_op(const std::string& op) {
  return op == "MatMul" || op == "Gemm" || op == "Softmax" || op == "LogSoftmax" || op == "ReduceSum" ||
         op == "ReduceMean" || op == "ReduceMax" || op == "ReduceMin" || op == "ReduceL1" || op == "ReduceL2" ||
         op == "ReduceSumSquare" || op == "ReduceLogSum" || op == "ReduceLogSumExp" ||
         // PCU special functions (lower_math.h): a few ULP (<= 2.4, bench/ulp) from the
         // correctly rounded result, Div/Mean/Pow one rounding more than numpy's.
         op == "Exp" || op == "Log" || op == "Sqrt" || op == "Reciprocal" || op == "Div" || op == "Sigmoid" ||
         op == "Tanh" || op == "Erf" || op == "Pow" || op == "Elu" || op == "Selu" || op == "Softplus" ||
         op == "Softsign" || op == "Mean" ||
         // CNN operators (decompose.h): im2col MatMul, sums times fp32(1/count), the
         // normalizations' Sqrt/Div sequences and BatchNormalization's folded Mul/Add.
         op == "Conv" || op == "AveragePool" || op == "GlobalAveragePool" || op == "BatchNormalization" ||
         op == "LayerNormalization" ||
         // The losses: one fp32 sum over every sample (the device accumulates in order;
         // numpy sums pairwise), compared with kLossRtol.
         op == "SoftmaxCrossEntropyLoss" || op == "NegativeLogLikelihoodLoss";
}
constexpr double kRtol = 1e-5, kAtol = 1e-6;
// The losses' reductions over up to N*d1*...*d5 elements: their sequential fp32 sums are
// within 1e-4 of numpy's pairwise ones in the node tests (worst measured: 2.8e-5, the
// 5-D weighted mean).
constexpr double kLossRtol = 1e-4;

// int64/int32 outputs (idata): equal element for element; "" when equal or when neither
// side holds integers (the caller compares the fp32/bool words).
inline std::string compare_ints(const std::string& name, const HostTensor& got, const HostTensor& want) {
  if (got.idata.empty() && want.idata.empty()) return "";
  if (got.idata.size() != want.idata.size())
    return fmt::format("output '{}': {} integers, expected {}", name, got.idata.size(), want.idata.size());
  for (size_t i = 0; i < got.idata.size(); ++i)
    if (got.idata[i] != want.idata[i])
      return fmt::format("output '{}' element {}: got {}, expected {}", name, i, got.idata[i], want.idata[i]);
  return "";
}

// Output `name` of `got` (in *out) when it exists with want's shape and, for integer
// outputs, want's values; else what differs.
inline std::string find_output(const std::map<std::string, HostTensor>& got, const std::string& name,
                               const HostTensor& want, const HostTensor*& out) {
  auto it = got.find(name);
  if (it == got.end()) return fmt::format("output '{}' missing", name);
  if (it->second.shape != want.shape)
    return fmt::format("output '{}' has shape {}, expected {}", name, shape_str(it->second.shape),
                       shape_str(want.shape));
  if (std::string e = compare_ints(name, it->second, want); !e.empty()) return e;
  out = &it->second;
  return "";
}

// Compare within |got - want| <= atol + rtol * |want| (NaN matches NaN); records the
// worst errors; "" when every element passes.
inline std::string compare_tolerant(const std::map<std::string, HostTensor>& got,
                                    const std::vector<std::string>& names, const std::vector<HostTensor>& want,
                                    double& worst_abs, double& worst_rel, double rtol = kRtol) {
  std::string first;
  for (size_t k = 0; k < names.size(); ++k) {
    const HostTensor* out = nullptr;
    if (std::string e = find_output(got, names[k], want[k], out); !e.empty()) return e;
    const HostTensor& g = *out;
    for (size_t i = 0; i < g.data.size(); ++i) {
      const double a = g.data[i], b = want[k].data[i];
      if (std::isnan(a) && std::isnan(b)) continue;
      const double err = std::isnan(a) || std::isnan(b) ? INFINITY : a == b ? 0.0 : std::fabs(a - b);
      worst_abs = std::max(worst_abs, err);
      if (b != 0) worst_rel = std::max(worst_rel, err / std::fabs(b));
      if (!(err <= kAtol + rtol * std::fabs(b)) && first.empty())
        first = fmt::format("output '{}' element {}: got {:.9g}, expected {:.9g} (error {:.3g} > atol {} + rtol {})",
                            names[k], i, g.data[i], want[k].data[i], err, kAtol, rtol);
    }
  }
  return first;
}

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
    const HostTensor* out = nullptr;
    if (std::string e = find_output(got, names[k], want[k], out); !e.empty()) return e;
    const HostTensor& g = *out;
    if (g.data.size() != want[k].data.size())
      return fmt::format("output '{}': {} fp32/bool words, expected {}", names[k], g.data.size(),
                         want[k].data.size());
    for (size_t i = 0; i < g.data.size(); ++i)
      if (!same_f32(g.data[i], want[k].data[i]))
        return fmt::format("output '{}' element {}: got 0x{:08X} ({}), expected 0x{:08X} ({})", names[k], i,
                           bits(g.data[i]), g.data[i], bits(want[k].data[i]), want[k].data[i]);
  }
  return "";
}

// Out of scope since the suite compares int and bool values (issue 23): outputs that are
// not graph values (Dropout's mask, MaxPool's Indices), Dropout's training_mode input (the
// mask is numpy's random draw; verif/train tests DropoutTrain), Pad's reflect/edge modes,
// Pow of an integer base. "" when in scope.
inline std::string beyond_scope(const onnx::ModelProto& m, const onnx::NodeProto& n) {
  auto given = [&](int k) { return n.input_size() > k && !n.input(k).empty(); };
  auto elem_type = [&](const std::string& name) {
    for (const auto& vi : m.graph().input())
      if (vi.name() == name) return vi.type().tensor_type().elem_type();
    return 0;
  };
  const std::string& op = n.op_type();
  if ((op == "Dropout" || op == "MaxPool") && n.output_size() > 1 && !n.output(1).empty())
    return op == "Dropout" ? "Dropout's mask output (not a graph value)" : "MaxPool's Indices output";
  if (op == "Dropout" && given(2)) return "Dropout's training_mode input (numpy's random mask)";
  for (const auto& a : n.attribute())
    if (op == "Pad" && a.name() == "mode" && a.s() != "constant") return "Pad mode " + a.s() + " (constant only)";
  if (n.input_size() == 0) return "";
  const bool int_x = elem_type(n.input(0)) == onnx::TensorProto::INT64 || elem_type(n.input(0)) == onnx::TensorProto::INT32;
  if (op == "Pow" && int_x) return "Pow of an integer base (fp32 only)";
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
  c.out_of_scope = true;  // until the scope checks below pass
  if (!unsupported.empty()) {
    c.reason = fmt::format("operator {} not supported", unsupported);
    return c;
  }
  for (auto& n : *m.mutable_graph()->mutable_node()) {
    if (n.op_type() == "Pad" && n.input_size() > 2 && !n.input(2).empty())
      for (const auto& vi : m.graph().input())
        if (vi.name() == n.input(2)) {
          c.reason = "Pad with a run-time constant_value (constant values only)";
          return c;
        }
    if (n.op_type() == "Dropout" && ((n.output_size() > 1 && !n.output(1).empty()) || n.input_size() > 2)) {
      c.reason = "Dropout's mask output or training_mode input (training mode: verif/train DropoutTrain)";
      return c;
    }
    if (n.op_type() == "SoftmaxCrossEntropyLoss" && n.output_size() > 1) {
      c.reason = "SoftmaxCrossEntropyLoss's log_prob output (one output only)";
      return c;
    }
    if (std::string r = beyond_scope(m, n); !r.empty()) {
      c.reason = r;
      return c;
    }
  }
  // Graph inputs at a parameter position of a node (Reshape's shape, Range's start, OneHot's
  // depth, TopK's K, ...: OpInfo::param_from) are bound to each data set's values as
  // initializers (`bound`): the compiler takes them at compile time. So are the other
  // int64/int32 inputs (`int_inputs`) unless the model compiles with them read at run time
  // (the losses' labels, OneHot's indices). Values are fp32, int64, int32 or bool.
  std::set<std::string> param_names;
  for (const auto& n : m.graph().node())
    for (int k = find_op(n.op_type())->param_from; k < n.input_size(); ++k) param_names.insert(n.input(k));
  std::vector<int> int_inputs, bound;
  for (const auto* list : {&m.graph().input(), &m.graph().output()})
    for (int vk = 0; vk < list->size(); ++vk) {
      const auto& vi = list->Get(vk);
      if (!vi.type().has_tensor_type()) {
        c.reason = fmt::format("'{}' is not a tensor", vi.name());
        return c;
      }
      const int t = vi.type().tensor_type().elem_type();
      const bool is_int = t == onnx::TensorProto::INT64 || t == onnx::TensorProto::INT32;
      if (t != onnx::TensorProto::FLOAT && t != onnx::TensorProto::BOOL && !is_int) {
        c.reason = fmt::format("'{}' is {} (fp32, int64, int32 and bool only)", vi.name(), elem_type_name(t));
        return c;
      }
      if (list == &m.graph().input() && param_names.count(vi.name())) {
        bound.push_back(vk);
        continue;
      }
      if (list == &m.graph().input() && is_int) {
        int_inputs.push_back(vk);
        continue;
      }
      for (const auto& d : vi.type().tensor_type().shape().dim())
        if (d.has_dim_value() && d.dim_value() == 0) {
          c.reason = fmt::format("'{}' has a dimension of size 0 (sizes >= 1 only)", vi.name());
          return c;
        }
    }
  for (const auto& os : m.opset_import())
    if ((os.domain().empty() || os.domain() == "ai.onnx") && (os.version() < 1 || os.version() > 18)) {
      c.reason = fmt::format("opset {} (the importer reads 1 to 18)", os.version());
      return c;
    }

  c.out_of_scope = false;
  c.status = NodeCase::NotCompiled;
  for (const auto& o : ops) c.tolerant |= tolerant_op(o);
  std::string unlowered;
  for (const auto& o : ops)
    if (!find_op(o)->lowered && !find_op(o)->folded_only) unlowered += (unlowered.empty() ? "" : ",") + o;
  c.not_lowered = !unlowered.empty();
  try {
    std::vector<std::filesystem::path> sets;
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
    std::sort(sets.begin(), sets.end());
    if (sets.empty()) {
      c.reason = "no test_data_set_*";
      return c;
    }
    // The model with the inputs `bound` of data set `set` bound as initializers.
    auto bind = [&](const std::filesystem::path& set) {
      onnx::ModelProto b = m;
      auto* inputs = b.mutable_graph()->mutable_input();
      for (auto it = bound.rbegin(); it != bound.rend(); ++it) {
        onnx::TensorProto t;
        std::ifstream f(set / fmt::format("input_{}.pb", *it), std::ios::binary);
        if (!f || !t.ParseFromIstream(&f)) throw std::runtime_error(fmt::format("input_{}.pb unreadable", *it));
        t.set_name(inputs->Get(*it).name());
        *b.mutable_graph()->add_initializer() = t;
        inputs->DeleteSubrange(*it, 1);
      }
      return b;
    };
    auto fp_input_index = [&](int i) {  // position among all inputs of the i-th fp32 input
      int k = -1;
      for (int j = 0; j < m.graph().input_size(); ++j)
        if (std::find(bound.begin(), bound.end(), j) == bound.end() && ++k == i) return j;
      return -1;
    };
    Graph g;
    std::vector<pef::Pef> pefs;
    c.ref = NodeCase::RefFailed;
    // int inputs that the model reads at run time (class labels of the losses) stay inputs;
    // otherwise (shape values) they are bound per data set.
    bool run_time_ints = false;
    if (!int_inputs.empty()) try {
        import_onnx_bytes(bind(sets[0]).SerializeAsString(), (dir / "model.onnx").string());
        run_time_ints = true;
      } catch (const CompileError&) {
      }
    if (run_time_ints) int_inputs.clear();
    c.ints_at_run_time = run_time_ints;
    bound.insert(bound.end(), int_inputs.begin(), int_inputs.end());
    std::sort(bound.begin(), bound.end());
    for (size_t si = 0; si < sets.size(); ++si) {
      const auto& set = sets[si];
      if (si == 0 || !bound.empty()) {
        c.status = NodeCase::NotCompiled;
        g = import_onnx_bytes(bind(set).SerializeAsString(), (dir / "model.onnx").string());
        unlowered.clear();
        for (const Node& n : g.nodes)
          if (!find_op(n.op)->lowered && unlowered.find(n.op) == std::string::npos)
            unlowered += (unlowered.empty() ? "" : ",") + n.op;
        c.not_lowered = !unlowered.empty();
        pefs.clear();
        if (!c.not_lowered)
          for (int level : levels) {
            Options o;
            o.opt_level = level;
            pefs.push_back(compile_graph(g, cfg, o));
          }
        c.status = NodeCase::Failed;
      }
      std::map<std::string, HostTensor> in;
      for (size_t i = 0; i < g.inputs.size(); ++i)
        in[g.tensors[g.inputs[i]].name] =
            load_tensor_pb((set / fmt::format("input_{}.pb", fp_input_index(int(i)))).string());
      std::vector<std::string> names;
      std::vector<HostTensor> want;
      for (size_t k = 0; k < g.outputs.size(); ++k) {
        names.push_back(g.tensors[g.outputs[k]].name);
        want.push_back(load_tensor_pb((set / fmt::format("output_{}.pb", k)).string()));
      }
      const std::string where = fmt::format("{}/{}", c.test, set.filename().string());
      // The CPU reference against ONNX's expected outputs.
      const auto ref = reference_run(g, in);
      double wa = 0, wr = 0;
      const bool loss = c.op.find("LogLikelihoodLoss") != std::string::npos ||
                        c.op.find("SoftmaxCrossEntropyLoss") != std::string::npos;
      std::string e = compare_tolerant(ref, names, want, wa, wr, loss ? kLossRtol : kRtol);
      c.worst_abs = std::max(c.worst_abs, wa);
      c.worst_rel = std::max(c.worst_rel, wr);
      if (e.empty() && !c.tolerant) e = compare_outputs(ref, names, want);
      if (!e.empty()) {
        c.reason = fmt::format("{}: reference: {}", where, e);
        if (c.not_lowered) {
          c.status = NodeCase::Skipped;
          c.reason = fmt::format("not lowered: {}; {}", unlowered, c.reason);
        }
        return c;
      }
      // The device against the CPU reference, bit for bit.
      for (size_t l = 0; l < pefs.size(); ++l)
        if (std::string e = compare_outputs(run_on_model(cfg, pefs[l], in), names,
                                            [&] {
                                              std::vector<HostTensor> v;
                                              for (const auto& nm : names) v.push_back(ref.at(nm));
                                              return v;
                                            }());
            !e.empty()) {
          c.ref = NodeCase::RefPassed;
          c.reason = fmt::format("{} {} -O{}: device vs reference: {}", where, cfg.name, levels[l], e);
          return c;
        }
      ++c.data_sets;
    }
    c.ref = NodeCase::RefPassed;
    c.status = NodeCase::Passed;
    if (c.not_lowered) {
      c.status = NodeCase::Skipped;
      c.reason = fmt::format("not lowered: {} (reference passed{})", unlowered,
                             c.tolerant ? fmt::format(", worst abs error {:.3g}", c.worst_abs) : "");
    }
  } catch (const std::exception& e) {
    c.reason = e.what();
    // The lowering's one refusal of supported operators: a broadcast whose operand walks
    // need more address dimensions than an AGCU stream has (5 or more; none of the node tests).
    if (c.reason.find("address dimensions, an AGCU stream has") != std::string::npos) {
      c.status = NodeCase::Skipped;
      c.out_of_scope = true;
      c.reason = "lowering limit: " + c.reason;
      return c;
    }
    if (c.not_lowered) {
      c.status = NodeCase::Skipped;
      c.reason = fmt::format("not lowered: {}; {}", unlowered, c.reason);
    }
  }
  if (!bound.empty() && c.status != NodeCase::Skipped) c.reason += " (parameter and int inputs bound as constants)";
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
