// PEF v2 container: round trip and rejection of every kind of corruption.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "openrdu/arch/crc32.h"
#include "openrdu/pef/pef.h"
#include "../fuzz/pef_fixup.h"

namespace openrdu::pef {
namespace {

uint32_t seed() {
  const char* s = std::getenv("OPENRDU_SEED");
  uint32_t v = s ? uint32_t(std::strtoul(s, nullptr, 0)) : 12345u;
  return v;
}

Pef sample() {
  Pef p;
  p.config_name = "tiny";
  p.fingerprint = 0xC3E48205u;
  Tensor a{"A", DType::F32, Role::Input, {3, 4, 5}, 0x1000, 240, 0};
  Tensor b{"B", DType::F32, Role::Weight, {5}, 0x2000, 20, 8};
  Tensor c{"C", DType::F32, Role::Output, {3, 4, 5}, 0x3000, 240, 0};
  Tensor s{"scalar", DType::F32, Role::Activation, {}, 0x4000, 4, 0};
  p.tensors = {a, b, c, s};
  p.weights.resize(28);
  for (size_t i = 0; i < p.weights.size(); ++i) p.weights[i] = uint8_t(i * 7 + 1);
  p.sections.push_back({"add_node", 0x10000, {0x42554452u, 1, 0xC3E48205u, 6, 0xFFFF0000u, 0xdeadbeef}, 60,
                        {{0, {"add_node"}}, {8, {"add_node", "x"}}}});
  p.sections.push_back({"relu", 0x10100, {0x42554452u, 1, 0xC3E48205u, 5, 0xFFFF0000u}, 15, {{2, {"relu"}}}});
  p.graph = {0x08, 0x07, 0x12, 0x03, 'o', 'n', 'x'};
  p.meta = {{"source", "model.onnx"}, {"compiler", "sncompile 0.1"}, {"section.0.name", "user keys are free now"}};
  return p;
}

void expect_equal(const Pef& a, const Pef& b) {
  EXPECT_EQ(a.config_name, b.config_name);
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const auto &x = a.tensors[i], &y = b.tensors[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.dtype, y.dtype);
    EXPECT_EQ(x.role, y.role);
    EXPECT_EQ(x.shape, y.shape);
    EXPECT_EQ(x.dev_addr, y.dev_addr);
    EXPECT_EQ(x.bytes, y.bytes);
    EXPECT_EQ(x.weight_offset, y.weight_offset);
  }
  ASSERT_EQ(a.sections.size(), b.sections.size());
  for (size_t i = 0; i < a.sections.size(); ++i) {
    EXPECT_EQ(a.sections[i].name, b.sections[i].name);
    EXPECT_EQ(a.sections[i].dev_addr, b.sections[i].dev_addr);
    EXPECT_EQ(a.sections[i].bitstream, b.sections[i].bitstream);
    EXPECT_EQ(a.sections[i].est_cycles, b.sections[i].est_cycles);
    EXPECT_EQ(a.sections[i].debug, b.sections[i].debug);
  }
  EXPECT_EQ(a.weights, b.weights);
  EXPECT_EQ(a.graph, b.graph);
  EXPECT_EQ(a.meta, b.meta);
  EXPECT_TRUE(a == b);
}

uint32_t rd32(const std::vector<uint8_t>& b, size_t at) {
  return uint32_t(b[at]) | uint32_t(b[at + 1]) << 8 | uint32_t(b[at + 2]) << 16 | uint32_t(b[at + 3]) << 24;
}
void wr32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i));
}
// Recompute section and file CRCs after a deliberate edit, so the content checks are reached.
void fix_crcs(std::vector<uint8_t>& b) {
  uint32_t n = rd32(b, 12);
  for (uint32_t i = 0; i < n && 48 + 32 * uint64_t(i) + 32 <= b.size(); ++i) {
    size_t at = 48 + 32 * i;
    uint64_t off = rd32(b, at + 8), size = rd32(b, at + 16);
    if (rd32(b, at + 12) == 0 && rd32(b, at + 20) == 0 && off <= b.size() && size <= b.size() - off)
      wr32(b, at + 24, arch::crc32(b.data() + off, size));
  }
  wr32(b, b.size() - 4, arch::crc32(b.data(), b.size() - 4));
}
size_t section_offset(const std::vector<uint8_t>& b, uint32_t type) {
  uint32_t n = rd32(b, 12);
  for (uint32_t i = 0; i < n; ++i)
    if (rd32(b, 48 + 32 * i) == type) return rd32(b, 48 + 32 * i + 8);
  return 0;
}

std::string error_of(const std::vector<uint8_t>& b) {
  try {
    parse(b, "x.pef");
  } catch (const PefError& e) {
    return e.what();
  }
  return "";
}

TEST(Pef, RoundTrip) {
  Pef p = sample();
  auto bytes = serialize(p);
  EXPECT_EQ(std::memcmp(bytes.data(), "PEF1", 4), 0);
  EXPECT_EQ(rd32(bytes, 4), 2u);
  EXPECT_EQ(rd32(bytes, 8), 0xC3E48205u);
  EXPECT_EQ(rd32(bytes, 12), 8u);  // TENSORS, WEIGHTS, SCHEDULE, DEBUG, GRAPH, META, 2 x CONFIG
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&bytes[16])), "tiny");
  // Payload offsets 8-aligned and the file CRC at the end (checked independently).
  for (uint32_t i = 0; i < 8; ++i) EXPECT_EQ(rd32(bytes, 48 + 32 * i + 8) % 8, 0u);
  EXPECT_EQ(rd32(bytes, bytes.size() - 4), arch::crc32(bytes.data(), bytes.size() - 4));
  const uint32_t types[8] = {1, 3, 5, 6, 7, 4, 2, 2};
  for (uint32_t i = 0; i < 8; ++i) EXPECT_EQ(rd32(bytes, 48 + 32 * i), types[i]) << "section " << i;
  // CONFIG payloads are the bitstream words, little-endian, in schedule order.
  EXPECT_EQ(rd32(bytes, rd32(bytes, 48 + 32 * 6 + 8) + 20), 0xdeadbeefu);
  // SCHEDULE step 0: name "add_node", CONFIG section index 6, reserved, dev_addr, cycles.
  const size_t st = section_offset(bytes, 5);
  EXPECT_EQ(rd32(bytes, st), 2u);
  EXPECT_EQ(bytes[st + 4] | bytes[st + 5] << 8, 8);
  EXPECT_EQ(rd32(bytes, st + 6 + 8), 6u);
  EXPECT_EQ(rd32(bytes, st + 6 + 8 + 8), 0x10000u);
  EXPECT_EQ(rd32(bytes, st + 6 + 8 + 16), 60u);
  // GRAPH holds the model bytes as given.
  const size_t g = section_offset(bytes, 7);
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin() + long(g), bytes.begin() + long(g) + 7), sample().graph);
  Pef q = parse(bytes);
  expect_equal(p, q);
  EXPECT_EQ(serialize(q), bytes);
}

TEST(Pef, FileRoundTripAndAtomicWrite) {
  auto dir = std::filesystem::temp_directory_path() / ("pef_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = (dir / "m.pef").string();
  write_file(sample(), path);
  expect_equal(sample(), read_file(path));
  // No temporary left behind.
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) (void)e, ++files;
  EXPECT_EQ(files, 1);
  // Writing into a missing directory fails with the path in the message and creates nothing.
  try {
    write_file(sample(), (dir / "nope" / "m.pef").string());
    ADD_FAILURE() << "expected PefError";
  } catch (const PefError& e) {
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos) << e.what();
  }
  try {
    read_file((dir / "missing.pef").string());
    ADD_FAILURE() << "expected PefError";
  } catch (const PefError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.pef"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(Pef, EmptyProgramRoundTrips) {
  Pef p;
  p.config_name = "small";
  p.fingerprint = 1;
  expect_equal(p, parse(serialize(p)));
}

TEST(Pef, TruncationAtEveryLengthRejected) {
  auto bytes = serialize(sample());
  for (size_t len = 0; len < bytes.size(); ++len) {
    std::vector<uint8_t> t(bytes.begin(), bytes.begin() + len);
    std::string msg = error_of(t);
    EXPECT_FALSE(msg.empty()) << "truncated to " << len << " bytes was accepted";
    EXPECT_NE(msg.find("x.pef"), std::string::npos) << msg;
    EXPECT_NE(msg.find("at byte"), std::string::npos) << msg;
  }
}

TEST(Pef, EveryFlippedByteRejected) {
  auto bytes = serialize(sample());
  std::mt19937 rng(seed());
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto t = bytes;
    uint8_t mask = uint8_t(1u << (rng() % 8));
    t[i] ^= mask;
    EXPECT_FALSE(error_of(t).empty()) << "seed " << seed() << ": flipping mask 0x" << std::hex << int(mask)
                                      << " at byte " << std::dec << i << " was accepted";
  }
}

// Random edits: every input is either rejected with one line naming the file and a byte
// offset, or accepted as a PEF that serializes and parses back to itself; nothing else
// escapes (no other exception, no crash). Both outcomes occur.
TEST(Pef, RandomGarbageNeverCrashes) {
  std::mt19937 rng(seed());
  auto bytes = serialize(sample());
  int rejected = 0, accepted = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    auto t = bytes;
    int edits = 1 + int(rng() % 8);
    for (int e = 0; e < edits; ++e) t[rng() % t.size()] = uint8_t(rng());
    if (rng() % 2) fix_crcs(t);  // reach the content checks too
    try {
      const Pef p = parse(t, "x.pef");
      ++accepted;
      expect_equal(p, parse(serialize(p), "y.pef"));
    } catch (const PefError& e) {
      ++rejected;
      const std::string m = e.what();
      EXPECT_EQ(m.rfind("x.pef: ", 0), 0u) << "iteration " << iter << ": " << m;
      EXPECT_EQ(m.find('\n'), std::string::npos) << "iteration " << iter << ": " << m;
    }
  }
  std::printf("seed %u: %d rejected, %d accepted\n", seed(), rejected, accepted);
  EXPECT_GT(rejected, 1000);
  EXPECT_GT(accepted, 0);
}

TEST(Pef, BadVersionNamed) {
  auto bytes = serialize(sample());
  wr32(bytes, 4, 1);
  EXPECT_NE(error_of(bytes).find("x.pef: version at byte 4: unsupported PEF version 1 (this reader supports 2); "
                                 "recompile the model with sncompile"),
            std::string::npos)
      << error_of(bytes);
  EXPECT_NE(error_of(bytes).find("at byte 4"), std::string::npos);
}

TEST(Pef, BadMagicNamed) {
  auto bytes = serialize(sample());
  bytes[0] = 'X';
  EXPECT_NE(error_of(bytes).find("magic at byte 0"), std::string::npos) << error_of(bytes);
}

TEST(Pef, SectionCrcNamed) {
  auto bytes = serialize(sample());
  size_t off = section_offset(bytes, 3);  // WEIGHTS
  bytes[off] ^= 1;
  std::string msg = error_of(bytes);
  EXPECT_NE(msg.find("section 1 (WEIGHTS) crc32 at byte 104"), std::string::npos) << msg;
  EXPECT_NE(msg.find("crc32"), std::string::npos) << msg;
}

TEST(Pef, DTypesRoundTrip) {
  Pef p = sample();
  p.tensors[0].dtype = DType::I64;
  p.tensors[2].dtype = DType::BOOL;
  p.tensors[3].dtype = DType::I32;
  const Pef q = parse(serialize(p));
  EXPECT_EQ(q.tensors[0].dtype, DType::I64);
  EXPECT_EQ(q.tensors[1].dtype, DType::F32);
  EXPECT_EQ(q.tensors[2].dtype, DType::BOOL);
  EXPECT_EQ(q.tensors[3].dtype, DType::I32);
  EXPECT_STREQ(dtype_name(DType::F32), "fp32");
  EXPECT_STREQ(dtype_name(DType::I64), "int64");
  EXPECT_STREQ(dtype_name(DType::I32), "int32");
  EXPECT_STREQ(dtype_name(DType::BOOL), "bool");
}

TEST(Pef, BytesAreFourPerElementForEveryDType) {
  Pef p = sample();
  p.tensors[0].dtype = DType::I64;
  p.tensors[0].bytes = 8 * 60;  // an int64 tensor still holds one 32-bit word per element on the device
  try {
    serialize(p);
    ADD_FAILURE() << "8 bytes per int64 element accepted";
  } catch (const PefError& e) {
    EXPECT_NE(std::string(e.what()).find("'A': byte size 480 is not 4 x 60 elements"), std::string::npos) << e.what();
  }
  // And the reader: int64 tensor A with 8 bytes per element.
  p.tensors[0].bytes = 240;
  auto b = serialize(p);
  const size_t bytes_at = section_offset(b, 1) + 4 + 2 + 1 + 3 + 3 * 8 + 8;
  wr32(b, bytes_at, 480);
  fix_crcs(b);
  const std::string m = error_of(b);
  EXPECT_NE(m.find("'A' byte size"), std::string::npos) << m;
}

TEST(Pef, FileCrcNamed) {
  auto bytes = serialize(sample());
  bytes[20] ^= 0x40;  // config name: covered only by the file CRC
  std::string msg = error_of(bytes);
  EXPECT_NE(msg.find("file crc32"), std::string::npos) << msg;
}

TEST(Pef, SectionOutOfFileNamed) {
  auto bytes = serialize(sample());
  wr32(bytes, 48 + 16, 1u << 30);  // section 0 size
  fix_crcs(bytes);                 // (the CRC pass reads only inside the file)
  std::string msg = error_of(bytes);
  EXPECT_NE(msg.find("section 0 size at byte 64"), std::string::npos) << msg;
}

TEST(Pef, TensorContentChecks) {
  auto base = serialize(sample());
  size_t t0 = section_offset(base, 1) + 4;  // tensor 0 ("A")
  size_t rank_at = t0 + 2 + 1 + 2;
  size_t dim0 = rank_at + 1;
  size_t addr = dim0 + 3 * 8;
  size_t bytes_at = addr + 8;
  {
    auto b = base;
    wr32(b, dim0, 0xFFFFFFFFu);
    wr32(b, dim0 + 4, 0xFFFFFFFFu);  // -1
    fix_crcs(b);
    std::string m = error_of(b);
    EXPECT_NE(m.find("negative dimension -1"), std::string::npos) << m;
    EXPECT_NE(m.find("at byte " + std::to_string(dim0)), std::string::npos) << m;
  }
  {
    auto b = base;
    wr32(b, bytes_at, 244);
    fix_crcs(b);
    std::string m = error_of(b);
    EXPECT_NE(m.find("'A' byte size"), std::string::npos) << m;
  }
  for (uint8_t bad : {0, 5, 7}) {
    auto b = base;
    b[t0 + 3] = bad;  // dtype
    fix_crcs(b);
    const std::string m = error_of(b);
    EXPECT_NE(m.find("'A' dtype at byte " + std::to_string(t0 + 3) + ": unsupported dtype " + std::to_string(bad)),
              std::string::npos)
        << m;
  }
  for (uint8_t good : {1, 2, 3, 4}) {  // fp32, int64, int32, bool: one 32-bit word per element each
    auto b = base;
    b[t0 + 3] = good;
    fix_crcs(b);
    EXPECT_EQ(uint8_t(parse(b).tensors[0].dtype), good);
  }
  {
    auto b = base;
    b[t0 + 4] = 9;  // role
    fix_crcs(b);
    EXPECT_NE(error_of(b).find("role"), std::string::npos) << error_of(b);
  }
  {
    auto b = base;
    b[rank_at] = 200;  // rank runs past the section
    fix_crcs(b);
    EXPECT_NE(error_of(b).find("TENSORS"), std::string::npos) << error_of(b);
  }
}

TEST(Pef, WeightOutsideWeightsRejected) {
  Pef p = sample();
  p.tensors[1].weight_offset = 12;  // 12 + 20 > 28
  EXPECT_THROW(serialize(p), PefError);
  // Same corruption done on the bytes.
  auto b = serialize(sample());
  size_t t = section_offset(b, 1) + 4;
  // skip tensor A: 2 + 1 + 3 + 24 + 24
  t += 2 + 1 + 3 + 24 + 24;
  // tensor B: name "B" (2+1), dtype, role, rank, 1 dim, addr, bytes, then offset
  size_t off_at = t + 3 + 3 + 8 + 8 + 8;
  wr32(b, off_at, 12);
  fix_crcs(b);
  std::string m = error_of(b);
  EXPECT_NE(m.find("'B' weights offset at byte " + std::to_string(off_at)), std::string::npos) << m;
}

TEST(Pef, WriterRejectsBadInput) {
  Pef p = sample();
  p.config_name = std::string(33, 'x');
  EXPECT_THROW(serialize(p), PefError);
  p = sample();
  p.tensors[0].bytes = 4;
  EXPECT_THROW(serialize(p), PefError);
  p = sample();
  p.meta["bad\nkey"] = "v";
  EXPECT_THROW(serialize(p), PefError);
  p = sample();
  p.sections[0].debug[3] = {""};  // empty node name
  EXPECT_THROW(serialize(p), PefError);
  p = sample();
  p.sections[0].debug[3] = {};  // a unit serving no node round-trips
  EXPECT_EQ(parse(serialize(p)), p);
  p = sample();
  p.sections[1].name = "";
  EXPECT_THROW(serialize(p), PefError);
  p = sample();
  p.sections[1].dev_addr = 0x10102;
  EXPECT_THROW(serialize(p), PefError);
}

}  // namespace
}  // namespace openrdu::pef

namespace openrdu::pef {
namespace {

size_t entry_of(const std::vector<uint8_t>& b, uint32_t type) {
  for (uint32_t i = 0; i < rd32(b, 12); ++i)
    if (rd32(b, 48 + 32 * i) == type) return i;
  return ~size_t(0);
}

TEST(Pef, ScheduleChecks) {
  const auto base = serialize(sample());
  const size_t st = section_offset(base, 5);
  const size_t idx0 = st + 4 + 2 + 8;  // step 0's CONFIG section index
  {
    auto b = base;
    wr32(b, idx0, 2);  // section 2 is the SCHEDULE itself
    fuzz::fixup(b);
    std::string m = error_of(b);
    EXPECT_NE(m.find("x.pef: SCHEDULE step 0 'add_node' CONFIG section index at byte " + std::to_string(idx0) +
                     ": section 2 is a SCHEDULE section, not CONFIG"), std::string::npos) << m;
  }
  {
    auto b = base;
    wr32(b, idx0, 99);
    fuzz::fixup(b);
    EXPECT_NE(error_of(b).find("99 is not a section (the table has 8)"), std::string::npos) << error_of(b);
  }
  {
    auto b = base;
    wr32(b, idx0, 7);  // both steps run CONFIG section 7: section 6 runs nowhere
    fuzz::fixup(b);
    std::string m = error_of(b);
    EXPECT_NE(m.find("section 6 (CONFIG) at byte 240: no SCHEDULE step runs this bitstream"), std::string::npos) << m;
  }
  {
    auto b = base;
    wr32(b, idx0 + 4, 1);  // reserved
    fuzz::fixup(b);
    EXPECT_NE(error_of(b).find("reserved at byte " + std::to_string(idx0 + 4)), std::string::npos) << error_of(b);
  }
  {
    auto b = base;
    wr32(b, idx0 + 8, 0x10002);  // dev_addr
    fuzz::fixup(b);
    EXPECT_NE(error_of(b).find("'add_node' bitstream device address at byte " + std::to_string(idx0 + 8) +
                               ": 0x10002 is not 4-aligned"), std::string::npos) << error_of(b);
  }
  {
    auto b = base;
    wr32(b, 48 + 32 * 2, 4);  // SCHEDULE retyped as a second META
    fuzz::fixup(b);
    EXPECT_NE(error_of(b).find("second META section"), std::string::npos) << error_of(b);
  }
}

TEST(Pef, StepsMaySharePayload) {
  // Two steps naming one CONFIG section: both get its bitstream.
  Pef p = sample();
  p.graph.clear();
  auto b = serialize(p);
  ASSERT_EQ(entry_of(b, 7), ~size_t(0));
  const size_t idx1 = section_offset(b, 5) + 4 + (2 + 8 + 24) + (2 + 4);  // step 1's CONFIG index
  ASSERT_EQ(rd32(b, idx1), 6u);
  wr32(b, idx1, 5);         // step 1 -> CONFIG section 5 (step 0's)
  wr32(b, 48 + 32 * 6, 7);  // the unused CONFIG section 6 becomes the GRAPH
  fuzz::fixup(b);
  Pef q = parse(b, "x.pef");
  ASSERT_EQ(q.sections.size(), 2u);
  EXPECT_EQ(q.sections[1].bitstream, q.sections[0].bitstream);
  EXPECT_EQ(q.sections[1].bitstream.size(), p.sections[0].bitstream.size());
  EXPECT_EQ(q.sections[1].name, "relu");
  EXPECT_FALSE(q.graph.empty());
}

TEST(Pef, DebugChecks) {
  const auto base = serialize(sample());
  const size_t d = section_offset(base, 6);
  {
    auto b = base;
    wr32(b, d, 3);
    fuzz::fixup(b);
    EXPECT_NE(error_of(b).find("DEBUG step count at byte " + std::to_string(d) + ": 3 steps, the SCHEDULE has 2"),
              std::string::npos) << error_of(b);
  }
  {
    auto b = base;
    // step 0: u32 units=2, unit 0 (id, u16 n=1, "add_node"), unit 8: id at d+4+4+4+2+2+8
    const size_t id1 = d + 4 + 4 + 4 + 2 + 2 + 8;
    ASSERT_EQ(rd32(b, id1), 8u);
    wr32(b, id1, 0);
    fuzz::fixup(b);
    EXPECT_NE(error_of(b).find("unit id at byte " + std::to_string(id1) + ": 0 does not follow 0"), std::string::npos)
        << error_of(b);
  }
  {
    auto b = base;
    wr32(b, 48 + 32 * 3, 1);  // DEBUG retyped: a second TENSORS
    fuzz::fixup(b);
    EXPECT_NE(error_of(b).find("second TENSORS"), std::string::npos) << error_of(b);
  }
}

TEST(Pef, RequiredSections) {
  Pef p = sample();
  p.graph.clear();
  auto b = serialize(p);
  wr32(b, 48 + 32 * 2, 7);  // SCHEDULE becomes GRAPH: no SCHEDULE left
  fuzz::fixup(b);
  EXPECT_NE(error_of(b).find("section table at byte 12: no SCHEDULE section"), std::string::npos) << error_of(b);
}

}  // namespace
}  // namespace openrdu::pef
