# Atrium: the two commands are `make run` and `make test`.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: run test build deps configure bench fmt sanitize clean screenshots

deps:
	@bash scripts/install-deps

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

configure: deps $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

run: build
	@bash scripts/build-web
	$(BUILD)/atrium migrate
	$(BUILD)/atrium serve

test: build
	bash scripts/run-tests $(BUILD)

# Refreshes the console screenshots shown in the README (docs/screenshots) from the browser
# scenario; `make test` runs the same scenario but writes them into the build directory.
screenshots: build
	bash scripts/test-web scenario $(BUILD)/atrium docs/screenshots

bench: build
	bash scripts/bench $(BUILD)

# A build with AddressSanitizer + UndefinedBehaviorSanitizer, tests included.
sanitize: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DATRIUM_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	bash scripts/run-tests build-asan

fmt:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD) build-asan
