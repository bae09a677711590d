// The PEF's GRAPH section (`docs/pef.md`): the source ONNX model, for
// `snrun --test`, with its weights stored once. Every initializer whose data is also in
// WEIGHTS (a PEF weight tensor of the same name and the same bytes) is kept without its
// data: data_location EXTERNAL, external_data {location: "pef:WEIGHTS", offset, length},
// and layout "T" when WEIGHTS holds it with its last two dimensions swapped (the weight
// "<name>.T" of a MatMul/Gemm operand, lower_graph.cc). The others (constants the
// compiler transformed otherwise, shape values) keep their data.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "openrdu/pef/pef.h"

namespace openrdu::compiler {

// GRAPH for `pef` (its weights placed) from the ONNX model's bytes. Bytes that are not a
// model are returned as they are (the importer has refused them already).
std::vector<uint8_t> graph_section(const std::vector<uint8_t>& onnx_bytes, const pef::Pef& pef);

// The ONNX model as the importer read it (ImportOptions::source), so that GRAPH needs no
// second read of the file nor a second copy of the weights: the model with the data of
// its fp32 initializers removed, and per such initializer the digest of its data
// (fp32_digest) and its byte size.
struct OnnxSource {
  std::string model;  // serialized ModelProto
  std::map<std::string, std::pair<uint64_t, uint64_t>> fp32;  // initializer -> (digest, bytes)
};

// A 64-bit digest of fp32 data given element by element in C order (FNV-1a over the
// 32-bit words): equal data, equal digests; GRAPH refers to WEIGHTS on a match.
class Fp32Digest {
 public:
  void add(uint32_t word) { h_ = (h_ ^ word) * 0x100000001b3ull; }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0xcbf29ce484222325ull;
};

// GRAPH for `pef` from the imported model: nullopt when an fp32 initializer is not in
// WEIGHTS with equal data (its data is needed: graph_section_of_file reads the file).
std::optional<std::vector<uint8_t>> graph_section(const OnnxSource& src, const pef::Pef& pef);
// GRAPH from `src` when it suffices, else from the ONNX file at `path`.
std::vector<uint8_t> graph_section_of_file(const OnnxSource& src, const std::string& path, const pef::Pef& pef);

// The ONNX model of a PEF's GRAPH with every "pef:WEIGHTS" reference filled from WEIGHTS.
// A reference outside WEIGHTS is a CompileError naming the initializer; a GRAPH that is
// not a model is returned as it is (import_onnx_bytes then names the problem).
std::string graph_model_bytes(const pef::Pef& pef, const std::string& source_name);

}  // namespace openrdu::compiler
