# fovea: set-up, build, test, demo and benchmarks on Debian 12 (run as root for 'deps').
SHELL := /bin/bash
BUILD ?= build
JOBS ?= $(shell nproc)
PY := /usr/bin/python3

# Every Debian package DESIGN.md lists (the CUDA toolkit is optional and not installed here).
PACKAGES := g++ cmake make pkg-config libdnnl-dev zlib1g-dev libpng-dev libjpeg62-turbo-dev \
  nlohmann-json3-dev libcli11-dev libfmt-dev libonnx-dev libprotobuf-dev protobuf-compiler \
  libgtest-dev libbenchmark-dev python3-torch python3-torchvision python3-onnx python3-numpy \
  dataset-fashion-mnist

.PHONY: deps build test demo bench sanitize install clean

deps:
	@missing=$$(for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && OMP_NUM_THREADS=2 ctest --output-on-failure -j $(JOBS)

demo: build
	cd $(BUILD)/examples && OMP_NUM_THREADS=$(JOBS) ./quickstart

bench: build
	$(PY) bench/ops.py --build $(BUILD)
	$(PY) bench/lenet5_fashion.py --build $(BUILD)

# ASan + UBSan (+ LeakSanitizer) build of the library and the whole test suite.
sanitize: deps
	cmake --preset sanitize
	cmake --build build-sanitize -j $(JOBS)
	cd build-sanitize && ASAN_OPTIONS=detect_leaks=1 OMP_NUM_THREADS=2 ctest --output-on-failure -j $(JOBS)

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) build-sanitize
