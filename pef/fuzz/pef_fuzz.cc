// libFuzzer target over the PEF reader and the bitstream verifier (docs/robustness.md). Built by scripts/fuzz-pef.sh with clang++ -fsanitize=fuzzer,address,undefined.
//
// For each input, both as given and with its checksums repaired (pef_fixup.h):
//  - pef::parse must either throw PefError or return a Pef that satisfies the format's
//    invariants (section 9, PEF v2); any other exception escapes and libFuzzer reports it;
//  - an accepted Pef must survive serialize() and parse again into an equal Pef;
//  - when the PEF names the built-in "tiny" or "small" configuration, every CONFIG
//    section goes through arch::parse_bitstream, which must either throw BitstreamError
//    or return num_units() word vectors of config_words() each; those are then decoded.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "openrdu/arch/bitstream.h"
#include "openrdu/arch/config.h"
#include "openrdu/pef/pef.h"
#include "pef_fixup.h"

namespace {

using namespace openrdu;

[[noreturn]] void die(const char* what, const std::string& detail) {
  std::fprintf(stderr, "pef_fuzz: %s: %s\n", what, detail.c_str());
  std::fflush(stderr);
  std::abort();
}

const arch::Config* builtin(const std::string& name) {
  static const arch::Config tiny = arch::load_config("tiny");
  static const arch::Config small = arch::load_config("small");
  if (name == "tiny") return &tiny;
  if (name == "small") return &small;
  return nullptr;
}

void check_invariants(const pef::Pef& p) {
  if (p.config_name.empty() || p.config_name.size() > 32) die("invariant", "configuration name length");
  for (const auto& t : p.tensors) {
    if (t.name.empty()) die("invariant", "empty tensor name");
    if (p.find(t.name) != &t) die("invariant", "duplicate tensor name " + t.name);
    if (t.bytes != 4 * t.elements()) die("invariant", "tensor " + t.name + " bytes != 4 x elements");
    if (t.dev_addr % 4) die("invariant", "tensor " + t.name + " unaligned");
    if (uint8_t(t.role) > uint8_t(pef::Role::Activation)) die("invariant", "tensor " + t.name + " role");
    if (t.role == pef::Role::Weight &&
        (t.weight_offset > p.weights.size() || t.bytes > p.weights.size() - t.weight_offset))
      die("invariant", "weight " + t.name + " outside WEIGHTS");
    if (t.role != pef::Role::Weight && t.weight_offset != 0) die("invariant", "weight_offset on " + t.name);
  }
  for (const auto& s : p.sections) {
    if (s.name.empty()) die("invariant", "empty step name");
    if (s.bitstream.empty()) die("invariant", "empty bitstream in " + s.name);
    if (s.dev_addr % 4) die("invariant", "section " + s.name + " unaligned");
    for (const auto& [id, names] : s.debug) {
      for (const auto& n : names)
        if (n.empty()) die("invariant", "empty debug node name in " + s.name);
    }
  }
  for (const auto& [k, v] : p.meta)
    if (k.empty() || k.find('=') != std::string::npos || k.find('\n') != std::string::npos ||
        v.find('\n') != std::string::npos)
      die("invariant", "META key/value not representable: " + k);
}

void verify_bitstreams(const pef::Pef& p) {
  const arch::Config* cfg = builtin(p.config_name);
  if (!cfg) return;
  for (const auto& s : p.sections) {
    std::vector<std::vector<uint32_t>> units;
    try {
      units = arch::parse_bitstream(*cfg, s.bitstream);
    } catch (const arch::BitstreamError&) {
      continue;
    }
    if (units.size() != cfg->num_units()) die("parse_bitstream", "wrong number of units");
    for (uint32_t id = 0; id < units.size(); ++id) {
      const arch::UnitKind kind = cfg->unit_kind(id);
      if (units[id].size() != cfg->config_words(kind)) die("parse_bitstream", cfg->unit_name(id) + " word count");
      switch (kind) {
        case arch::UnitKind::Pcu: {
          auto c = arch::PcuConfig::decode(*cfg, units[id]);
          if (c.stages.size() != cfg->stages) die("PcuConfig::decode", "stage count");
          // encode() leaves the counter chain's 9 words out when they are all zero.
          const auto w = c.encode(*cfg);
          const bool no_ctr = std::all_of(c.ctr.begin(), c.ctr.end(), [](const arch::PcuCounter& k) {
            return k == arch::PcuCounter{};
          });
          if (w.size() != (no_ctr ? 4 + 2 * cfg->stages : units[id].size())) die("PcuConfig::encode", "word count");
          if (arch::PcuConfig::decode(*cfg, w).encode(*cfg) != w) die("PcuConfig", "re-encode differs");
          break;
        }
        case arch::UnitKind::Pmu: {
          auto c = arch::PmuConfig::decode(units[id]);
          if (arch::PmuConfig::decode(c.encode()).encode() != c.encode()) die("PmuConfig", "re-encode differs");
          break;
        }
        case arch::UnitKind::Agcu: {
          auto c = arch::AgcuConfig::decode(units[id]);
          if (arch::AgcuConfig::decode(c.encode()).encode() != c.encode()) die("AgcuConfig", "re-encode differs");
          break;
        }
        case arch::UnitKind::Switch: {
          auto c = arch::SwitchConfig::decode(units[id]);
          if (c.encode().size() != arch::kSwitchWords) die("SwitchConfig", "word count");
          break;
        }
      }
    }
  }
}

void check(const std::vector<uint8_t>& bytes) {
  pef::Pef p;
  try {
    p = pef::parse(bytes, "fuzz-input");
  } catch (const pef::PefError&) {
    return;
  }
  check_invariants(p);
#ifdef PEF_FUZZ_SELFTEST
  // Deliberate heap overflow on any PEF with two sections: checks that the script reports it.
  if (p.sections.size() >= 2) {
    volatile uint32_t past = p.sections[0].bitstream.data()[p.sections[0].bitstream.size()];
    (void)past;
  }
#endif
  verify_bitstreams(p);
  std::vector<uint8_t> again;
  try {
    again = pef::serialize(p);
  } catch (const pef::PefError& e) {
    die("serialize rejects a Pef that parse accepted", e.what());
  }
  std::optional<pef::Pef> q;
  try {
    q = pef::parse(again, "round-trip");
  } catch (const pef::PefError& e) {
    die("parse rejects serialize's output", e.what());
  }
  if (!(p == *q)) die("round trip", "parse(serialize(p)) != p");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> raw(data, data + size);
  check(raw);
  std::vector<uint8_t> fixed = raw;
  openrdu::pef::fuzz::fixup(fixed);
  if (fixed != raw) check(fixed);
  return 0;
}
