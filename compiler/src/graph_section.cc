// The PEF's GRAPH section with the weights stored once (openrdu/compiler/graph_section.h).
#include "openrdu/compiler/graph_section.h"

#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string_view>

#include "openrdu/arch/checked.h"
#include "openrdu/arch/file.h"
#include "openrdu/arch/printable.h"
#include "openrdu/compiler/compiler.h"

namespace openrdu::compiler {

namespace {

constexpr char kLocation[] = "pef:WEIGHTS";

void add_entry(onnx::TensorProto& t, const char* key, const std::string& value) {
  auto* e = t.add_external_data();
  e->set_key(key);
  e->set_value(value);
}

// The initializer's fp32 data as bytes (a view), when it holds fp32 data in the model.
bool fp32_bytes(const onnx::TensorProto& t, std::string_view& out) {
  if (t.data_type() != onnx::TensorProto::FLOAT || t.data_location() == onnx::TensorProto::EXTERNAL) return false;
  if (t.has_raw_data())
    out = t.raw_data();
  else
    out = std::string_view(reinterpret_cast<const char*>(t.float_data().data()), size_t(t.float_data_size()) * 4);
  return true;
}

// fp32 data of shape [batch, rows, cols] with its last two dimensions swapped.
std::string swap_last_two(const std::string& data, uint64_t rows, uint64_t cols) {
  std::string out(data.size(), '\0');
  const uint64_t plane = rows * cols;
  for (uint64_t b = 0; b < data.size() / 4 / std::max<uint64_t>(plane, 1); ++b)
    for (uint64_t r = 0; r < rows; ++r)
      for (uint64_t c = 0; c < cols; ++c)
        std::memcpy(&out[4 * (b * plane + c * rows + r)], &data[4 * (b * plane + r * cols + c)], 4);
  return out;
}

// The last two dimensions of an initializer of rank >= 2 (rows, cols).
bool last_two(const onnx::TensorProto& t, uint64_t& rows, uint64_t& cols) {
  if (t.dims_size() < 2 || t.dims(t.dims_size() - 2) < 0 || t.dims(t.dims_size() - 1) < 0) return false;
  rows = uint64_t(t.dims(t.dims_size() - 2));
  cols = uint64_t(t.dims(t.dims_size() - 1));
  return true;
}

// Gives fn each 32-bit word of weight `w` in the initializer's C order: as stored, or
// (transposed: [batch, cols, rows] in WEIGHTS) with the last two dimensions swapped back.
// Stops at the first word fn refuses; true when fn took them all.
template <class Fn>
bool words_in_order(const pef::Pef& pef, const pef::Tensor& w, bool transposed, uint64_t rows, uint64_t cols, Fn fn) {
  const uint8_t* base = pef.weights.data() + w.weight_offset;
  auto word = [&](uint64_t i) {
    uint32_t v;
    std::memcpy(&v, base + 4 * i, 4);
    return v;
  };
  const uint64_t n = w.bytes / 4;
  if (!transposed) {
    for (uint64_t i = 0; i < n; ++i)
      if (!fn(word(i))) return false;
    return true;
  }
  const uint64_t plane = rows * cols;
  for (uint64_t b = 0; plane && b < n / plane; ++b)
    for (uint64_t r = 0; r < rows; ++r)
      for (uint64_t c = 0; c < cols; ++c)
        if (!fn(word(b * plane + c * rows + r))) return false;
  return true;
}

// Where the initializer's data is in WEIGHTS: under its own name, or transposed (the last
// two dimensions swapped, as lower_graph.cc stores a MatMul/Gemm operand as "<name>.T").
// same(w, transposed, rows, cols): whether WEIGHTS holds the initializer's data there.
template <class Same>
const pef::Tensor* find_weight(const onnx::TensorProto& init, uint64_t bytes,
                               const std::map<std::string, const pef::Tensor*>& weights, bool& transposed, Same same) {
  transposed = false;
  if (auto w = weights.find(init.name()); w != weights.end() && w->second->bytes == bytes && same(*w->second, false, 0, 0))
    return w->second;
  uint64_t rows = 0, cols = 0;
  auto wt = weights.find(init.name() + ".T");
  if (wt == weights.end() || !last_two(init, rows, cols) || wt->second->bytes != bytes) return nullptr;
  transposed = true;
  return same(*wt->second, true, rows, cols) ? wt->second : nullptr;
}

std::map<std::string, const pef::Tensor*> weight_tensors(const pef::Pef& pef) {
  std::map<std::string, const pef::Tensor*> weights;
  for (const auto& t : pef.tensors)
    if (t.role == pef::Role::Weight) weights[t.name] = &t;
  return weights;
}

// The initializer, its data dropped, refers to weight `w` in WEIGHTS.
void refer_to_weights(onnx::TensorProto& init, const pef::Tensor& w, bool transposed) {
  delete init.release_raw_data();
  init.clear_float_data();
  init.set_data_location(onnx::TensorProto::EXTERNAL);
  add_entry(init, "location", kLocation);
  add_entry(init, "offset", std::to_string(w.weight_offset));
  add_entry(init, "length", std::to_string(w.bytes));
  if (transposed) add_entry(init, "layout", "T");  // WEIGHTS holds it with the last two dimensions swapped
}

std::vector<uint8_t> serialized(const onnx::ModelProto& model) {
  const std::string out = model.SerializeAsString();
  return std::vector<uint8_t>(out.begin(), out.end());
}

}  // namespace

std::vector<uint8_t> graph_section(const std::vector<uint8_t>& onnx_bytes, const pef::Pef& pef) {
  onnx::ModelProto model;
  if (!model.ParseFromArray(onnx_bytes.data(), int(onnx_bytes.size()))) return onnx_bytes;
  const auto weights = weight_tensors(pef);
  for (auto& init : *model.mutable_graph()->mutable_initializer()) {
    std::string_view data;
    if (!fp32_bytes(init, data)) continue;
    bool transposed = false;
    const pef::Tensor* w = find_weight(init, data.size(), weights, transposed,
                                       [&](const pef::Tensor& t, bool tr, uint64_t rows, uint64_t cols) {
                                         uint64_t i = 0;
                                         return words_in_order(pef, t, tr, rows, cols, [&](uint32_t v) {
                                           return std::memcmp(&v, data.data() + 4 * i++, 4) == 0;
                                         });
                                       });
    if (w) refer_to_weights(init, *w, transposed);
  }
  return serialized(model);
}

std::optional<std::vector<uint8_t>> graph_section(const OnnxSource& src, const pef::Pef& pef) {
  onnx::ModelProto model;
  if (!model.ParseFromString(src.model)) return std::nullopt;
  const auto weights = weight_tensors(pef);
  for (auto& init : *model.mutable_graph()->mutable_initializer()) {
    const auto d = src.fp32.find(init.name());
    if (d == src.fp32.end()) continue;  // kept with its data
    bool transposed = false;
    const pef::Tensor* w = find_weight(init, d->second.second, weights, transposed,
                                       [&](const pef::Tensor& t, bool tr, uint64_t rows, uint64_t cols) {
                                         Fp32Digest h;
                                         words_in_order(pef, t, tr, rows, cols, [&](uint32_t v) { return h.add(v), true; });
                                         return h.value() == d->second.first;
                                       });
    if (!w) return std::nullopt;
    refer_to_weights(init, *w, transposed);
  }
  return serialized(model);
}

std::vector<uint8_t> graph_section_of_file(const OnnxSource& src, const std::string& path, const pef::Pef& pef) {
  if (auto g = graph_section(src, pef)) return std::move(*g);
  return graph_section(arch::read_file_capped(path, uint64_t(2) << 30), pef);
}

std::string graph_model_bytes(const pef::Pef& pef, const std::string& source_name) {
  onnx::ModelProto model;
  if (!model.ParseFromArray(pef.graph.data(), int(pef.graph.size())))
    return std::string(pef.graph.begin(), pef.graph.end());
  for (auto& init : *model.mutable_graph()->mutable_initializer()) {
    if (init.data_location() != onnx::TensorProto::EXTERNAL) continue;
    std::map<std::string, std::string> kv;
    for (const auto& e : init.external_data()) kv[e.key()] = e.value();
    if (kv["location"] != kLocation) continue;  // other external data: the importer refuses it
    const std::string what =
        fmt::format("{}: GRAPH initializer '{}'", source_name, arch::printable(init.name()));
    uint64_t offset = 0, length = 0, end = 0;
    try {
      size_t used_o = 0, used_l = 0;
      offset = std::stoull(kv["offset"], &used_o);
      length = std::stoull(kv["length"], &used_l);
      if (used_o != kv["offset"].size() || used_l != kv["length"].size()) throw std::invalid_argument("");
    } catch (const std::exception&) {
      throw CompileError(fmt::format("{}: external data offset '{}' and length '{}' are not numbers", what,
                                     arch::printable(kv["offset"]), arch::printable(kv["length"])));
    }
    if (!arch::checked_add(offset, length, end) || end > pef.weights.size())
      throw CompileError(fmt::format("{}: external data [{}, +{}) lies outside the {}-byte WEIGHTS section", what,
                                     offset, length, pef.weights.size()));
    const arch::ShapeSize size = arch::shape_size_of(init.dims(), 4);
    if (!size.ok() || size.bytes != length)
      throw CompileError(fmt::format("{}: external data of {} bytes, its shape needs {}", what, length,
                                     size.ok() ? std::to_string(size.bytes) : size.error));
    init.set_raw_data(pef.weights.data() + offset, length);
    uint64_t rows = 0, cols = 0;
    if (kv["layout"] == "T") {
      if (!last_two(init, rows, cols))
        throw CompileError(fmt::format("{}: layout T needs a rank of 2 or more", what));
      init.set_raw_data(swap_last_two(init.raw_data(), cols, rows));  // stored [..., cols, rows]
    }
    init.clear_external_data();
    init.set_data_location(onnx::TensorProto::DEFAULT);
  }
  return model.SerializeAsString();
}

}  // namespace openrdu::compiler
