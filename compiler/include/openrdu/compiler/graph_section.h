// The PEF's GRAPH section (`docs/pef.md`): the source ONNX model, for
// `snrun --test`, with its weights stored once. Every initializer whose data is also in
// WEIGHTS (a PEF weight tensor of the same name and the same bytes) is kept without its
// data: data_location EXTERNAL, external_data {location: "pef:WEIGHTS", offset, length},
// and layout "T" when WEIGHTS holds it with its last two dimensions swapped (the weight
// "<name>.T" of a MatMul/Gemm operand, lower_graph.cc). The others (constants the
// compiler transformed otherwise, shape values) keep their data.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "openrdu/pef/pef.h"

namespace openrdu::compiler {

// GRAPH for `pef` (its weights placed) from the ONNX model's bytes. Bytes that are not a
// model are returned as they are (the importer has refused them already).
std::vector<uint8_t> graph_section(const std::vector<uint8_t>& onnx_bytes, const pef::Pef& pef);

// The ONNX model of a PEF's GRAPH with every "pef:WEIGHTS" reference filled from WEIGHTS.
// A reference outside WEIGHTS is a CompileError naming the initializer; a GRAPH that is
// not a model is returned as it is (import_onnx_bytes then names the problem).
std::string graph_model_bytes(const pef::Pef& pef, const std::string& source_name);

}  // namespace openrdu::compiler
