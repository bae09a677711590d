# Helpers shared by every layer.
set(OPENRDU_WARNINGS -Wall -Wextra -Wno-unused-parameter)

# openrdu_library(NAME SOURCES ... DEPS ...): a layer library with include/ as its public headers.
function(openrdu_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(${name} PUBLIC ${A_DEPS} PRIVATE ${A_PRIVATE_DEPS})
  target_compile_options(${name} PRIVATE ${OPENRDU_WARNINGS})
endfunction()

# openrdu_tool(NAME SOURCES ... DEPS ...): a command-line tool in build/bin.
function(openrdu_tool name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_DEPS})
  target_compile_options(${name} PRIVATE ${OPENRDU_WARNINGS})
  target_compile_definitions(${name} PRIVATE OPENRDU_VERSION="${PROJECT_VERSION}")
endfunction()

# openrdu_gtest(NAME SOURCES ... DEPS ... LABELS ... [SUFFIX S] [RTL_FILTER F] [TIMEOUT T]): a GoogleTest
# binary, one CTest test per case. SUFFIX is appended to every case's name (a binary built once
# per backend: "/func", "/verilator", so that names are unique and carry the backend). RTL_FILTER
# (a --gtest_filter pattern) names the cases that simulate RTL in a binary that mixes backends:
# those get the label rtl as well, the others do not (`make sim` runs `ctest -L rtl`).
include(GoogleTest)
function(openrdu_gtest name)
  cmake_parse_arguments(A "" "TIMEOUT;SUFFIX;RTL_FILTER" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_DEPS} GTest::gtest_main GTest::gmock)
  target_compile_options(${name} PRIVATE ${OPENRDU_WARNINGS})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  set(suffix)
  if(A_SUFFIX)
    set(suffix TEST_SUFFIX ${A_SUFFIX})
  endif()
  if(A_RTL_FILTER)
    gtest_discover_tests(${name} ${suffix} TEST_FILTER "-${A_RTL_FILTER}"
                         PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT} DISCOVERY_TIMEOUT 60)
    gtest_discover_tests(${name} ${suffix} TEST_FILTER "${A_RTL_FILTER}" TEST_LIST ${name}_rtl_tests
                         PROPERTIES TIMEOUT ${A_TIMEOUT} DISCOVERY_TIMEOUT 60)
    # Their labels come from a file CTest reads after the discovered tests: the discovery
    # script would split a list-valued property (LABELS "e2e;rtl") into properties.
    set(inc ${CMAKE_CURRENT_BINARY_DIR}/${name}_rtl_labels.cmake)
    file(WRITE ${inc} "foreach(t IN LISTS ${name}_rtl_tests)\n"
                      "  set_tests_properties(\"\${t}\" PROPERTIES LABELS \"${A_LABELS};rtl\")\nendforeach()\n")
    set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${inc})
  else()
    gtest_discover_tests(${name} ${suffix} PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT}
                         DISCOVERY_TIMEOUT 60)
  endif()
endfunction()

# openrdu_backend_labels(TEST BACKEND LABELS): TEST's labels, plus rtl when BACKEND is
# verilator (a test labelled rtl simulates RTL; `make sim` runs `ctest -L rtl`).
function(openrdu_backend_labels test backend labels)
  if(backend STREQUAL "verilator")
    list(APPEND labels rtl)
  endif()
  set_tests_properties(${test} PROPERTIES LABELS "${labels}")
endfunction()

# openrdu_script_test(NAME SCRIPT file ARGS ... LABELS ... TIMEOUT s [BACKEND b]): a test
# that runs `bash file ARGS`; with BACKEND, labelled by openrdu_backend_labels.
function(openrdu_script_test name)
  cmake_parse_arguments(T "" "SCRIPT;TIMEOUT;BACKEND" "ARGS;LABELS" ${ARGN})
  add_test(NAME ${name} COMMAND bash ${T_SCRIPT} ${T_ARGS})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT})
  if(T_BACKEND)
    openrdu_backend_labels(${name} ${T_BACKEND} "${T_LABELS}")
  else()
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()

# Flags of every Verilator build: lean and fast (docs: TOOLCHAIN.md).
set(OPENRDU_VERILATOR_ARGS -O3 --x-assign fast --x-initial fast -Wno-fatal
    --relative-includes -CFLAGS -O2)

# SystemC's Debian build is C++17: every target that includes systemc.h needs this.
set(OPENRDU_SC_DEFS SC_CPLUSPLUS=201703L)
