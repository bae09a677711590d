// Helpers of the compiler tests: build ONNX models in memory, compare fp32 data, read
// .npy files, the tiny and small configurations.
#pragma once
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

#include "openrdu/compiler/compiler.h"

namespace openrdu::compiler::test {

// The seed of a randomized test: OPENRDU_SEED, else `fallback`; printed, to replay a failure.
inline uint32_t seed(uint32_t fallback = 20261122u) {
  const char* s = std::getenv("OPENRDU_SEED");
  const uint32_t v = s ? uint32_t(std::strtoul(s, nullptr, 0)) : fallback;
  std::printf("OPENRDU_SEED=%u\n", v);
  return v;
}

// The element count of a shape.
inline int64_t numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

inline std::string node_dir(const std::string& test) { return std::string(ONNX_NODE_DATA) + "/" + test; }

// A scratch directory of this test process (several builds may run the tests at once).
inline std::filesystem::path scratch_dir() {
  struct Dir {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("openrdu_compiler_tests." + std::to_string(::getpid()));
    Dir() { std::filesystem::create_directories(path); }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir dir;  // removed at exit
  return dir.path;
}

class ModelBuilder {
 public:
  explicit ModelBuilder(int opset = 14) {
    m_.set_ir_version(8);
    auto* os = m_.add_opset_import();
    os->set_domain("");
    os->set_version(opset);
    m_.mutable_graph()->set_name("g");
  }
  static void set_type(onnx::ValueInfoProto* vi, const std::vector<int64_t>& shape,
                       int elem = onnx::TensorProto::FLOAT) {
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    auto* sh = tt->mutable_shape();
    for (int64_t d : shape) sh->add_dim()->set_dim_value(d);
  }
  onnx::ValueInfoProto* input(const std::string& name, const std::vector<int64_t>& shape,
                              int elem = onnx::TensorProto::FLOAT) {
    auto* vi = m_.mutable_graph()->add_input();
    vi->set_name(name);
    set_type(vi, shape, elem);
    return vi;
  }
  onnx::ValueInfoProto* output(const std::string& name, const std::vector<int64_t>& shape = {},
                               bool with_shape = false) {
    auto* vi = m_.mutable_graph()->add_output();
    vi->set_name(name);
    if (with_shape)
      set_type(vi, shape);
    else
      vi->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    return vi;
  }
  void init(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& data,
            bool raw = true) {
    auto* t = m_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : shape) t->add_dims(d);
    if (raw)
      t->set_raw_data(std::string(reinterpret_cast<const char*>(data.data()), data.size() * 4));
    else
      for (float f : data) t->add_float_data(f);
  }
  onnx::NodeProto* node(const std::string& op, std::initializer_list<std::string> ins,
                        std::initializer_list<std::string> outs, const std::string& name = "") {
    auto* n = m_.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const auto& i : ins) n->add_input(i);
    for (const auto& o : outs) n->add_output(o);
    return n;
  }
  std::string bytes() const { return m_.SerializeAsString(); }
  // Write to a file in the test's temporary directory; returns the path.
  std::string save(const std::string& file) const {
    const std::string path = (scratch_dir() / file).string();
    std::ofstream f(path, std::ios::binary);
    f << bytes();
    return path;
  }
  onnx::ModelProto& proto() { return m_; }

 private:
  onnx::ModelProto m_;
};

// An INT / INTS attribute on a node of a ModelBuilder model.
inline void set_int(onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
inline void set_ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

inline void set_float(onnx::NodeProto* n, const std::string& name, float v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

// An INT64 initializer (int64_data) of a ModelBuilder model: of `shape`, or 1-D.
inline void init_i64(ModelBuilder& b, const std::string& name, const std::vector<int64_t>& shape,
                     const std::vector<int64_t>& v) {
  auto* t = b.proto().mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  for (int64_t d : shape) t->add_dims(d);
  for (int64_t x : v) t->add_int64_data(x);
}
inline void init_i64(ModelBuilder& b, const std::string& name, const std::vector<int64_t>& v) {
  init_i64(b, name, {int64_t(v.size())}, v);
}

inline uint32_t bits(float f) { return std::bit_cast<uint32_t>(f); }

// Bit-exact equality, any NaN equal to any NaN.
inline bool same_f32(float a, float b) { return (std::isnan(a) && std::isnan(b)) || bits(a) == bits(b); }

// The message of the CompileError f throws, "<no CompileError>" when it throws none.
inline std::string compile_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const CompileError& e) {
    return e.what();
  }
  return "<no CompileError>";
}

// got equals want bit for bit (any NaN equal to any NaN); a mismatch names the element.
inline void expect_bits(const HostTensor& got, const HostTensor& want, const std::string& what) {
  ASSERT_EQ(got.shape, want.shape) << what;
  ASSERT_EQ(got.data.size(), want.data.size()) << what;
  for (size_t i = 0; i < want.data.size(); ++i)
    ASSERT_TRUE(same_f32(got.data[i], want.data[i]))
        << what << ": element " << i << ": got 0x" << std::hex << bits(got.data[i]) << " (" << got.data[i]
        << "), expected 0x" << bits(want.data[i]) << " (" << want.data[i] << ")";
}

inline const arch::Config& tiny() {
  static const arch::Config c = arch::load_config("tiny");
  return c;
}
inline const arch::Config& small() {
  static const arch::Config c = arch::load_config("small");
  return c;
}

// Minimal .npy (format 1.0, '<f4', C order) reader for the examples' inputs and outputs.
inline HostTensor load_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open");
  char magic[8];
  f.read(magic, 8);
  if (std::memcmp(magic, "\x93NUMPY\x01\x00", 8) != 0) throw std::runtime_error(path + ": not .npy 1.0");
  uint8_t len[2];
  f.read(reinterpret_cast<char*>(len), 2);
  std::string header(len[0] | (len[1] << 8), ' ');
  f.read(header.data(), header.size());
  if (header.find("'descr': '<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos)
    throw std::runtime_error(path + ": not little-endian fp32 in C order: " + header);
  HostTensor t;
  const auto open = header.find("'shape': (") + 10, close = header.find(')', open);
  std::string dims = header.substr(open, close - open);
  for (size_t p = 0; p < dims.size();) {
    const size_t q = dims.find(',', p);
    const std::string d = dims.substr(p, q == std::string::npos ? std::string::npos : q - p);
    if (d.find_first_of("0123456789") != std::string::npos) t.shape.push_back(std::stoll(d));
    if (q == std::string::npos) break;
    p = q + 1;
  }
  int64_t n = 1;
  for (int64_t d : t.shape) n *= d;
  t.data.resize(n);
  f.read(reinterpret_cast<char*>(t.data.data()), 4 * n);
  if (!f) throw std::runtime_error(path + ": truncated data");
  return t;
}

}  // namespace openrdu::compiler::test
