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
}  // namespace openrdu::platform
