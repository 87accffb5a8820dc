# The two quick-start commands: `make demo` and `make test`. Everything else is a helper.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# ccache keys on paths relative to the checkout, so a fresh clone (CI) reuses earlier builds.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: setup configure build test test-unit test-integration test-conformance demo bench fuzz clean

setup:
	@bash scripts/setup

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

configure: $(BUILD)/build.ninja

build: setup configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest -j2 --output-on-failure --timeout 300

test-unit: build
	cd $(BUILD) && ctest -j2 -L unit --output-on-failure

test-integration: build
	cd $(BUILD) && ctest -j2 -L integration --output-on-failure

test-conformance: build
	cd $(BUILD) && ctest -j2 -L conformance --output-on-failure

demo: build
	@bash scripts/demo $(BUILD)

bench: build
	@bash bench/run.sh $(BUILD)

fuzz:
	@FUZZ_SECONDS=30 bash scripts/fuzz-smoke

clean:
	rm -rf $(BUILD) build-fuzz
