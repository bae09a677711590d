#include "openrdu/runtime/checks.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "openrdu/runtime/dram.h"
#include "openrdu/runtime/host_tensor.h"

namespace openrdu::runtime {

void check_pef_for_device(const pef::Pef& pef, uint32_t dev_fp, const std::string& dev_name, uint64_t dram) {
  if (pef.fingerprint != dev_fp && pef.config_name == dev_name)  // same name, other parameters (or corrupted)
    throw RuntimeError(fmt::format(
        "PEF fingerprint 0x{:08x} differs from configuration '{}' of the device (fingerprint 0x{:08x}): the PEF was "
        "compiled for another version of '{}' (different parameters) or its header is corrupted; recompile it",
        pef.fingerprint, dev_name, dev_fp, dev_name));
  if (pef.fingerprint != dev_fp)
    throw RuntimeError(fmt::format(
        "PEF was compiled for configuration '{}' (fingerprint 0x{:08x}) but the device is '{}' (fingerprint "
        "0x{:08x}); recompile for '{}' or run with --config {}",
        pef.config_name, pef.fingerprint, dev_name, dev_fp, dev_name, pef.config_name));
  for (const auto& t : pef.tensors)
    if (t.role == pef::Role::Weight &&
        (t.weight_offset > pef.weights.size() || t.bytes > pef.weights.size() - t.weight_offset))
      throw RuntimeError(fmt::format("weight tensor '{}': data [{}, {}) lies outside the {}-byte WEIGHTS section",
                                     t.name, t.weight_offset, t.weight_offset + t.bytes, pef.weights.size()));
  DramAllocator a(dram);
  place_program(pef, a);
}

void check_inputs(const pef::Pef& pef, const std::map<std::string, HostTensor>& inputs,
                  const std::map<std::string, std::string>& files) {
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
                                     t->role == pef::Role::Output || t->role == pef::Role::Activation ? "n" : "",
                                     pef::role_name(t->role), expected));
    if (ht.shape != t->shape)
      throw RuntimeError(fmt::format("input '{}': shape {} given, the model expects {}", name, shape_str(ht.shape),
                                     shape_str(t->shape)));
    if (!accepts(t->dtype, ht.dtype)) {
      const auto f = files.find(name);
      throw RuntimeError(fmt::format("input '{}'{}: {} given, the model's tensor is {}", name,
                                     f == files.end() ? "" : " (" + f->second + ")", dtype_desc(ht.dtype),
                                     dtype_desc(t->dtype)));
    }
    if (ht.values() != t->elements())
      throw RuntimeError(fmt::format("input '{}': {} values given for shape {} ({} elements)", name, ht.values(),
                                     shape_str(t->shape), t->elements()));
  }
  for (const auto& t : pef.tensors)
    if (t.role == pef::Role::Input && !inputs.count(t.name))
      throw RuntimeError(fmt::format("missing input '{}' (shape {}; inputs: {})", t.name, shape_str(t.shape), expected));
}

Comparison compare_values(const HostTensor& dev, const HostTensor& ref, double rtol, double atol) {
  Comparison c;
  if (!ref.idata.empty() || !dev.idata.empty()) {  // integers: exactly, value for value
    for (size_t k = 0; k < std::max(dev.idata.size(), ref.idata.size()); ++k) {
      const bool both = k < dev.idata.size() && k < ref.idata.size();
      if (both && dev.idata[k] == ref.idata[k]) continue;
      const double err = both ? std::fabs(double(dev.idata[k]) - double(ref.idata[k])) : INFINITY;
      c.max_abs = std::max(c.max_abs, err);
      c.max_rel = std::max(c.max_rel, both && ref.idata[k] != 0 ? err / std::fabs(double(ref.idata[k])) : INFINITY);
      if (!c.bad) c.first_bad = k;
      ++c.bad;
    }
  }
  const size_t n = std::min(dev.data.size(), ref.data.size());
  for (size_t k = 0; k < n; ++k) {
    const double a = dev.data[k], b = ref.data[k];
    if (a == b || (std::isnan(a) && std::isnan(b))) continue;  // equal, equal infinities, NaN and NaN
    const bool finite = std::isfinite(a) && std::isfinite(b);
    const double err = finite ? std::fabs(a - b) : INFINITY;
    if (std::isnan(a) && std::isfinite(b)) ++c.nan_where_finite;
    c.max_abs = std::max(c.max_abs, err);
    c.max_rel = std::max(c.max_rel, b != 0 ? err / std::fabs(b) : INFINITY);
    if (!(finite && err <= atol + rtol * std::fabs(b))) {
      if (!c.bad) c.first_bad = k;
      ++c.bad;
    }
  }
  return c;
}

std::string Comparison::failure(const HostTensor& dev, const HostTensor& ref) const {
  if (pass()) return "";
  auto at = [&](const HostTensor& t) {
    return first_bad < t.idata.size()  ? fmt::format("{}", t.idata[first_bad])
           : first_bad < t.data.size() ? fmt::format("{:.9g}", t.data[first_bad])
                                       : std::string("none");
  };
  std::string s = fmt::format("; {} outside tolerance, first at index {}: device {}, reference {}", bad, first_bad,
                              at(dev), at(ref));
  if (nan_where_finite) s += fmt::format("; {} device NaN where the reference is finite", nan_where_finite);
  return s;
}

}  // namespace openrdu::runtime
