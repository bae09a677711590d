// e2e_hostile_inputs DIR: writes the malformed inputs of the hostile-input CLI tests
// (hostile_test.sh, issue 24) into DIR. Each stands for one class of defect the probe
// found: sizes that wrap, constant folding without bound, names with control characters,
// bitstreams whose AGCU count or switch selects are corrupted (CRCs valid), weights
// holding Inf.
#include <cstdio>
#include <functional>
#include <limits>

#include "openrdu/arch/bitstream.h"
#include "openrdu/arch/config.h"
#include "openrdu/compiler/compiler.h"
#include "openrdu/pef/pef.h"
#include "test_util.h"  // compiler/tests: ModelBuilder

using namespace openrdu;
using compiler::test::ModelBuilder;

namespace {

void save(const ModelBuilder& m, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error(path + ": cannot write");
  const std::string b = m.bytes();
  std::fwrite(b.data(), 1, b.size(), f);
  std::fclose(f);
}

void onnx_models(const std::string& dir) {
  {  // dims [2^62] with no data: 4 * 2^62 wraps to 0 bytes (the probe's segfault)
    ModelBuilder m;
    m.input("x", {4});
    auto* t = m.proto().mutable_graph()->add_initializer();
    t->set_name("w");
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_dims(int64_t(1) << 62);
    t->set_raw_data("");
    m.node("Add", {"x", "w"}, {"y"}, "add");
    m.output("y");
    save(m, dir + "/wrap_init.onnx");
  }
  {  // a graph input of 2^62 x 4 elements
    ModelBuilder m;
    m.input("x", {int64_t(1) << 62, 4});
    m.node("Relu", {"x"}, {"y"}, "relu");
    m.output("y");
    save(m, dir + "/wrap_input.onnx");
  }
  {  // ConstantOfShape [1, 2^29]: 2 GiB from 100 bytes
    ModelBuilder m;
    compiler::test::init_i64(m, "s", {1, int64_t(1) << 29});
    m.input("x", {1, 1});
    m.node("ConstantOfShape", {"s"}, {"c"}, "cos");
    m.node("Add", {"x", "c"}, {"y"}, "add");
    m.output("y");
    save(m, dir + "/cos_big.onnx");
  }
  {  // an input name holding a newline
    ModelBuilder m;
    m.input("x\nline2\nline3", {4});
    m.node("Relu", {"x\nline2\nline3"}, {"y"}, "relu");
    m.output("y");
    save(m, dir + "/ctrl_name.onnx");
  }
  {  // y = x + w, w holding +Inf and -Inf: device and reference both give infinities
    ModelBuilder m;
    m.input("x", {8});
    const float inf = std::numeric_limits<float>::infinity();
    m.init("w", {8}, {inf, -inf, 1, 2, inf, 0, -inf, 3});
    m.node("Add", {"x", "w"}, {"y"}, "add");
    m.output("y");
    save(m, dir + "/inf_weights.onnx");
  }
}

// The model compiled for tiny, each unit's configuration words changed by `edit`, the
// bitstream reassembled (its CRC and the PEF's valid), written to DIR/NAME.
void corrupt_pef(const std::string& dir, const std::string& model, const std::string& name,
                 const std::function<void(const arch::Config&, uint32_t, std::vector<uint32_t>&)>& edit) {
  const arch::Config cfg = arch::load_config("tiny");
  pef::Pef p = compiler::compile_model_file(model, cfg);
  for (auto& s : p.sections) {
    const auto words = arch::parse_bitstream(cfg, s.bitstream);
    arch::UnitWords units;
    for (uint32_t id = 0; id < words.size(); ++id) {
      bool used = false;
      for (uint32_t w : words[id]) used |= w != 0;
      if (!used) continue;
      units[id] = words[id];
      edit(cfg, id, units[id]);
    }
    s.bitstream = arch::assemble_bitstream(cfg, units);
  }
  pef::write_file(p, dir + "/" + name);
}

void corrupt_pefs(const std::string& dir, const std::string& model) {
  // Every AGCU load stream's outer count 2^32 - 1 at stride 0: endless reads of the same data.
  corrupt_pef(dir, model, "corrupt_agcu.pef", [](const arch::Config& cfg, uint32_t id, std::vector<uint32_t>& w) {
    if (cfg.unit_kind(id) != arch::UnitKind::Agcu) return;
    arch::AgcuConfig a = arch::AgcuConfig::decode(w);
    for (auto& ld : a.ld)
      if (ld.enable) ld.c[3] = 0xFFFFFFFFu, ld.s[3] = 0;
    w = a.encode();
  });
  // Every used vector-network select of every switch set to 7 (inputs are 0..5): a broken
  // route, which the functional model used to report as "error NONE (no error)".
  corrupt_pef(dir, model, "corrupt_route.pef", [](const arch::Config& cfg, uint32_t id, std::vector<uint32_t>& w) {
    if (cfg.unit_kind(id) != arch::UnitKind::Switch) return;
    arch::SwitchConfig sw = arch::SwitchConfig::decode(w);
    for (auto& sel : sw.sel[arch::kVectorNet])
      if (sel != 0) sel = 7;
    w = sw.encode();
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: e2e_hostile_inputs DIR MODEL.onnx\n");
    return 2;
  }
  try {
    onnx_models(argv[1]);
    corrupt_pefs(argv[1], argv[2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "e2e_hostile_inputs: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
