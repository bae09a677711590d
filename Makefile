# OpenRDU: a thin wrapper over CMake and CTest. Every target installs what is missing.
#   make demo   build, compile the example model, run it on the Verilator backend (small), check vs CPU;
#               then the digits MLP (450 test images, Verilator backend of tiny) vs CPU and PyTorch
#   make test   build and run every test (unit, rtl, e2e) but those labelled slow (CI runs this)
#   make test-slow  turn on small's RTL core (OPENRDU_BUILD_SMALL_RTL) and run the tests labelled slow:
#               small's RTL smoke set and the figures of docs/results.md measured on it (not in CI)
#   make sim    the RTL regression alone: the tests that simulate RTL (label rtl, not slow; pass/fail
#               summary, JUnit XML in build/sim-junit.xml)
#   make lint   verilator --lint-only -Wall on every RTL top of every configuration
#   make bench  simulated cycles per second through the whole stack (bench/simspeed); GEMM on the array
#               (bench/gemm: cycles, MACs/cycle, DRAM traffic, roofline) -> build/bench/gemm.md, gemm.json;
#               streaming DRAM bandwidth (bench/stream: copy, relu, add) -> build/bench/stream.md, stream.json;
#               a 3x3 conv layer (bench/conv: im2col + MatMul) -> build/bench/conv.md, conv.json; builds small's RTL core
#   make plasticine  turn on and build the Verilated 'plasticine' core (16x8 grid; hierarchical
#               Verilation; ~25 min on 2 cores: `docs/rtl-builds.md` ("The plasticine configuration and its Verilated core")), its smoke tests and cycles/s
#   make asan   ASan + UBSan build of the unit and e2e tests (tiny) in $(BUILD)-asan, then run them
#   make coverage  line/branch/toggle coverage of the RTL by the unit and chip testbenches
#               (Verilated with --coverage in $(BUILD)-cov) -> $(BUILD)-cov/coverage/coverage.md
BUILD    ?= build
JOBS     ?= $(shell nproc)
CONFIG   ?= small
BACKEND  ?= verilator
CMAKE_ARGS ?=
# ccache hits across clones and build directories (paths made relative to the checkout).
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
EXAMPLE  ?= examples/elementwise
GEMM_SIZES ?= 64,128,256,512,1024x64x64,2048x128x128
GEMM_BUDGET_S ?= 600
DIGITS_BACKEND ?= verilator
DIGITS_CONFIG ?= tiny

.PHONY: all deps configure build test test-slow sim lint demo plasticine bench coverage asan gen-docs clean help

all: build

help:
	@sed -n 2,18p Makefile

deps:
	@bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_ARGS)

configure: deps $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest -LE slow --output-on-failure -j $(JOBS) --timeout 900

test-slow: configure
	cmake -S . -B $(BUILD) -DOPENRDU_BUILD_SMALL_RTL=ON > /dev/null
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest -L slow --output-on-failure -j $(JOBS)

sim: build
	cd $(BUILD) && ctest -L rtl -LE slow --output-on-failure -j $(JOBS) --output-junit $(abspath $(BUILD))/sim-junit.xml
	@echo "JUnit report: $(BUILD)/sim-junit.xml"

lint: configure
	cmake --build $(BUILD) --target lint

demo: configure
	cmake -S . -B $(BUILD) -DOPENRDU_BUILD_SMALL_RTL=ON > /dev/null
	cmake --build $(BUILD) -j $(JOBS)
	@bash scripts/demo.sh $(BUILD) $(EXAMPLE) $(CONFIG) $(BACKEND) $(DIGITS_BACKEND) $(DIGITS_CONFIG)

plasticine: configure
	cmake -S . -B $(BUILD) -DOPENRDU_BUILD_PLASTICINE_RTL=ON > /dev/null
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest -R '^snrun\.smoke_plasticine_' --output-on-failure
	$(BUILD)/bin/simspeed --config plasticine --backend verilator

SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
SAN_LOGS = $(abspath $(BUILD))-asan/sanitizer-logs
# The host code with the sanitizers, the Verilated C++ without (OPENRDU_RTL_NO_SANITIZE); the
# unit and e2e tests but the fuzzers (clang builds with the sanitizers of their own) and
# bench.memory_func (resident sets mean nothing under ASan). ASan's and LSan's reports go to
# files of $(SAN_LOGS) (log_path: a script test that keeps a tool's stderr cannot hide one),
# UBSan's (which abort the test) to ctest's log there; any report fails the target.
asan: deps
	cmake -S . -B $(BUILD)-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS="$(SAN_FLAGS)" \
	  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" -DOPENRDU_RTL_NO_SANITIZE=ON $(CMAKE_ARGS)
	cmake --build $(BUILD)-asan -j $(JOBS)
	rm -rf $(SAN_LOGS) && mkdir -p $(SAN_LOGS)
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1:log_path=$(SAN_LOGS)/asan \
	  UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest -L 'unit|e2e' -E '^(fuzz|pef\.fuzz|bench\.memory)' --output-on-failure -j $(JOBS) --timeout 1800 \
	  -O $(SAN_LOGS)/ctest.log; \
	  rc=$$?; n=$$(cat $(SAN_LOGS)/* 2>/dev/null | grep -c -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:'); \
	  echo "make asan: $$n sanitizer reports (files in $(SAN_LOGS))"; [ $$rc -eq 0 ] && [ "$$n" -eq 0 ]

coverage: deps
	bash scripts/coverage.sh $(BUILD)-cov

bench: configure
	cmake -S . -B $(BUILD) -DOPENRDU_BUILD_SMALL_RTL=ON > /dev/null
	cmake --build $(BUILD) -j $(JOBS)
	$(BUILD)/bin/dmaspeed --config tiny --backend func --max-mib 64
	$(BUILD)/bin/simspeed --config tiny --backend func --elements 65536
	$(BUILD)/bin/simspeed --config tiny --backend verilator --elements 65536
	@mkdir -p $(BUILD)/bench
	$(BUILD)/bin/simspeed --config tiny --backend verilator --elements 65536 --trace $(BUILD)/bench/simspeed.fst
	@if [ -x $(BUILD)/bin/simspeed ] && grep -q "OPENRDU_BUILD_SMALL_RTL:BOOL=ON" $(BUILD)/CMakeCache.txt; then \
	  $(BUILD)/bin/simspeed --config small --backend verilator --elements 262144; fi
	@if grep -q "OPENRDU_BUILD_SMALL_RTL:BOOL=ON" $(BUILD)/CMakeCache.txt; then \
	  $(BUILD)/bin/stream --config small --backend verilator --elements 524288 \
	    --md $(BUILD)/bench/stream.md --json $(BUILD)/bench/stream.json; \
	else $(BUILD)/bin/stream --config small --backend func --elements 524288 \
	    --md $(BUILD)/bench/stream.md --json $(BUILD)/bench/stream.json; fi
	@if grep -q "OPENRDU_BUILD_SMALL_RTL:BOOL=ON" $(BUILD)/CMakeCache.txt; then be=verilator; else be=func; fi; \
	  $(BUILD)/bin/conv --config small --backend $$be --cases 16x32x32x32,32x16x16x64 \
	    --md $(BUILD)/bench/conv.md --json $(BUILD)/bench/conv.json
	$(BUILD)/bin/train --configs tiny,small --backend func --md $(BUILD)/bench/train.md --json $(BUILD)/bench/train.json
	$(BUILD)/bin/train --configs tiny --backend verilator --steps 2 --md $(BUILD)/bench/train_rtl.md
	@cfgs=tiny; if grep -q "OPENRDU_BUILD_SMALL_RTL:BOOL=ON" $(BUILD)/CMakeCache.txt; then cfgs=tiny,small; fi; \
	  $(BUILD)/bin/gemm --config $$cfgs --backend verilator --sizes $(GEMM_SIZES) --budget-s $(GEMM_BUDGET_S) \
	    --md $(BUILD)/bench/gemm.md --json $(BUILD)/bench/gemm.json

gen-docs:
	/usr/bin/python3 scripts/gen_arch.py --docs docs configs/tiny.yaml configs/small.yaml configs/plasticine.yaml

clean:
	rm -rf $(BUILD)
