// Front-end internals shared by the ONNX importer, the YAML loader, constant folding
// (fold.cc) and the CPU reference (reference.cc).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "openrdu/compiler/ir.h"

namespace openrdu::compiler::detail {

// A host value during folding or reference interpretation: fp32 or int64 data.
struct Value {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<float> f;    // F32
  std::vector<int64_t> i;  // I64
  int64_t elements() const;
};

// Evaluate one canonical node (parameters in attributes) on the host. `in` holds the
// node's inputs; `out_shape`/`out_dtype` are the inferred output. fp32 arithmetic
// follows the reference semantics (reference.cc); int64 supports the shape operators
// (data movement, Add/Sub/Mul/Div/Max/Min/Neg/Abs/Identity, Cast).
Value eval_node(const Graph& g, const Node& n, const std::vector<const Value*>& in,
                const std::vector<int64_t>& out_shape, DType out_dtype);

// fold_limit.cc: an output shape whose size overflows or is implausible (arch::shape_size)
// is an error naming the node; a node about to be folded must fit the fold budget
// (openrdu/compiler/fold_limit.h), else an error naming it and the figures.
void check_output_size(const std::vector<int64_t>& shape, DType dt, const std::string& what);
void check_fold_budget(const Graph& g, const Node& n, const std::vector<int64_t>& shape, DType dt,
                       const std::string& what);

// An axis in [-rank, rank) made >= 0; else an error naming `what` and `key`.
int64_t norm_axis(int64_t a, int64_t rank, const std::string& what, const char* key);
// Input t of a node at a parameter position, which must be a compile-time constant: else
// one error naming `what`, the input and its role (missing, or depending on run-time data).
const Tensor& const_param(const Graph& g, int t, const char* role, const std::string& what);

// Conv/MaxPool/AveragePool auto_pad codes (the ONNX importer maps the strings).
constexpr int64_t kAutoPadNotSet = 0, kAutoPadValid = 1, kAutoPadSameUpper = 2, kAutoPadSameLower = 3;
// SoftmaxCrossEntropyLoss / NegativeLogLikelihoodLoss reduction codes (the importer maps
// the strings "none", "sum", "mean").
constexpr int64_t kReductionNone = 0, kReductionSum = 1, kReductionMean = 2;

// Attribute schema shared by the ONNX importer and the YAML loader.
enum class AttrKind { Float, Int, Ints, Tensor };
const char* attr_kind_name(AttrKind k);  // "float (FLOAT)", ...
// The kind of attribute `name` of `op` at `opset`; false when the attribute is unknown.
bool attr_kind(const std::string& op, const std::string& name, int opset, AttrKind& kind);
// Fills the defaults of the attributes the front end has not set (and marks opset < 13
// Softmax/LogSoftmax with iattr "legacy2d").
void fill_attr_defaults(Node& n, int opset);

}  // namespace openrdu::compiler::detail
