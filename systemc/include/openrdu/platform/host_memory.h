// Host memory as seen from the endpoint's DMA engine: buffers with bus addresses.
// An access not wholly inside one buffer gets TLM_ADDRESS_ERROR_RESPONSE and moves nothing.
#pragma once
#include <map>
#include <vector>

#include "openrdu/platform/sc.h"

namespace openrdu::platform {

class HostMemory : public sc_module {
 public:
  tlm_utils::simple_target_socket<HostMemory> socket;

  explicit HostMemory(sc_module_name name);
  uint64_t alloc(size_t bytes);
  void free(uint64_t bus_addr);
  uint8_t* find(uint64_t bus_addr, uint64_t len);  // null when not inside one buffer

 private:
  void b_transport(tlm_generic_payload& gp, sc_time& delay);
  unsigned transport_dbg(tlm_generic_payload& gp);
  std::map<uint64_t, std::vector<uint8_t>> buffers_;
  uint64_t next_ = 0x1'0000'0000ull;
};

}  // namespace openrdu::platform
