// Functional model of the AGCU (`docs/bitstream.md` ("AGCU configuration (streams `ld0`, `ld1`, `st0`)")): load streams ld0, ld1 to
// outputs 0, 1; store stream st0 from input 0. Untimed: every vector a stream can move
// moves in one step (loads from memory at once, stores as input arrives). Every memory
// access is the one the RTL's request makes: `lanes` words from the request address
// (so an access outside DRAM fails the same way), written under the request's mask.
// Control: a stream with tin takes a credit per tile (iteration of dimension 3); the
// store stream with tout counts a token per tile stored.
#include <fmt/format.h>

#include <algorithm>

#include "openrdu/model/units.h"

namespace openrdu::model {

namespace {
struct Step {
  uint32_t addr;  // byte address of lane 0
  uint32_t n;     // valid lanes (lanes 0..n-1)
};

// Step j of a stream: for i3 < c3: for i2 < c2: for i1 < c1: for i0 < c0.
Step stream_step(const arch::AgcuStream& s, uint32_t lanes, uint64_t j) {
  uint32_t idx[4];
  uint32_t elem = 0;  // element offset, 32-bit wrap-around
  for (int d = 0; d < 4; ++d) {
    idx[d] = uint32_t(j % s.c[d]);
    j /= s.c[d];
    elem += idx[d] * uint32_t(s.s[d]);
  }
  return {s.base + 4u * elem, s.valid_lanes(lanes, idx)};
}

bool gather(const arch::AgcuStream& s) { return s.lstride != 0 && s.lstride != 1; }
uint32_t lane_addr(const arch::AgcuStream& s, const Step& st, uint32_t l) {
  return st.addr + 4u * l * uint32_t(s.lstride);
}
}  // namespace

Agcu::Agcu(const arch::Config& cfg) : Unit(cfg) {
  if (cfg.lanes == 0 || cfg.lanes > 64)
    throw std::invalid_argument(fmt::format("agcu: configuration '{}': {} lanes (1..64 supported)", cfg.name, cfg.lanes));
  resize_ports(1, 2);
}

void Agcu::configure(std::span<const uint32_t> words) {
  check_word_count("agcu", words.size(), arch::kAgcuWords);
  c_ = arch::AgcuConfig::decode(words);
  loaded_[0] = loaded_[1] = 0;
  stored_ = 0;
  requests_ = 0;
  ld_requests_[0] = ld_requests_[1] = 0;
  tok_in_ = tok_out_ = 0;
  sin_.clear();
  sout_.clear();
  resize_ports(1, 2);
}

// With tin, the tile (iteration of dimension 3) of vector j needs credit tile + 1:
// tok_init plus the tokens received.
bool Agcu::credit(const arch::AgcuStream& s, uint64_t j) const {
  if (!s.tin) return true;
  const uint64_t per_tile = uint64_t(s.c[0]) * s.c[1] * s.c[2];
  return j / per_tile < uint64_t(s.tok_init) + tok_in_;
}

bool Agcu::step(Memory* mem) {
  const uint32_t lanes = cfg_.lanes;
  bool moved = false;
  Vec buf(lanes);
  for (int k = 0; k < 2; ++k) {
    const arch::AgcuStream& s = c_.ld[k];
    if (!s.enable) continue;
    const uint64_t total = s.vectors();
    if (loaded_[k] < total && mem == nullptr) throw std::logic_error("agcu: step without a memory");
    for (; loaded_[k] < total && credit(s, loaded_[k]) && out_[k].size() < step_limit_; ++loaded_[k]) {
      const Step st = stream_step(s, lanes, loaded_[k]);
      Vec v(lanes, 0);
      if (st.n > 0 && !gather(s)) {  // contiguous or broadcast: one request
        mem->read_words(st.addr, buf.data(), lanes);
        for (uint32_t l = 0; l < st.n; ++l) v[l] = s.lstride == 0 ? buf[0] : buf[l];
      } else {
        for (uint32_t l = 0; l < st.n; ++l) {  // gather: one request per valid lane
          mem->read_words(lane_addr(s, st, l), buf.data(), lanes);
          v[l] = buf[0];
        }
      }
      const uint32_t r = gather(s) ? std::max<uint32_t>(st.n, 1) : 1;
      requests_ += r;
      ld_requests_[k] += r;
      out_[k].push_back(std::move(v));
      moved = true;
    }
  }
  const arch::AgcuStream& s = c_.st;
  if (s.enable) {
    const uint64_t total = s.vectors();
    const uint64_t per_tile = uint64_t(s.c[0]) * s.c[1] * s.c[2];
    for (; stored_ < total && !in_[0].empty() && credit(s, stored_); ++stored_) {
      if (mem == nullptr) throw std::logic_error("agcu: step without a memory");
      Vec& v = in_[0].front();
      if (v.size() != lanes)
        throw std::invalid_argument(fmt::format("agcu: store vector of {} words, expected {}", v.size(), lanes));
      const Step st = stream_step(s, lanes, stored_);
      if (st.n > 0 && s.lstride == 1) {
        mem->write_words(st.addr, v.data(), lanes, st.n >= 64 ? ~uint64_t(0) : (uint64_t(1) << st.n) - 1);
      } else if (st.n > 0 && s.lstride == 0) {
        mem->write_words(st.addr, v.data(), lanes, 1);  // lane 0's word
      } else {
        for (uint32_t l = 0; l < st.n; ++l) {  // scatter: lane l's word as word 0
          buf = v;
          buf[0] = v[l];
          mem->write_words(lane_addr(s, st, l), buf.data(), lanes, 1);
        }
      }
      requests_ += gather(s) ? std::max<uint32_t>(st.n, 1) : 1;
      in_[0].pop_front();
      if (s.tout && (stored_ + 1) % per_tile == 0) ++tok_out_;  // the tile's writes are done
      moved = true;
    }
  }
  return moved;
}

bool Agcu::done() const {
  for (int k = 0; k < 2; ++k)
    if (c_.ld[k].enable && loaded_[k] < c_.ld[k].vectors()) return false;
  return !c_.st.enable || stored_ >= c_.st.vectors();
}

uint64_t Agcu::busy_cycles() const {
  return agcu_busy_cycles(cfg_, {requests_, {ld_requests_[0], ld_requests_[1]}, c_.st.tout ? tok_out_ : 0});
}

}  // namespace openrdu::model
