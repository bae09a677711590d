// Checks the runtime makes before touching a device (usable without one).
#pragma once
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>

#include "openrdu/pef/pef.h"
#include "openrdu/runtime/npy.h"

namespace openrdu::runtime {

// A load or run failure: the message names the tensor, section, register or unit.
class RuntimeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The PEF was compiled for the device: fingerprints equal (the message names both
// fingerprints and both configuration names), every tensor and every bitstream lies
// inside device DRAM, bitstreams are non-empty.
void check_pef_for_device(const pef::Pef& pef, uint32_t dev_fingerprint, const std::string& dev_config_name,
                          uint64_t dram_bytes);

// Inputs given by name: every PEF input present, no unknown or non-input name, shapes
// equal to the PEF's, a dtype the tensor accepts (its own; int64 and int32 for each
// other), data length consistent with the shape. `files` (input name -> file) names the
// file in a dtype error.
void check_inputs(const pef::Pef& pef, const std::map<std::string, HostTensor>& inputs,
                  const std::map<std::string, std::string>& files = {});

// Device output against the CPU reference, element by element (snrun --test, snref):
// equal values pass, equal infinities too, and NaN against NaN; NaN against a number
// (finite or not) and an infinity against anything else fail with an infinite error;
// otherwise |device - reference| <= atol + rtol * |reference|.
struct Comparison {
  double max_abs = 0, max_rel = 0;
  uint64_t bad = 0, first_bad = 0;  // elements outside tolerance, the first one's index
  uint64_t nan_where_finite = 0;    // device NaN where the reference is a finite number
  bool pass() const { return bad == 0; }
  // "; N outside tolerance, first at index I: device D, reference R[; M device NaN where
  // the reference is finite]", or "" when it passes.
  std::string failure(const HostTensor& dev, const HostTensor& ref) const;
};
// Integer values (idata) are compared exactly, fp32 and bool (data) within atol + rtol*|ref|.
Comparison compare_values(const HostTensor& dev, const HostTensor& ref, double rtol, double atol);

}  // namespace openrdu::runtime
