// Hostile input to the front ends (issue 24): sizes that wrap or are implausible, the
// fold budget, names with control characters, files that are not files. Each case must
// end in one CompileError naming the file and the tensor, node or field, quickly and
// without allocating what the input asks for.
#include <gmock/gmock.h>
#include <cstring>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <optional>

#include "openrdu/arch/config.h"
#include "openrdu/compiler/fold_limit.h"
#include "openrdu/arch/file.h"
#include "openrdu/compiler/graph_section.h"
#include "openrdu/pef/pef.h"
#include "openrdu/compiler/ir.h"
#include "onnx_wire.h"
#include "test_util.h"

namespace openrdu::compiler {
namespace {

using test::ModelBuilder;
using ::testing::AllOf;
using namespace std::string_literals;
using ::testing::HasSubstr;
using ::testing::Not;

const auto error_of = test::compile_error_of;

// x [4] + w, w an fp32 initializer of `dims` with the given raw bytes.
std::string add_with_initializer(const std::vector<int64_t>& dims, const std::string& raw,
                                 int type = onnx::TensorProto::FLOAT) {
  ModelBuilder m;
  m.input("x", {4});
  auto* t = m.proto().mutable_graph()->add_initializer();
  t->set_name("w");
  t->set_data_type(type);
  for (int64_t d : dims) t->add_dims(d);
  t->set_raw_data(raw);
  m.node(type == onnx::TensorProto::FLOAT ? "Add" : "Reshape", {"x", "w"}, {"y"}, "n");
  m.output("y");
  return m.bytes();
}

// The segfault of the probe: dims [2^62] times 4 bytes wraps to 0, the length of no data.
TEST(Hostile, InitializerElementCountWraps) {
  const int64_t big = int64_t(1) << 62;
  EXPECT_THAT(error_of([&] { import_onnx_bytes(add_with_initializer({big}, ""), "m.onnx"); }),
              AllOf(HasSubstr("m.onnx: initializer 'w'"), HasSubstr("overflows 64 bits")));
  EXPECT_THAT(error_of([&] { import_onnx_bytes(add_with_initializer({big, 4}, ""), "m.onnx"); }),
              AllOf(HasSubstr("initializer 'w'"), HasSubstr("overflows")));
  // int64 (8 bytes per element): 2^61 * 8 wraps too.
  EXPECT_THAT(error_of([&] {
                import_onnx_bytes(add_with_initializer({int64_t(1) << 61}, "", onnx::TensorProto::INT64), "m.onnx");
              }),
              AllOf(HasSubstr("initializer 'w'"), HasSubstr("overflows")));
  // Plausible but huge (1 TiB and more): refused before any allocation.
  EXPECT_THAT(error_of([&] { import_onnx_bytes(add_with_initializer({int64_t(1) << 40}, ""), "m.onnx"); }),
              AllOf(HasSubstr("initializer 'w'"), HasSubstr("exceed the limit")));
}

TEST(Hostile, GraphInputElementCountOverflows) {
  for (const auto& shape : {std::vector<int64_t>{int64_t(1) << 62, 4}, std::vector<int64_t>{int64_t(1) << 32,
                                                                                             int64_t(1) << 32}}) {
    ModelBuilder m;
    m.input("x", shape);
    m.node("Relu", {"x"}, {"y"}, "r");
    m.output("y");
    EXPECT_THAT(error_of([&] { import_onnx_bytes(m.bytes(), "m.onnx"); }),
                AllOf(HasSubstr("m.onnx: input 'x'"), HasSubstr("overflows 64 bits")));
  }
}

// A Reshape whose shape constant's sizes multiply past 64 bits (found by fuzz.onnx.smoke:
// signed overflow in the -1 inference): an error naming the node, no undefined behaviour.
TEST(Hostile, ReshapeShapeProductOverflows) {
  const int64_t big = 1945555039024054271;
  std::string raw(16, '\0');
  const int64_t dims[2] = {16, big};
  std::memcpy(raw.data(), dims, 16);
  EXPECT_THAT(error_of([&] { import_onnx_bytes(add_with_initializer({2}, raw, onnx::TensorProto::INT64), "m.onnx"); }),
              AllOf(HasSubstr("node 'n' (Reshape)"), HasSubstr("has too many elements")));
}

// ConstantOfShape [1, 2^29]: 2 GiB asked by a 100-byte model; refused by the fold limit,
// naming the node, with no allocation (the test would take seconds and 2 GiB otherwise).
std::string constant_of_shape_model(const std::vector<int64_t>& shape, bool matmul) {
  ModelBuilder m;
  auto* s = m.proto().mutable_graph()->add_initializer();
  s->set_name("s");
  s->set_data_type(onnx::TensorProto::INT64);
  s->add_dims(int64_t(shape.size()));
  for (int64_t d : shape) s->add_int64_data(d);
  m.input("x", shape);
  m.node("ConstantOfShape", {"s"}, {"a"}, "cos_a");
  if (matmul) {
    m.node("ConstantOfShape", {"s"}, {"b"}, "cos_b");
    m.node("MatMul", {"a", "b"}, {"c"}, "mm");
    m.node("Add", {"x", "c"}, {"y"}, "add");
  } else {
    m.node("Add", {"x", "a"}, {"y"}, "add");
  }
  m.output("y");
  return m.bytes();
}

TEST(Hostile, FoldLimitNamesTheNode) {
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THAT(error_of([&] { import_onnx_bytes(constant_of_shape_model({1, int64_t(1) << 29}, false), "m.onnx"); }),
              AllOf(HasSubstr("m.onnx: node 'cos_a' (ConstantOfShape)"), HasSubstr("2147483648-byte constant"),
                    HasSubstr("fold limit of 67108864 bytes")));
  // A MatMul of two [4096, 4096] constants (each within the limit): 4096^3 multiply-adds
  // and the 2 x 4096^2 input elements.
  EXPECT_THAT(error_of([&] { import_onnx_bytes(constant_of_shape_model({4096, 4096}, true), "m.onnx"); }),
              AllOf(HasSubstr("node 'mm' (MatMul)"), HasSubstr("68753031168 operations"), HasSubstr("fold budget")));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  // The limit is settable (sncompile --fold-limit): a [1, 2^20] constant folds under 8 MiB, not under 1 MiB.
  set_fold_limit(uint64_t(8) << 20);
  EXPECT_NO_THROW(import_onnx_bytes(constant_of_shape_model({1, int64_t(1) << 20}, false), "m.onnx"));
  set_fold_limit(uint64_t(1) << 20);
  EXPECT_THAT(error_of([&] { import_onnx_bytes(constant_of_shape_model({1, int64_t(1) << 20}, false), "m.onnx"); }),
              HasSubstr("over the fold limit of 1048576 bytes"));
  set_fold_limit(kDefaultFoldLimitBytes);
}

TEST(Hostile, YamlConstantElementCountWraps) {
  const std::string yaml =
      "inputs:\n  - {name: x, shape: [4]}\nconstants:\n"
      "  - {name: w, shape: [4611686018427387904, 4], fill: 1.0}\n"
      "nodes:\n  - {op: Add, inputs: [x, w], outputs: [y]}\noutputs:\n  - {name: y}\n";
  EXPECT_THAT(error_of([&] { load_yaml_string(yaml, "g.yaml"); }),
              AllOf(HasSubstr("g.yaml:4"), HasSubstr("'w'"), HasSubstr("overflows 64 bits")));
  const std::string big_input =
      "inputs:\n  - {name: x, shape: [4294967296, 4294967296]}\n"
      "nodes:\n  - {op: Relu, inputs: [x], outputs: [y]}\noutputs:\n  - {name: y}\n";
  EXPECT_THAT(error_of([&] { load_yaml_string(big_input, "g.yaml"); }),
              AllOf(HasSubstr("g.yaml:2"), HasSubstr("input 'x'"), HasSubstr("overflows")));
}

TEST(Hostile, NamesWithControlCharactersAreRefusedEscaped) {
  ModelBuilder m;
  m.input("x\nwith\nlines\0nul"s, {4});
  m.node("Relu", {"x\nwith\nlines\0nul"s}, {"y"}, "r");
  m.output("y");
  const std::string e = error_of([&] { import_onnx_bytes(m.bytes(), "m.onnx"); });
  EXPECT_THAT(e, AllOf(HasSubstr("m.onnx: input name 'x\\nwith\\nlines\\0nul'"), HasSubstr("control character")));
  EXPECT_EQ(e.find('\n'), std::string::npos);
}

TEST(Hostile, FilesThatAreNotModels) {
  EXPECT_THAT(error_of([&] { import_onnx_file("/"); }), HasSubstr("/: is a directory, not a file"));
  EXPECT_THAT(error_of([&] { load_graph_file("/tmp/"); }), HasSubstr("is a directory"));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THAT(error_of([&] { load_yaml_graph("/dev/zero"); }), HasSubstr("/dev/zero: more than the"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
}

// The probe's 537 MB model made a 1.07 GB PEF: weights in WEIGHTS and again in GRAPH.
// Now GRAPH refers to WEIGHTS, and the reference rebuilt from it is the same model.
TEST(Hostile, WeightsAreStoredOnceInThePef) {
  const std::string model = std::string(OPENRDU_EXAMPLES_DIR) + "/digits/model.onnx";
  const pef::Pef p = compile_onnx_file(model, arch::load_config("tiny"));
  const auto file_bytes = std::filesystem::file_size(model);
  ASSERT_EQ(p.weights.size(), 4u * (32 * 64 + 32 + 10 * 32 + 10));  // both layers, stored once
  EXPECT_LT(p.graph.size(), file_bytes - p.weights.size() + 1024) << "GRAPH still holds the weights";
  EXPECT_LT(pef::serialize(p).size(), file_bytes + 64 * 1024);
  // The GRAPH's model with the data filled in gives the reference of the original file.
  const Graph g = import_onnx_bytes(graph_model_bytes(p, "t.pef"), "GRAPH");
  std::map<std::string, HostTensor> in;
  in["x"] = {{1, 64}, std::vector<float>(64)};
  for (size_t i = 0; i < 64; ++i) in["x"].data[i] = float(i % 17);
  const auto want = reference_run(model, in), got = reference_run(g, in);
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [name, t] : want) EXPECT_EQ(got.at(name).data, t.data) << name;
  // A reference outside WEIGHTS is an error naming the initializer.
  pef::Pef bad = p;
  bad.weights.resize(16);
  EXPECT_THAT(error_of([&] { graph_model_bytes(bad, "t.pef"); }),
              AllOf(HasSubstr("t.pef: GRAPH initializer '"), HasSubstr("outside the 16-byte WEIGHTS section")));
}

// GRAPH from the model as imported (no second read of the file, its fp32 data matched to
// WEIGHTS by digest) is the GRAPH made from the file's bytes; data that WEIGHTS does not
// hold unchanged is not matched, so the file is read for it.
TEST(Hostile, GraphFromTheImportedModelEqualsTheOneFromTheFile) {
  const std::string model = std::string(OPENRDU_EXAMPLES_DIR) + "/digits/model.onnx";
  OnnxSource src;
  ImportOptions io;
  io.source = &src;
  pef::Pef p = compile_graph(import_onnx_file(model, io), arch::load_config("tiny"));
  EXPECT_EQ(src.fp32.size(), 4u);  // two layers' weights and biases
  const auto from_source = graph_section(src, p);
  ASSERT_TRUE(from_source.has_value());
  EXPECT_EQ(*from_source, graph_section(arch::read_file_capped(model, 1 << 20), p));
  EXPECT_EQ(graph_section_of_file(src, model, p), *from_source);
  p.weights[p.weights.size() - 1] ^= 1;  // the last weight's data now differs from the model's
  EXPECT_FALSE(graph_section(src, p).has_value());
}

// The importer reads a regular file's large raw_data itself (detail::strip_raw_data) and
// gives protobuf the rest: the parsed model must be the one protobuf parses from the same
// bytes, or the scan must decline (protobuf then parses the file).
std::string wire_varint(uint64_t v) {
  std::string out;
  for (; v >= 0x80; v >>= 7) out.push_back(char(0x80 | (v & 0x7f)));
  out.push_back(char(v));
  return out;
}
std::string wire_field(uint64_t field, const std::string& payload) {  // length-delimited
  return wire_varint(field << 3 | 2) + wire_varint(payload.size()) + payload;
}
// `size`: the size the scan is told (the bytes' own by default).
std::optional<detail::StrippedModel> strip_bytes(const std::string& bytes, size_t min_payload,
                                                 std::optional<uint64_t> size = {}) {
  size_t at = 0;
  const detail::WireRead read = [&](char* p, size_t n) {
    const size_t k = std::min(n, bytes.size() - at);
    std::memcpy(p, bytes.data() + at, k);
    at += k;
    return k;
  };
  return detail::strip_raw_data(read, size.value_or(bytes.size()), min_payload);
}

TEST(Hostile, StrippedRawDataParsesAsProtobufParsesTheFile) {
  const std::string big(5000, 'b'), small(8, 's'), other(6000, 'o');
  const std::string base = add_with_initializer({4}, std::string(16, '\1'));
  auto tensor = [](const std::string& name, const std::vector<std::string>& raws) {
    onnx::TensorProto t;
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::FLOAT);
    std::string b = t.SerializeAsString();
    for (const auto& r : raws) b += wire_field(9, r);  // raw_data, possibly repeated: the last counts
    return b;
  };
  const std::vector<std::string> models = {
      base,
      base + wire_field(7, wire_field(5, tensor("v", {big}))),  // a second graph field: merged
      base + wire_field(7, wire_field(5, tensor("v", {big, small}))),
      base + wire_field(7, wire_field(5, tensor("v", {small, big}))),
      base + wire_field(7, wire_field(5, tensor("v", {big, other})) + wire_field(5, tensor("u", {other}))),
      // unknown fields of each wire type beside raw_data: varint, fixed64, fixed32, bytes
      base + wire_field(7, wire_field(5, tensor("v", {big}) + wire_varint(99 << 3) + wire_varint(300) +
                                             wire_varint(98 << 3 | 1) + std::string(8, 'x') +
                                             wire_varint(97 << 3 | 5) + std::string(4, 'y') + wire_field(96, big))),
      base + wire_field(9, big),  // raw_data's number outside a tensor: copied
      "", wire_varint(1 << 3) + wire_varint(8),  // no graph (found by fuzz.onnx.smoke: it got one)
  };
  const std::vector<size_t> taken = {0, 1, 0, 1, 2, 1, 0, 0, 0};  // payloads of 100 bytes or more, the last of each tensor
  for (size_t i = 0; i < models.size(); ++i) {
    onnx::ModelProto want;
    ASSERT_TRUE(want.ParseFromString(models[i])) << i;
    auto s = strip_bytes(models[i], 100);
    ASSERT_TRUE(s.has_value()) << i;
    EXPECT_EQ(s->raw_data.size(), taken[i]) << i;
    onnx::ModelProto got;
    ASSERT_TRUE(detail::parse_stripped(got, std::move(*s))) << i;
    EXPECT_EQ(got.SerializeAsString(), want.SerializeAsString()) << i;
  }
  // What the scan does not follow is left to protobuf: a group, a truncated field, field
  // number 0, wire type 7, trailing bytes beyond the size given.
  const std::string group = wire_varint(95 << 3 | 3) + wire_varint(95 << 3 | 4);
  for (const std::string& m : {base + wire_field(7, wire_field(5, tensor("v", {big}) + group)),
                               base.substr(0, base.size() - 3), base + wire_varint(0), base + wire_varint(9 << 3 | 7)})
    EXPECT_FALSE(strip_bytes(m, 1).has_value());
  EXPECT_FALSE(strip_bytes(base, 1, base.size() - 1).has_value());
  EXPECT_FALSE(strip_bytes(base, 1, base.size() + 1).has_value());
}

// The file's path gives the model and the errors that the bytes' path gives.
TEST(Hostile, FileImportEqualsBytesImport) {
  std::vector<float> w(1024 * 8);
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(i) * 0.5f - 7.0f;
  auto matmul = [&](bool with_w) {
    ModelBuilder m;
    m.input("x", {1, 1024});
    if (with_w) m.init("w", {1024, 8}, w);
    m.node("MatMul", {"x", "w"}, {"y"}, "mm");
    m.output("y");
    return m.bytes();
  };
  const std::string dir = (test::scratch_dir() / "").string();
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir + name, std::ios::binary) << bytes;
    return dir + name;
  };
  const std::string whole = matmul(true);
  const Graph from_file = import_onnx_file(write("stripped.onnx", whole));
  const Graph from_bytes = import_onnx_bytes(whole, "stripped.onnx");
  ASSERT_GE(from_file.find("w"), 0);
  EXPECT_EQ(from_file.tensors[from_file.find("w")].data, w);
  EXPECT_EQ(from_bytes.tensors[from_bytes.find("w")].data, w);
  // A truncated model: protobuf's error, as from the bytes.
  const std::string cut = whole.substr(0, whole.size() - 5);
  EXPECT_EQ(error_of([&] { import_onnx_file(write("cut.onnx", cut)); }),
            error_of([&] { import_onnx_bytes(cut, dir + "cut.onnx"); }));
  EXPECT_THAT(error_of([&] { import_onnx_file(write("cut.onnx", cut)); }), HasSubstr("protobuf parse failed"));
  EXPECT_EQ(error_of([&] { import_onnx_file(write("empty.onnx", "")); }),
            error_of([&] { import_onnx_bytes("", dir + "empty.onnx"); }));
  EXPECT_THAT(error_of([&] { import_onnx_file(write("empty.onnx", "")); }), HasSubstr("(no graph)"));
  // w in a second graph field: with a group beside its raw_data (the scan declines, protobuf
  // reads the file and keeps the group as an unknown field), with raw_data of a wrong size.
  onnx::TensorProto t;
  t.set_name("w");
  t.set_data_type(onnx::TensorProto::FLOAT);
  t.add_dims(1024);
  t.add_dims(8);
  const std::string raw(reinterpret_cast<const char*>(w.data()), 4 * w.size());
  const std::string group = wire_varint(95 << 3 | 3) + wire_varint(95 << 3 | 4);
  const std::string grouped = matmul(false) + wire_field(7, wire_field(5, t.SerializeAsString() + wire_field(9, raw) + group));
  const Graph g = import_onnx_file(write("group.onnx", grouped));
  EXPECT_EQ(g.tensors[g.find("w")].data, w);
  const std::string short_raw = matmul(false) + wire_field(7, wire_field(5, t.SerializeAsString() + wire_field(9, raw.substr(4))));
  EXPECT_THAT(error_of([&] { import_onnx_file(write("short.onnx", short_raw)); }),
              HasSubstr("initializer 'w': raw_data holds 32764 bytes, 8192 elements need 32768"));
}

}  // namespace
}  // namespace openrdu::compiler
