// SystemC/TLM includes of the platform modules (SC_CPLUSPLUS=201703L is set by CMake).
#pragma once
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

namespace openrdu::platform {
using sc_core::sc_module;
using sc_core::sc_module_name;
using sc_core::sc_time;
using tlm::tlm_generic_payload;

// Simulated time in picoseconds (the kernel's default resolution is 1 ps).
inline uint64_t to_ps(const sc_time& t) { return static_cast<uint64_t>(t.to_seconds() * 1e12 + 0.5); }
inline sc_time ps(uint64_t v) { return sc_time(static_cast<double>(v), sc_core::SC_PS); }

// gp set for one access of len bytes at addr (byte enables: be, len of them, or none), its
// response status reset: the one way the platform fills a payload.
inline void set_payload(tlm_generic_payload& gp, tlm::tlm_command cmd, uint64_t addr, uint8_t* data, uint64_t len,
                        uint8_t* be = nullptr) {
  gp.set_command(cmd);
  gp.set_address(addr);
  gp.set_data_ptr(data);
  gp.set_data_length(static_cast<unsigned>(len));
  gp.set_streaming_width(static_cast<unsigned>(len));
  gp.set_byte_enable_ptr(be);
  gp.set_byte_enable_length(be ? static_cast<unsigned>(len) : 0);
  gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
}
}  // namespace openrdu::platform
