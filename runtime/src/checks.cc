#include "openrdu/runtime/checks.h"

#include <fmt/format.h>

namespace openrdu::runtime {

void check_pef_for_device(const pef::Pef& pef, uint32_t dev_fp, const std::string& dev_name, uint64_t dram) {
  if (pef.fingerprint != dev_fp)
    throw RuntimeError(fmt::format(
        "PEF was compiled for configuration '{}' (fingerprint 0x{:08x}) but the device is '{}' (fingerprint "
        "0x{:08x}); recompile for '{}' or run with --config {}",
        pef.config_name, pef.fingerprint, dev_name, dev_fp, dev_name, pef.config_name));
  for (const auto& t : pef.tensors) {
    if (t.dev_addr > dram || t.bytes > dram - t.dev_addr)
      throw RuntimeError(fmt::format("tensor '{}' ({}) at DRAM [0x{:x}, 0x{:x}) does not fit in the device's {} bytes "
                                     "of DRAM", t.name, pef::role_name(t.role), t.dev_addr, t.dev_addr + t.bytes, dram));
    if (t.role == pef::Role::Constant &&
        (t.const_offset > pef.consts.size() || t.bytes > pef.consts.size() - t.const_offset))
      throw RuntimeError(fmt::format("constant tensor '{}': data [{}, {}) lies outside the {}-byte CONSTS section",
                                     t.name, t.const_offset, t.const_offset + t.bytes, pef.consts.size()));
  }
  for (size_t i = 0; i < pef.sections.size(); ++i) {
    const auto& s = pef.sections[i];
    const uint64_t bytes = 4 * uint64_t(s.bitstream.size());
    if (bytes == 0) throw RuntimeError(fmt::format("section {} ({}): empty bitstream", i, s.name));
    if (s.dev_addr > dram || bytes > dram - s.dev_addr || s.dev_addr + bytes > (uint64_t(1) << 32))
      throw RuntimeError(fmt::format("section {} ({}): bitstream at DRAM [0x{:x}, 0x{:x}) does not fit in the "
                                     "device's {} bytes of DRAM (32-bit addressable)", i, s.name, s.dev_addr,
                                     s.dev_addr + bytes, dram));
    if (bytes > 0xFFFFFFFFu) throw RuntimeError(fmt::format("section {} ({}): bitstream too long for CFG_LEN", i, s.name));
  }
}

void check_inputs(const pef::Pef& pef, const std::map<std::string, HostTensor>& inputs) {
  std::string expected;
  for (const auto& t : pef.tensors)
    if (t.role == pef::Role::Input) expected += (expected.empty() ? "" : ", ") + t.name + " " + shape_str(t.shape);
  if (expected.empty()) expected = "none";
  for (const auto& [name, ht] : inputs) {
    const pef::Tensor* t = pef.find(name);
    if (!t)
      throw RuntimeError(fmt::format("unknown input '{}': the model has no tensor of that name (inputs: {})", name,
                                     expected));
    if (t->role != pef::Role::Input)
      throw RuntimeError(fmt::format("'{}' is not an input of the model but a{} {} tensor (inputs: {})", name,
                                     t->role == pef::Role::Output || t->role == pef::Role::Intermediate ? "n" : "",
                                     pef::role_name(t->role), expected));
    if (ht.shape != t->shape)
      throw RuntimeError(fmt::format("input '{}': shape {} given, the model expects {}", name, shape_str(ht.shape),
                                     shape_str(t->shape)));
    if (ht.data.size() != t->elements())
      throw RuntimeError(fmt::format("input '{}': {} values given for shape {} ({} elements)", name, ht.data.size(),
                                     shape_str(t->shape), t->elements()));
  }
  for (const auto& t : pef.tensors)
    if (t.role == pef::Role::Input && !inputs.count(t.name))
      throw RuntimeError(fmt::format("missing input '{}' (shape {}; inputs: {})", t.name, shape_str(t.shape), expected));
}

}  // namespace openrdu::runtime
