# The two quick-start commands: `make demo` and `make test`. Everything else is a helper.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: setup configure build test test-unit test-integration demo bench fuzz clean

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

demo: build
	@bash scripts/demo $(BUILD)

bench: build
	cmake --build $(BUILD) --target bench_plan
	@bash bench/run.sh $(BUILD)

fuzz:
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DSTEWARD_FUZZ=ON -DSTEWARD_TESTS=OFF
	cmake --build build-fuzz
	@bash tests/fuzz/run.sh build-fuzz 30

clean:
	rm -rf $(BUILD) build-fuzz
