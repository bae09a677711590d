// The compiler's graph IR: fp32 tensors with static shapes, operator nodes in
// topological order, graph inputs, outputs and constants (ONNX initializers).
//
// Front ends (ONNX importer, YAML loader) build a raw graph whose nodes follow ONNX
// (parameter inputs such as Reshape's shape may be int64 tensors computed by shape
// subgraphs), then call finalize(): fold_constants() (shape inference, host evaluation
// of every node whose inputs are all constants, canonical parameters) and verify().
// A finalized graph is canonical:
//  * run-time tensors are fp32, except integer graph inputs (DType::I64: class labels,
//    OneHot indices; the device holds them as int32 words, narrowed by the runtime), the
//    int64 results of Cast, ArgMax, ArgMin, TopK's indices, OneHot and integer arithmetic
//    (int32 words too; fold.cc's check_run_time_types lists the operators), int64
//    constants they read (int32 words at lowering), and the results of comparisons,
//    logic, IsNaN and IsInf (DType::BOOL: the device word is 1.0f for true, 0 for false);
//  * every node input is a run-time operand; compile-time parameters are attributes
//    (iattrs / attrs), never inputs (the parameters of issue 23's operators: ops_ext.h);
//  * Shape, Constant, ConstantOfShape and Range never remain (Cast to the same type
//    becomes Identity; a reduction with empty axes and noop_with_empty_axes = 1 becomes
//    Identity);
//  * a node has one output: the importer makes one node per output of TopK and
//    LayerNormalization (iattr "output");
//  * graph outputs may be constants (a graph that folds completely has no nodes).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "openrdu/compiler/compiler.h"

namespace openrdu::compiler {

enum class DType : uint8_t { F32, I64, BOOL };
const char* dtype_name(DType t);  // "fp32", "int64", "bool"

enum class TensorKind : uint8_t {
  Input,     // graph input: supplied at run time
  Constant,  // initializer: data known at compile time
  Value,     // produced by a node
};

struct Tensor {
  std::string name;
  TensorKind kind = TensorKind::Value;
  std::vector<int64_t> shape;  // static; rank 0 is a scalar
  bool shape_known = false;    // Value tensors get their shape from infer_shapes()
  bool is_output = false;      // a graph output
  DType dtype = DType::F32;    // see the header comment
  std::vector<float> data;     // Constant F32 and BOOL (0.0f/1.0f): elements() values, C order
  std::vector<int64_t> idata;  // Constant I64: elements() values, C order
  int producer = -1;           // node index for Value tensors
  // Device-resident state (training): a graph Input whose initial value is `data`, kept in
  // device DRAM across runs (PEF role Weight, uploaded once), never folded. Graph::updates
  // names the value that overwrites it at the end of every run.
  bool state = false;

  int64_t elements() const;
};

struct Node {
  std::string name;  // unique; importer names unnamed nodes "<OpType>_<index>"
  std::string op;    // ONNX op type (see find_op)
  std::vector<int> inputs;   // raw graphs: -1 marks an omitted optional parameter input
  std::vector<int> outputs;
  // Float attributes, defaults filled in by the front end: LeakyRelu alpha; HardSigmoid
  // alpha, beta; Gemm alpha, beta; Clip min/max when the bound is a constant (its input
  // is then dropped). Clip keeps a bound that is not a constant as an input after x (min
  // before max) and marks it with "min_input" / "max_input" = 1.
  std::map<std::string, float> attrs;
  // Integer attributes (single values are one-element vectors). In a finalized graph:
  //   Gemm        transA, transB (0/1)
  //   Transpose   perm (full, default reversed)
  //   Reshape     shape (the static output shape, no -1 or 0), allowzero
  //   Flatten     axis (0..rank)
  //   Squeeze     axes (sorted, >= 0; every size-1 axis when none given)
  //   Unsqueeze   axes (sorted, >= 0, axes of the output)
  //   Softmax, LogSoftmax  axis (>= 0; one axis: opset < 13 flattening is mapped to it)
  //   Concat      axis (>= 0)
  //   Gather      axis (>= 0), indices (flat, each in [0, dim)), indices_shape
  //   ReduceSum/Mean/Max/Min  axes (sorted, >= 0, all axes when none given), keepdims
  //   Slice       starts, ends, steps (one per input dimension, clamped as ONNX does;
  //               element i of output dim d is input index starts[d] + i*steps[d], and
  //               the count is max(0, ceil((ends[d] - starts[d]) / steps[d])))
  // Raw graphs hold the ONNX attributes as read (Cast to, Shape start/end, ...).
  std::map<std::string, std::vector<int64_t>> iattrs;
  float attr(const std::string& key) const;  // throws CompileError when absent
  bool has_attr(const std::string& key) const { return attrs.count(key) != 0; }
  // The single value of an integer attribute; throws CompileError naming the node and
  // key when absent or not a single value.
  int64_t iattr(const std::string& key) const;
  const std::vector<int64_t>& ints(const std::string& key) const;  // throws when absent
  bool has_iattr(const std::string& key) const { return iattrs.count(key) != 0; }
  // Set by fold_constants once the parameters are canonical (it does not normalize the
  // node again). IR built by hand in canonical form may set it.
  bool canonical = false;
  // Front-end only (raw graphs): a tensor-valued attribute (Constant value,
  // ConstantOfShape value), stored as a constant tensor that no node uses.
  std::map<std::string, int> tattrs;
};

struct Graph {
  std::string source;  // file name (for messages and PEF metadata)
  std::vector<Tensor> tensors;
  std::vector<Node> nodes;   // topological order
  std::vector<int> inputs;   // graph inputs (kind Input), in declaration order
  std::vector<int> outputs;  // graph outputs, in declaration order
  // Training: (state input, value) pairs; the value overwrites the state in place at the
  // end of each run (one DRAM buffer for both; every other reader of the state runs
  // before the value's producer). Kept through folding and legalisation.
  std::vector<std::pair<int, int>> updates;

  int find(const std::string& name) const;  // -1 when absent
  int add_tensor(Tensor t);                 // throws CompileError on a duplicate name
  // "node 'NAME' (Op)": used in every message about a node.
  std::string describe(const Node& n) const;
};

// Operators the front end supports. min/max_inputs: the ONNX arity. Inputs at positions
// >= param_from are compile-time parameters (must fold to constants; they become
// attributes), so a finalized node has min(min_inputs, param_from) to
// min(max_inputs, param_from) inputs. `lowered`: compile_graph can lower the operator
// (set by the lowering work in ir.cc's table); the node-test table skips the others as
// "not lowered". `folded_only`: never remains in a finalized graph.
struct OpInfo {
  const char* name;
  int min_inputs, max_inputs;
  int param_from;
  bool lowered;
  bool folded_only;
};
const OpInfo* find_op(const std::string& op);  // nullptr when unsupported
const std::vector<OpInfo>& all_ops();
// Elementwise operators (output = broadcast of the inputs): Add Sub Mul Div Max Min Relu
// Identity Abs Neg Sum Clip LeakyRelu PRelu HardSigmoid.
bool is_elementwise(const std::string& op);
std::string shape_str(const std::vector<int64_t>& shape);  // "[3,4,5]"

// numpy broadcasting of two shapes; throws CompileError naming `what` on mismatch.
std::vector<int64_t> broadcast_shapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                                      const std::string& what);

// numpy matmul shapes (1-D operands promoted and the added dimension removed).
std::vector<int64_t> matmul_shape(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                                  const std::string& what);

// The output shape of a canonical node (parameters in attributes), its input shapes known.
std::vector<int64_t> node_output_shape(const Graph& g, const Node& n);

// Shape inference: gives every Value tensor its shape; checks declared output shapes.
// Runs fold_constants() (raw graphs need folding to know e.g. Reshape's shape).
void infer_shapes(Graph& g);

// Constant folding (fold.cc): in topological order, moves constant parameter inputs
// into attributes (canonical form, see Node), infers every output's shape and type,
// evaluates on the host every node whose inputs are all constants (and Shape) and turns
// its output into a constant; then removes dead nodes and unused constant and value
// tensors (graph inputs stay). Errors name the node and tensor (e.g. a parameter that
// is not a compile-time constant, or an int64 value that would have to be computed at
// run time).
void fold_constants(Graph& g);

// fold_constants() then verify().
void finalize(Graph& g);

// Structural checks of a finalized graph (names, producers, topological order, arity,
// shapes, constant data sizes, every tensor fp32, no folded-only operator). Throws
// CompileError naming the file and the node or tensor.
void verify(const Graph& g);

// Front-end options.
struct OnnxSource;  // graph_section.h

struct ImportOptions {
  // Training: every fp32 constant of the model (initializer) that a node reads as a
  // run-time operand becomes device-resident state (make_params_state), so folding keeps
  // it under its own name.
  bool params_as_state = false;
  // Initial values replacing the model's fp32 initializers by name before folding (e.g. a
  // training checkpoint): shapes must match; a name that is no initializer is an error,
  // except optimizer state (names starting "optimizer." or ending ".momentum_buffer",
  // ".exp_avg", ".exp_avg_sq") and "train.epoch", which are ignored.
  std::map<std::string, HostTensor> weights;
  // false: the front end returns the raw graph (the pipeline's import pass; its fold pass
  // then calls finalize()).
  bool finalize = true;
  // When set, import_onnx_file keeps the model without its fp32 data and their digests
  // here, for the PEF's GRAPH (graph_section.h).
  OnnxSource* source = nullptr;
};

// Applies ImportOptions::weights to a raw graph (before finalize).
void apply_weights(Graph& g, const std::map<std::string, HostTensor>& weights);

// Writes the ONNX model at `in_path` to `out_path` with its initializers replaced by
// `weights` by name (apply_weights' rules; shapes checked), e.g. a trained model for
// other tools (sncompile --export-onnx).
void export_onnx_with_weights(const std::string& in_path, const std::map<std::string, HostTensor>& weights,
                              const std::string& out_path);

// On a raw graph (before finalize): every fp32 constant read by some node at an operand
// position (below the operator's first parameter input) becomes a state graph input
// (Tensor::state, appended to g.inputs in tensor order), its data the initial value.
void make_params_state(Graph& g);

// ONNX importer (opsets 1-18): parse, convert, sort, infer shapes, verify.
Graph import_onnx_file(const std::string& path, const ImportOptions& opts = {});
Graph import_onnx_bytes(const std::string& bytes, const std::string& source_name, const ImportOptions& opts = {});

// YAML test graphs (yaml_graph.cc; format in compiler/README.md): load, finalize.
Graph load_yaml_graph(const std::string& path, const ImportOptions& opts = {});
Graph load_yaml_string(const std::string& text, const std::string& source_name, const ImportOptions& opts = {});

// By file extension: .yaml/.yml -> load_yaml_graph, otherwise import_onnx_file.
Graph load_graph_file(const std::string& path, const ImportOptions& opts = {});

// Interpret the graph on the host with the device's fp32 semantics.
std::map<std::string, HostTensor> reference_run(const Graph& g, const std::map<std::string, HostTensor>& inputs);

// Lower and generate a PEF from an imported graph.
// The graph is consumed (moved from when given as an rvalue: one copy of the weights).
pef::Pef compile_graph(Graph g, const arch::Config& cfg, const Options& opts = {},
                       CompileStats* stats = nullptr);

}  // namespace openrdu::compiler
