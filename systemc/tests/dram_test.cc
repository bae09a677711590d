// The DRAM model's channels: interleaving, per-channel bandwidth and counters
// (`docs/platform.md`), driven directly through b_transport.
#include <gtest/gtest.h>

#include <vector>

#include <tlm_utils/simple_initiator_socket.h>

#include "openrdu/platform/dram.h"

// libsystemc's main() needs sc_main; this test drives the kernel itself (platform.cc,
// which defines it for the platform, is not linked into this test).
int sc_main(int, char*[]) { return 0; }

namespace {

using namespace openrdu;

// An initiator bound to a DRAM model's core port.
struct Initiator : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Initiator> socket;
  explicit Initiator(sc_core::sc_module_name n) : sc_module(n), socket("socket") {}
};

struct Bench {
  platform::Dram dram;
  Initiator init, dma;  // the core port (used) and the DMA port (bound, unused)
  Bench(const char* name, const arch::Config& cfg)
      : dram((std::string(name) + "_dram").c_str(), cfg, sc_core::sc_time(1, sc_core::SC_NS)),
        init((std::string(name) + "_init").c_str()),
        dma((std::string(name) + "_dma").c_str()) {
    init.socket.bind(dram.core_port);
    dma.socket.bind(dram.dma_port);
  }
};

arch::Config two_channels() {
  arch::Config c = arch::load_config("tiny");
  c.dram_channels = 2;
  c.dram_interleave_bytes = 256;
  return c;
}

arch::Config hashed(uint32_t channels) {
  arch::Config c = two_channels();
  c.dram_channels = channels;
  c.dram_channel_hash = true;
  return c;
}

// Every model is built before the kernel elaborates (sc_start), once per process.
Bench& bench(int i) {
  static Bench* b[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};
  if (!b[0]) {
    b[0] = new Bench("a", two_channels());
    b[1] = new Bench("b", two_channels());
    b[2] = new Bench("c", arch::load_config("tiny"));
    b[3] = new Bench("d", hashed(2));
    b[4] = new Bench("e", arch::load_config("tiny"));  // DramZero
    sc_core::sc_start(sc_core::SC_ZERO_TIME);
  }
  return *b[i];
}

// Issue a read of `len` bytes at `addr` at time 0; returns the annotated delay in cycles.
double read_cycles(Bench& bch, uint64_t addr, uint32_t len) {
  std::vector<uint8_t> buf(len);
  tlm::tlm_generic_payload gp;
  openrdu::platform::set_payload(gp, tlm::TLM_READ_COMMAND, addr, buf.data(), len);
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  bch.init.socket->b_transport(gp, delay);
  EXPECT_TRUE(gp.is_response_ok());
  return delay / sc_core::sc_time(1, sc_core::SC_NS);
}

TEST(DramChannels, InterleavedAccessUsesBothChannelsInParallel) {
  Bench& b = bench(0);  // 2 channels, 64 bytes per cycle each, latency 20, 1 GHz
  const platform::Dram& d = b.dram;
  // 512 bytes at 0: 256 on each channel, 4 cycles each in parallel, then the latency.
  EXPECT_DOUBLE_EQ(read_cycles(b, 0, 512), 4 + 20);
  ASSERT_EQ(d.channel_stats().size(), 2u);
  EXPECT_EQ(d.channel_stats()[0].rd_bytes, 256u);
  EXPECT_EQ(d.channel_stats()[1].rd_bytes, 256u);
  EXPECT_EQ(d.channel_stats()[0].reqs, 1u);
  EXPECT_EQ(d.channel_stats()[0].busy_cycles, 4u);
}

TEST(DramChannels, SameChannelSerialisesOtherChannelDoesNot) {
  Bench& b = bench(1);
  const platform::Dram& d = b.dram;
  EXPECT_DOUBLE_EQ(read_cycles(b, 0, 256), 4 + 20);    // channel 0, free at 4
  EXPECT_DOUBLE_EQ(read_cycles(b, 256, 256), 4 + 20);  // channel 1: in parallel
  EXPECT_DOUBLE_EQ(read_cycles(b, 512, 256), 8 + 20);  // channel 0 again: after the first
  EXPECT_DOUBLE_EQ(read_cycles(b, 200, 100), 9 + 20);  // 56 bytes on channel 0 (free at 8), 44 on channel 1 (free at 4)
  EXPECT_EQ(d.channel_stats()[0].rd_bytes, 256u + 256 + 56);
  EXPECT_EQ(d.channel_stats()[1].rd_bytes, 256u + 44);
  EXPECT_EQ(d.channel_stats()[0].reqs, 3u);
  EXPECT_EQ(d.channel_stats()[1].reqs, 2u);
}

TEST(DramChannels, OneChannelIsTheSumOfTheBytes) {
  Bench& b = bench(2);
  const platform::Dram& d = b.dram;
  EXPECT_DOUBLE_EQ(read_cycles(b, 0, 512), 8 + 20);
  EXPECT_EQ(d.channels(), 1u);
}

TEST(DramChannels, HashSpreadsPowerOfTwoStrides) {
  // Plain interleave: a 2 KB stride (8 pieces of 256 B) stays on one channel. Hashed:
  // the channel is the digit sum of the piece index in base `channels`, so pieces 0..7
  // go to 0,1,1,0,1,0,0,1 (2 channels), consecutive pieces still alternate, and the
  // stride spreads evenly.
  const auto plain = two_channels();
  const auto h2 = hashed(2), h4 = hashed(4), h8 = hashed(8);
  const uint32_t want2[8] = {0, 1, 1, 0, 1, 0, 0, 1};
  for (uint32_t i = 0; i < 8; ++i) {
    EXPECT_EQ(plain.dram_channel(256ull * i), i % 2) << i;
    EXPECT_EQ(h2.dram_channel(256ull * i + 255), want2[i]) << i;
  }
  EXPECT_EQ(h4.dram_channel(256ull * 27), (1u + 2u + 3u) % 4);  // 27 = 123 in base 4
  for (const arch::Config* c : {&h2, &h4, &h8}) {
    const uint32_t C = c->dram_channels;
    for (uint64_t stride : {1ull, 2ull, 4ull, 8ull, 16ull, 64ull}) {
      std::vector<int> hits(C, 0);
      const uint64_t n = 64ull * C * C;
      for (uint64_t k = 0; k < n; ++k) {
        ++hits[c->dram_channel(256 * stride * k)];
      }
      for (uint32_t ch = 0; ch < C; ++ch)
        EXPECT_NEAR(hits[ch], double(n) / C, double(n) / C / 4) << C << " channels, stride " << stride << " pieces";
    }
  }
  // The timing follows: two reads 2 KB apart overlap on the hashed DRAM.
  Bench& b = bench(3);
  EXPECT_DOUBLE_EQ(read_cycles(b, 0, 256), 4 + 20);     // channel 0
  EXPECT_DOUBLE_EQ(read_cycles(b, 2048, 256), 4 + 20);  // piece 8: channel 1, in parallel
  EXPECT_DOUBLE_EQ(read_cycles(b, 768, 256), 8 + 20);   // piece 3: channel 0 again
  EXPECT_EQ(b.dram.channel_stats()[0].rd_bytes, 512u);
  EXPECT_EQ(b.dram.channel_stats()[1].rd_bytes, 256u);
  EXPECT_TRUE(arch::load_config("small").dram_channel_hash);
  auto odd = hashed(3);  // the hash needs a power-of-two channel count
  EXPECT_THROW(odd.validate(), arch::ConfigError);
}

TEST(DramChannels, ConfigurationValidatesChannels) {
  auto c = two_channels();
  c.dram_channels = 0;
  EXPECT_THROW(c.validate(), arch::ConfigError);
  c.dram_channels = 2;
  c.dram_interleave_bytes = 100;
  EXPECT_THROW(c.validate(), arch::ConfigError);
  EXPECT_EQ(arch::load_config("small").dram_channels, 2u);
}

}  // namespace

// Dram::zero (the node daemon's scrub of a freed window): whole pages released, the parts of
// pages at either end cleared, the bytes around the range kept; outside DRAM refused.
TEST(DramZero, ReleasesWholePagesClearsPartsKeepsTheRest) {
  Bench& b = bench(4);
  std::vector<uint8_t> ones(5 * 4096, 0xAB);
  ASSERT_TRUE(b.dram.write(4096, ones.data(), ones.size()));  // pages 1-5
  ASSERT_EQ(b.dram.pages_allocated(), 5u);
  ASSERT_TRUE(b.dram.zero(4096 + 100, 3 * 4096));  // the end of page 1, pages 2-3, the start of page 4
  EXPECT_EQ(b.dram.pages_allocated(), 3u) << "pages 2 and 3 released";
  std::vector<uint8_t> got(ones.size());
  ASSERT_TRUE(b.dram.read(4096, got.data(), got.size()));
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(got[i], i >= 100 && i < 100 + 3 * 4096 ? 0 : 0xAB) << "byte " << i;
  EXPECT_FALSE(b.dram.zero(b.dram.size() - 4, 8));
}
