// A ModelProto read without protobuf holding its initializers' large raw_data: protobuf
// grows a bytes field of more than 50 MB by doubling while it parses (up to 2x the
// tensor), so the importer reads those payloads itself, each straight into a string of its
// size, and gives protobuf the rest (docs/results.md, "peak memory").
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace onnx {
class ModelProto;
}

namespace openrdu::compiler::detail {

// Reads up to n bytes into p; returns how many (0 at the end of the input or on an error).
using WireRead = std::function<size_t(char* p, size_t n)>;

struct StrippedModel {
  std::string wire;  // the ModelProto's bytes, each raw_data taken out replaced by an empty one
  std::vector<std::pair<int, std::string>> raw_data;  // (initializer index, its raw_data)
};

// Reads a ModelProto of `size` bytes from `read`, copying its wire format but for the
// payloads of at least `min_payload` bytes of the initializers' raw_data (ModelProto.graph
// (7), GraphProto.initializer (5), TensorProto.raw_data (9)), each read into its own
// string. std::nullopt when the bytes hold anything the scan does not follow (malformed
// wire format, groups, a size other than `size`): the caller then parses the original
// bytes with protobuf, so that every model, valid or not, is read as protobuf reads it.
std::optional<StrippedModel> strip_raw_data(const WireRead& read, uint64_t size, size_t min_payload);

// Parses s.wire into `model` and sets the raw_data taken out back into its initializers
// (moved, not copied). Returns what protobuf's parse returned.
bool parse_stripped(onnx::ModelProto& model, StrippedModel&& s);

}  // namespace openrdu::compiler::detail
