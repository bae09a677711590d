# Generated sources (scripts/gen_arch.py): SV packages, CSR block, C++ headers.
# gen.stale: the committed generated docs (docs/isa.md, registers.md, the gen: blocks of
# bitstream.md: bitstream layout; hardware.md: fingerprint) and GTKWave files match the configs.
set(_gen_cfgs)
foreach(c ${OPENRDU_CONFIGS})
  list(APPEND _gen_cfgs ${CMAKE_SOURCE_DIR}/configs/${c}.yaml)
endforeach()
set(_gen_inputs ${_gen_cfgs} ${CMAKE_SOURCE_DIR}/configs/isa.yaml ${CMAKE_SOURCE_DIR}/configs/regs.yaml
    ${CMAKE_SOURCE_DIR}/configs/bitstream.yaml ${CMAKE_SOURCE_DIR}/scripts/gen_arch.py
    ${CMAKE_SOURCE_DIR}/scripts/gen_bits.py)
set(_gen_cmd ${OPENRDU_PYTHON} ${CMAKE_SOURCE_DIR}/scripts/gen_arch.py --out ${OPENRDU_GEN_DIR} ${_gen_cfgs})

# Verilator's verilate() reads the SV at configure time, so generate now and again
# whenever a source changes (the configure step re-runs on those changes).
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_gen_inputs})
execute_process(COMMAND ${_gen_cmd} RESULT_VARIABLE _gen_rc)
if(NOT _gen_rc EQUAL 0)
  message(FATAL_ERROR "scripts/gen_arch.py failed (${_gen_rc})")
endif()

set(OPENRDU_GEN_INCLUDE ${OPENRDU_GEN_DIR}/include)
set(OPENRDU_GEN_SV_COMMON ${OPENRDU_GEN_DIR}/rdu_isa_pkg.sv ${OPENRDU_GEN_DIR}/rdu_csr_pkg.sv
    ${OPENRDU_GEN_DIR}/rdu_bits_pkg.sv)

add_test(NAME gen.stale
         COMMAND ${OPENRDU_PYTHON} ${CMAKE_SOURCE_DIR}/scripts/gen_arch.py --check-docs ${CMAKE_SOURCE_DIR}/docs ${_gen_cfgs})
set_tests_properties(gen.stale PROPERTIES LABELS unit)
# The bitstream generator's checks, layout and docs splice (scripts/gen_bits.py).
add_test(NAME gen.bits_script COMMAND ${OPENRDU_PYTHON} ${CMAKE_SOURCE_DIR}/scripts/gen_bits_test.py)
set_tests_properties(gen.bits_script PROPERTIES LABELS unit TIMEOUT 60)
