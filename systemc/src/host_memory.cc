#include "openrdu/platform/host_memory.h"

#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace openrdu::platform {

HostMemory::HostMemory(sc_module_name name) : sc_module(name), socket("socket") {
  socket.register_b_transport(this, &HostMemory::b_transport);
  socket.register_transport_dbg(this, &HostMemory::transport_dbg);
}

uint64_t HostMemory::alloc(size_t bytes) {
  uint64_t addr = next_;
  uint64_t span = ((std::max<uint64_t>(bytes, 1) + 4095) / 4096) * 4096;
  next_ += span + 4096;  // a guard page between buffers
  buffers_.emplace(addr, std::vector<uint8_t>(bytes, 0));
  return addr;
}

void HostMemory::free(uint64_t bus_addr) {
  if (buffers_.erase(bus_addr) == 0)
    throw std::invalid_argument(fmt::format("host memory: no DMA buffer at bus address 0x{:x}", bus_addr));
}

uint8_t* HostMemory::find(uint64_t addr, uint64_t len) {
  auto it = buffers_.upper_bound(addr);
  if (it == buffers_.begin()) return nullptr;
  --it;
  uint64_t off = addr - it->first;
  if (off > it->second.size() || len > it->second.size() - off) return nullptr;
  return it->second.data() + off;
}

void HostMemory::b_transport(tlm_generic_payload& gp, sc_time&) { transport_dbg(gp); }

unsigned HostMemory::transport_dbg(tlm_generic_payload& gp) {
  uint64_t len = gp.get_data_length();
  uint8_t* p = find(gp.get_address(), len);
  if (!p) {
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return 0;
  }
  if (gp.get_command() == tlm::TLM_READ_COMMAND)
    std::memcpy(gp.get_data_ptr(), p, len);
  else if (gp.get_command() == tlm::TLM_WRITE_COMMAND)
    std::memcpy(p, gp.get_data_ptr(), len);
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
  return static_cast<unsigned>(len);
}

}  // namespace openrdu::platform
