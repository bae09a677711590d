// Programs compiled for tiles (sncompile --tiles N, `docs/hardware.md` ("Tiles")): the
// examples' elementwise model compiled for 1 tile of small and for 2 tiles of plasticine,
// relocated at load onto other tiles (runtime::SessionOptions::tiles) and run through
// TILE_CTRL on the functional model: outputs bit-exact to the same model compiled for
// the whole device. Relocation refusals are one clear error each.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "openrdu/arch/bitstream.h"
#include "openrdu/arch/relocate.h"
#include "openrdu/compiler/compiler.h"
#include "openrdu/driver/device.h"
#include "openrdu/runtime/session.h"

namespace openrdu {
namespace {

const std::string kModel = std::string(OPENRDU_EXAMPLES_DIR) + "/elementwise/model.onnx";

std::map<std::string, runtime::HostTensor> inputs_of(const pef::Pef& pef) {
  std::mt19937 rng(21);
  std::uniform_real_distribution<float> d(-4.f, 4.f);
  std::map<std::string, runtime::HostTensor> in;
  for (const auto& t : pef.tensors) {
    if (t.role != pef::Role::Input) continue;
    runtime::HostTensor h;
    h.shape = t.shape;
    h.data.resize(t.bytes / 4);
    for (auto& x : h.data) x = d(rng);
    in[t.name] = h;
  }
  return in;
}

// One device per test (one SystemC platform per process); the sessions take turns on it.
// protect_dram off: the whole-device session's windows would stay for the tiled ones.
std::map<std::string, runtime::HostTensor> run(driver::Device& dev, const arch::Config& cfg, const pef::Pef& pef,
                                               std::vector<uint32_t> tiles,
                                               const std::map<std::string, runtime::HostTensor>& in) {
  runtime::SessionOptions o;
  o.protect_dram = false;
  o.tiles = std::move(tiles);
  runtime::Session s(dev, cfg, o);
  s.load(pef);
  return s.run(in).outputs;
}

void expect_same(const std::map<std::string, runtime::HostTensor>& a, const std::map<std::string, runtime::HostTensor>& b,
                 const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (const auto& [name, t] : a) {
    ASSERT_TRUE(b.count(name)) << what << ": " << name;
    ASSERT_EQ(t.data.size(), b.at(name).data.size()) << what << ": " << name;
    EXPECT_EQ(std::memcmp(t.data.data(), b.at(name).data.data(), 4 * t.data.size()), 0) << what << ": " << name;
  }
}

// The units the bitstreams configure each lie in a tile `ok` accepts.
template <typename Ok>
void expect_units_in(const arch::Config& cfg, const std::vector<std::vector<uint32_t>>& streams, Ok ok) {
  for (const auto& bs : streams) {
    const auto words = arch::parse_bitstream(cfg, bs);
    for (uint32_t id = 0; id < words.size(); ++id)
      for (uint32_t w : words[id])
        if (w != 0) EXPECT_TRUE(ok(cfg.tile_of(id))) << cfg.unit_name(id) << " in tile " << cfg.tile_of(id);
  }
}

// The model compiled for the whole device and for `n` tiles, run on the whole device and
// on `tiles` of one device: the outputs equal, not all zero; the tiled PEF's units in its
// first n tiles, and in `tiles` once relocated.
void check_tiled_equals_whole(const arch::Config& cfg, uint32_t n, const std::vector<uint32_t>& tiles) {
  compiler::Options o;
  const pef::Pef whole = compiler::compile_onnx_file(kModel, cfg, o);
  o.tiles = n;
  const pef::Pef tiled = compiler::compile_onnx_file(kModel, cfg, o);
  EXPECT_EQ(tiled.meta.at("tiles"), std::to_string(n));
  EXPECT_EQ(tiled.meta.at("tile_shape"), std::to_string(cfg.tile_h()) + "x" + std::to_string(cfg.tile_w()));
  std::vector<std::vector<uint32_t>> streams, moved;
  for (const auto& sec : tiled.sections) {
    streams.push_back(sec.bitstream);
    moved.push_back(arch::relocate_bitstream(cfg, sec.bitstream, tiles));
  }
  expect_units_in(cfg, streams, [&](uint32_t t) { return t < n; });
  expect_units_in(cfg, moved, [&](uint32_t t) { return std::count(tiles.begin(), tiles.end(), t) == 1; });
  const auto in = inputs_of(whole);
  auto dev = driver::open_device("func", cfg, {});
  const auto want = run(*dev, cfg, whole, {}, in);
  ASSERT_FALSE(want.empty());
  const auto& w0 = want.begin()->second.data;
  EXPECT_NE(std::count(w0.begin(), w0.end(), 0.f), long(w0.size()));
  expect_same(run(*dev, cfg, tiled, tiles, in), want, "tiled");
  if (n == 1) expect_same(run(*dev, cfg, tiled, {0}, in), want, "tile 0");
}

TEST(Tiles, OneTileProgramOnEitherTileOfSmallEqualsTheWholeDevice) {
  check_tiled_equals_whole(arch::load_config("small"), 1, {1});
}

TEST(Tiles, TwoTileProgramOnTheLastTwoTilesOfPlasticine) {
  check_tiled_equals_whole(arch::load_config("plasticine"), 2, {2, 3});
}

TEST(Tiles, RelocationRefusalsAreOneClearError) {
  const arch::Config small = arch::load_config("small");
  auto dev = driver::open_device("func", small, {});
  auto message = [&](const pef::Pef& pef, std::vector<uint32_t> tiles) {
    try {
      run(*dev, small, pef, std::move(tiles), {});
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  compiler::Options o;
  o.tiles = 1;
  const pef::Pef one = compiler::compile_onnx_file(kModel, small, o);
  EXPECT_NE(message(one, {}).find("PEF compiled for 1 tiles"), std::string::npos) << message(one, {});
  EXPECT_NE(message(one, {0, 1}).find("the session has 2 tiles"), std::string::npos) << message(one, {0, 1});
  EXPECT_NE(message(one, {2}).find("tile 2 out of range"), std::string::npos) << message(one, {2});
  o.tiles = 3;
  EXPECT_THROW(compiler::compile_onnx_file(kModel, small, o), compiler::CompileError);
  // tiny's tile 1 is tile 0 mirrored: tile 0's PCU would land on a PMU.
  const arch::Config tiny = arch::load_config("tiny");
  arch::PcuConfig pcu;
  pcu.enable = true;
  pcu.stages.resize(tiny.stages);
  const auto bs = arch::assemble_bitstream(tiny, {{tiny.slot_id(0, 0), pcu.encode(tiny)}});
  const std::vector<uint32_t> to1{1}, to13{1, 3};
  try {
    arch::relocate_bitstream(tiny, bs, to1);
    ADD_FAILURE() << "tiny tile 0 -> 1 relocated";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("lands on a slot of the other kind"), std::string::npos) << e.what();
  }
  const arch::Config plast = arch::load_config("plasticine");
  try {
    arch::relocate_bitstream(plast, arch::assemble_bitstream(plast, {}), to13);
    ADD_FAILURE() << "tiles 1,3 accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("consecutive tiles"), std::string::npos) << e.what();
  }
  // A record outside the program's tiles (unit of tile 1 in a 1-tile program).
  const auto other = arch::assemble_bitstream(small, {{small.slot_id(0, 2), pcu.encode(small)}});
  EXPECT_THROW(arch::relocate_bitstream(small, other, std::vector<uint32_t>{1}), arch::BitstreamError);
}

// tiny's RTL: ONNX's Relu node test compiled for one tile runs on tile 0 through the
// session's TILE_CTRL path, equal to the suite's expected output and to the whole-device
// compile on the same device.
TEST(TilesRtl, ReluCompiledForOneTileOnTinysTile0_verilator) {
  const std::string dir = std::string(OPENRDU_ONNX_TESTDATA) + "/test_relu";
  const arch::Config cfg = arch::load_config("tiny");
  compiler::Options o;
  const pef::Pef whole = compiler::compile_onnx_file(dir + "/model.onnx", cfg, o);
  o.tiles = 1;
  const pef::Pef tiled = compiler::compile_onnx_file(dir + "/model.onnx", cfg, o);
  std::string in_name, out_name;
  const auto x = compiler::load_tensor_pb(dir + "/test_data_set_0/input_0.pb", &in_name);
  const auto y = compiler::load_tensor_pb(dir + "/test_data_set_0/output_0.pb", &out_name);
  const std::map<std::string, runtime::HostTensor> in{{in_name, {x.shape, x.data}}};
  driver::DeviceOptions dopts;
  dopts.timeout_s = 120;
  auto dev = driver::open_device("verilator", cfg, dopts);
  const auto got = run(*dev, cfg, tiled, {0}, in);
  ASSERT_TRUE(got.count(out_name)) << out_name;
  EXPECT_EQ(got.at(out_name).data, y.data);
  expect_same(got, run(*dev, cfg, whole, {}, in), "whole device");
}

}  // namespace
}  // namespace openrdu
