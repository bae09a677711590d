// The compiler's graph IR: fp32 tensors with static shapes, operator nodes in
// topological order, graph inputs, outputs and constants (ONNX initializers).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "openrdu/compiler/compiler.h"

namespace openrdu::compiler {

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
  std::vector<float> data;     // Constant only: elements() values, C order
  int producer = -1;           // node index for Value tensors

  int64_t elements() const;
};

struct Node {
  std::string name;  // unique; importer names unnamed nodes "<OpType>_<index>"
  std::string op;    // ONNX op type: Add, Sub, Mul, Max, Min, Relu, Identity, Abs, Neg, Sum,
                     // Clip, LeakyRelu, PRelu, HardSigmoid
  std::vector<int> inputs;
  std::vector<int> outputs;
  // Float attributes, defaults filled in by the importer: LeakyRelu alpha; HardSigmoid
  // alpha, beta; Clip min/max when the bound is a constant (its input is then dropped).
  // Clip keeps a bound that is not a constant as an input after x (min before max) and
  // marks it with "min_input" / "max_input" = 1.
  std::map<std::string, float> attrs;
  float attr(const std::string& key) const;  // throws CompileError when absent
  bool has_attr(const std::string& key) const { return attrs.count(key) != 0; }
};

struct Graph {
  std::string source;  // file name (for messages and PEF metadata)
  std::vector<Tensor> tensors;
  std::vector<Node> nodes;   // topological order
  std::vector<int> inputs;   // graph inputs (kind Input), in declaration order
  std::vector<int> outputs;  // graph outputs, in declaration order

  int find(const std::string& name) const;  // -1 when absent
  int add_tensor(Tensor t);                 // throws CompileError on a duplicate name
  // "node 'NAME' (Op)": used in every message about a node.
  std::string describe(const Node& n) const;
};

// Operators the compiler supports and their arity.
struct OpInfo {
  const char* name;
  int min_inputs, max_inputs;
};
const OpInfo* find_op(const std::string& op);              // nullptr when unsupported
std::string shape_str(const std::vector<int64_t>& shape);  // "[3,4,5]"

// numpy broadcasting of two shapes; throws CompileError naming `what` on mismatch.
std::vector<int64_t> broadcast_shapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                                      const std::string& what);

// Shape inference: gives every Value tensor its shape; checks declared output shapes.
void infer_shapes(Graph& g);

// Structural checks (names, producers, topological order, arity, shapes, constant
// data sizes). Throws CompileError naming the file and the node or tensor.
void verify(const Graph& g);

// ONNX importer (opsets 6-17): parse, convert, sort, infer shapes, verify.
Graph import_onnx_file(const std::string& path);
Graph import_onnx_bytes(const std::string& bytes, const std::string& source_name);

// Interpret the graph on the host with the device's fp32 semantics.
std::map<std::string, HostTensor> reference_run(const Graph& g, const std::map<std::string, HostTensor>& inputs);

// Lower and generate a PEF from an imported graph.
pef::Pef compile_graph(const Graph& g, const arch::Config& cfg, const Options& opts = {},
                       CompileStats* stats = nullptr);

}  // namespace openrdu::compiler
