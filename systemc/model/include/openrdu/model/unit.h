// Functional (untimed) model of OpenRDU's units: the device's golden model and a product
// backend (systemc/model/README.md). Golden model: every unit decodes the same
// configuration words as its RTL (`docs/bitstream.md`, arch::*Config::decode)
// and produces the same output streams, bit for bit (the RTL testbenches compare them).
// Backend: --backend=func runs programs on it (systemc/src/func_core.cc). Its operation
// semantics (pcu_op) and cost model (cost.h) are the machine's rules for every layer: the
// compiler's CPU reference and cycle estimate call them rather than keep copies.
#pragma once
#include <cstdint>
#include <deque>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "openrdu/arch/bitstream.h"
#include "openrdu/arch/config.h"

namespace openrdu::model {

using Vec = std::vector<uint32_t>;  // one vector: cfg.lanes 32-bit words

// In a core (Core::run), a unit's step() stops producing once an output holds this many
// vectors, so that the sweep moves them on (and checks its limits, RunLimits) before the
// unit goes on: without it a corrupted count made one step produce without end. A unit
// stepped alone (the unit testbenches) has no such limit.
inline constexpr size_t kMaxStepVectors = 4096;

// Device DRAM as seen by the memory port; accesses outside DRAM throw MemoryError.
class Memory {
 public:
  virtual ~Memory() = default;
  virtual void read_words(uint32_t byte_addr, uint32_t* words, uint32_t n) = 0;
  // Writes words[i] where mask bit i is set (n <= 64).
  virtual void write_words(uint32_t byte_addr, const uint32_t* words, uint32_t n, uint64_t mask) = 0;
};

class MemoryError : public std::runtime_error {
 public:
  MemoryError(uint32_t addr, const std::string& msg) : std::runtime_error(msg), addr(addr) {}
  uint32_t addr;
};

// A unit with vector input and output ports. The model is untimed: inputs are
// unbounded queues, step() does every piece of work that its inputs allow.
class Unit {
 public:
  explicit Unit(const arch::Config& cfg) : cfg_(cfg) {}
  virtual ~Unit() = default;

  virtual void configure(std::span<const uint32_t> words) = 0;  // also resets state
  virtual int num_vin() const = 0;
  virtual int num_vout() const = 0;
  void push(int port, Vec v) { in_.at(port).push_back(std::move(v)); }
  std::deque<Vec>& output(int port) { return out_.at(port); }
  const std::deque<Vec>& input(int port) const { return in_.at(port); }
  // Scalar and control ports (`docs/bitstream.md`): scalars in order,
  // tokens counted (every token is alike).
  void push_scalar(uint32_t v) { sin_.push_back(v); }
  void push_tokens(uint64_t n) { tok_in_ += n; }
  std::deque<uint32_t>& scalar_output() { return sout_; }
  uint64_t tokens_out() const { return tok_out_; }
  // Do what the inputs allow; true when anything moved. mem may be null for units
  // without a memory port.
  virtual bool step(Memory* mem) = 0;
  virtual bool done() const = 0;
  // Estimated busy cycles so far (vectors processed plus pipeline latency).
  virtual uint64_t busy_cycles() const { return 0; }
  // step() returns once an output holds this many vectors (Core::run: kMaxStepVectors).
  void set_step_limit(size_t vectors) { step_limit_ = vectors; }

 protected:
  // configure(): more than max words is an error "<kind>: N configuration words, the unit has max".
  static void check_word_count(const char* kind, size_t n, size_t max) {
    if (n > max)
      throw std::invalid_argument(std::string(kind) + ": " + std::to_string(n) +
                                  " configuration words, the unit has " + std::to_string(max));
  }
  void resize_ports(int nin, int nout) {
    in_.assign(nin, {});
    out_.assign(nout, {});
  }
  const arch::Config& cfg_;
  size_t step_limit_ = SIZE_MAX;
  std::vector<std::deque<Vec>> in_;
  std::vector<std::deque<Vec>> out_;
  std::deque<uint32_t> sin_, sout_;
  uint64_t tok_in_ = 0, tok_out_ = 0;
};

// IEEE-754 binary32 operations exactly as the RTL computes them: round to nearest
// even, subnormals kept, every NaN result the canonical NaN 0x7FC00000.
namespace fp {
uint32_t add(uint32_t a, uint32_t b);
uint32_t sub(uint32_t a, uint32_t b);
uint32_t mul(uint32_t a, uint32_t b);
uint32_t max(uint32_t a, uint32_t b);
uint32_t min(uint32_t a, uint32_t b);
uint32_t fma(uint32_t a, uint32_t b, uint32_t c);  // a * b + c, one rounding
uint32_t abs(uint32_t a);                          // NaN -> canonical NaN
uint32_t neg(uint32_t a);                          // NaN -> canonical NaN
bool lt(uint32_t a, uint32_t b);                   // false if either is NaN
bool le(uint32_t a, uint32_t b);
bool eq(uint32_t a, uint32_t b);                   // -0 == +0
uint32_t ftoi(uint32_t a);  // int32 bits: truncation, saturating, NaN -> 0
uint32_t itof(uint32_t a);  // int32 bits -> binary32, round to nearest even
}  // namespace fp

// One PCU stage operation on one lane (`docs/bitstream.md` ("PCU configuration"), docs/isa.md); c is
// the third operand (FMA, SEL).
uint32_t pcu_op(arch::Opcode op, uint32_t a, uint32_t b, uint32_t c = 0);

}  // namespace openrdu::model
