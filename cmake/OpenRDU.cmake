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

# openrdu_gtest(NAME SOURCES ... DEPS ... LABELS ...): a GoogleTest binary, one CTest test per case.
include(GoogleTest)
function(openrdu_gtest name)
  cmake_parse_arguments(A "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_DEPS} GTest::gtest_main GTest::gmock)
  target_compile_options(${name} PRIVATE ${OPENRDU_WARNINGS})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  gtest_discover_tests(${name} PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT}
                       DISCOVERY_TIMEOUT 60)
endfunction()

# Flags of every Verilator build: lean and fast (docs: TOOLCHAIN.md).
set(OPENRDU_VERILATOR_ARGS -O3 --x-assign fast --x-initial fast -Wno-fatal
    --relative-includes -CFLAGS -O2)

# SystemC's Debian build is C++17: every target that includes systemc.h needs this.
set(OPENRDU_SC_DEFS SC_CPLUSPLUS=201703L)
