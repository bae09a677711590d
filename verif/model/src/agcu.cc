// Functional model of the AGCU (docs/architecture.md 4.3): load streams ld0, ld1 to
// outputs 0, 1; store stream st0 from input 0. Untimed: every vector a stream can move
// moves in one step (loads from memory at once, stores as input arrives).
#include <fmt/format.h>

#include <algorithm>

#include "openrdu/model/units.h"

namespace openrdu::model {

namespace {
struct Step {
  uint32_t addr;   // byte address of lane 0
  uint64_t mask;   // valid lanes
};

// Step j of a stream: for i2 < c2: for i1 < c1: for v < ceil(inner/lanes).
Step stream_step(const arch::AgcuStream& s, uint32_t lanes, uint64_t j) {
  const uint64_t nv = (uint64_t(s.inner) + lanes - 1) / lanes;
  const uint64_t v = j % nv, i1 = (j / nv) % s.c1, i2 = j / (nv * s.c1);
  const uint32_t elem = uint32_t(i1) * uint32_t(s.s1) + uint32_t(i2) * uint32_t(s.s2) +
                        (s.bcast ? 0u : uint32_t(v * lanes));
  Step st{s.base + 4u * elem, 0};
  for (uint32_t l = 0; l < lanes; ++l)
    if (v * lanes + l < s.inner) st.mask |= uint64_t(1) << l;
  return st;
}
}  // namespace

Agcu::Agcu(const arch::Config& cfg) : Unit(cfg) {
  if (cfg.lanes == 0 || cfg.lanes > 64)
    throw std::invalid_argument(fmt::format("agcu: configuration '{}': {} lanes (1..64 supported)", cfg.name, cfg.lanes));
  resize_ports(1, 2);
}

void Agcu::configure(std::span<const uint32_t> words) {
  if (words.size() > arch::kAgcuWords)
    throw std::invalid_argument(fmt::format("agcu: {} configuration words, the unit has {}", words.size(),
                                            arch::kAgcuWords));
  c_ = arch::AgcuConfig::decode(words);
  loaded_[0] = loaded_[1] = 0;
  stored_ = 0;
  resize_ports(1, 2);
}

bool Agcu::step(Memory* mem) {
  const uint32_t lanes = cfg_.lanes;
  bool moved = false;
  for (int k = 0; k < 2; ++k) {
    const arch::AgcuStream& s = c_.ld[k];
    if (!s.enable) continue;
    const uint64_t total = s.vectors(lanes);
    if (loaded_[k] < total && mem == nullptr) throw std::logic_error("agcu: step without a memory");
    for (; loaded_[k] < total; ++loaded_[k]) {
      const Step st = stream_step(s, lanes, loaded_[k]);
      Vec v(lanes);
      mem->read_words(st.addr, v.data(), lanes);
      const uint32_t w0 = v[0];
      for (uint32_t l = 0; l < lanes; ++l) {
        if (s.bcast) v[l] = w0;
        if (!((st.mask >> l) & 1)) v[l] = 0;
      }
      out_[k].push_back(std::move(v));
      moved = true;
    }
  }
  const arch::AgcuStream& s = c_.st;
  if (s.enable) {
    const uint64_t total = s.vectors(lanes);
    for (; stored_ < total && !in_[0].empty(); ++stored_) {
      if (mem == nullptr) throw std::logic_error("agcu: step without a memory");
      const Vec& v = in_[0].front();
      if (v.size() != lanes)
        throw std::invalid_argument(fmt::format("agcu: store vector of {} words, expected {}", v.size(), lanes));
      const Step st = stream_step(s, lanes, stored_);
      mem->write_words(st.addr, v.data(), lanes, st.mask);
      in_[0].pop_front();
      moved = true;
    }
  }
  return moved;
}

bool Agcu::done() const {
  const uint32_t lanes = cfg_.lanes;
  for (int k = 0; k < 2; ++k)
    if (c_.ld[k].enable && loaded_[k] < c_.ld[k].vectors(lanes)) return false;
  return !c_.st.enable || stored_ >= c_.st.vectors(lanes);
}

uint64_t Agcu::busy_cycles() const { return loaded_[0] + loaded_[1] + stored_; }

}  // namespace openrdu::model
