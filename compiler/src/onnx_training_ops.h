// The ONNX training operators (domain ai.onnx.preview.training: Adagrad, Momentum, Adam)
// expanded at import into lowered operators (onnx_training_ops.cc; docs/training.md).
#pragma once
#include <onnx/onnx_pb.h>

#include <functional>
#include <string>

#include "openrdu/compiler/ir.h"

namespace openrdu::compiler::detail {

bool is_training_domain(const std::string& domain);

// Appends the expansion of `np` (named `name`) to the raw graph g: its outputs become
// values under their ONNX names. `input` maps an input name to its tensor. Errors name
// the node, the operator and the attribute or arity at fault.
void expand_training_node(const onnx::NodeProto& np, const std::string& name, Graph& g,
                          const std::function<int(const std::string&)>& input);

}  // namespace openrdu::compiler::detail
