// Operators of issue 23 on the front end's paths: canonical parameters, output shape and
// type, host evaluation (folding and the CPU reference) and their decompositions.
//
// Canonical forms (fold.cc calls canonicalize_ext):
//   ArgMax/ArgMin  axis (>= 0), keepdims, select_last_index (0/1); output int64
//   IsInf          detect_positive, detect_negative (0/1); IsNaN/IsInf output bool
//   Mod            fmod (0/1); fp32 needs fmod = 1 (C fmod), int64 either
//   Expand         shape (the shape input, constant); output the broadcast of x and shape
//   Tile           repeats (one per dimension, >= 1)
//   Range          no inputs: start, limit, delta as attrs (fp32) or iattrs (int64);
//                  folded only (its output's shape depends on the values)
//   OneHot         depth (>= 1), axis (>= 0, of the output), values: attrs off/on (fp32
//                  values) or iattrs values [off, on] (int64); indices a run-time input
//   TopK           k (1 to kTopKMax), axis (>= 0), largest, sorted, output (0: values,
//                  1: int64 indices; the importer makes one node per output)
//   LayerNormalization  output (1: Mean, 2: InvStdDev; absent: Y), likewise one node each
//   BatchNormalization  training mode: output (1: running mean, 2: running var, 3 and 4:
//                  BN-9's saved mean and var; absent: Y), one node each, shape [C]
#pragma once
#include <string>
#include <vector>

#include "fold.h"
#include "openrdu/compiler/ir.h"

namespace openrdu::compiler::detail {

struct Builder;

constexpr int64_t kTopKMax = 16;  // TopK runs k rounds of max, index and mask on the device

// Operators handled here (canonicalize_ext, ext_output_shape, ext_output_dtype).
bool is_ext_op(const std::string& op);
// The reductions added by issue 23 besides ReduceProd (a primitive reduction): ReduceL1,
// ReduceL2, ReduceSumSquare, ReduceLogSum, ReduceLogSumExp.
bool is_composite_reduce(const std::string& op);
// Operators decomposed into others before lowering (decompose_ops.cc).
bool is_ext_decomposed(const std::string& op);

// Moves the parameter inputs `params` (positions >= param_from, -1 when omitted) into
// attributes and normalizes them; true when n is an operator of this file.
bool canonicalize_ext(Graph& g, Node& n, const std::vector<int>& params, const std::string& what);
// Attribute defaults the ONNX specification gives.
void ext_attr_defaults(Node& n);

// Output shape / type of a canonical node; false when n is not an operator of this file.
bool ext_output_shape(const Graph& g, const Node& n, const std::string& what, std::vector<int64_t>& out);
bool ext_output_dtype(const Graph& g, const Node& n, const std::string& what, DType& out);
// Operators whose run-time output may be int64 (device int32 words): ArgMax, ArgMin,
// TopK (indices), OneHot (int values), Cast from fp32/bool.
bool makes_run_time_int(const Node& n);

// decompose_ops.cc: the composition of an is_ext_decomposed node, and LayerNormalization's
// Mean / InvStdDev outputs.
void decompose_ext(Builder& b);

}  // namespace openrdu::compiler::detail
