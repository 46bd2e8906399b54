# fovea: set-up, build, test, demo and benchmarks on Debian 12 (run as root for 'deps').
SHELL := /bin/bash
BUILD ?= build
JOBS ?= $(shell nproc)
PY := /usr/bin/python3

# Every Debian package DESIGN.md lists (the CUDA toolkit is optional and not installed here).
PACKAGES := g++ cmake make pkg-config libdnnl-dev zlib1g-dev libpng-dev libjpeg62-turbo-dev \
  nlohmann-json3-dev libcli11-dev libfmt-dev libonnx-dev libprotobuf-dev protobuf-compiler \
  libgtest-dev libbenchmark-dev python3-torch python3-torchvision python3-onnx python3-numpy python3-pil \
  dataset-fashion-mnist clang-format libopenmpi-dev openmpi-bin libzip-dev libjs-chart.js chromium-headless-shell \
  pybind11-dev python3-pybind11 python3-pytest python3-dev libdlpack-dev jupyter-nbconvert python3-ipykernel python3-pip python3-venv \
  clang libclang-rt-14-dev

.PHONY: deps build test demo bench sanitize fuzz install clean format

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

# The main job: LeNet-5 on Fashion-MNIST (35 s on 2 cores, 91% test accuracy here), its HTML
# report rewritten after every epoch, then the checkpoint is evaluated and a few test images are
# predicted.
DEMO := $(BUILD)/demo
demo: build
	rm -rf $(DEMO)
	$(BUILD)/fovea train --model lenet5 --data fashion-mnist --epochs 15 --augment flip --seed 0 --out $(DEMO) --report
	$(BUILD)/fovea eval --checkpoint $(DEMO)/best.safetensors
	$(BUILD)/fovea predict --checkpoint $(DEMO)/best.safetensors --test-index 0,1,2,3,4 --top 3
	@echo "written to $(DEMO): metrics.json, last.safetensors, best.safetensors, confusion.png, report.html"
	@echo "the run's report (one file, opens offline in any browser): $(abspath $(DEMO))/report.html"

bench: build
	$(PY) bench/ops.py --build $(BUILD)
	$(PY) bench/lenet5_fashion.py --build $(BUILD)
	$(PY) bench/models.py --build $(BUILD)
	$(PY) bench/explain.py --build $(BUILD)
	$(PY) bench/transfer.py --build $(BUILD)

# ASan + UBSan (+ LeakSanitizer) build of the library and the whole test suite.
sanitize: deps
	cmake --preset sanitize
	cmake --build build-sanitize -j $(JOBS)
	cd build-sanitize && ASAN_OPTIONS=detect_leaks=1 OMP_NUM_THREADS=2 ctest --output-on-failure -j $(JOBS)

# Coverage-guided fuzzing (docs/fuzzing.md): every parser built with clang under libFuzzer, ASan and
# UBSan (the `fuzz` preset), each run for FUZZ_SECONDS from its seed corpus (fuzz/corpus) and the
# corpus grown by earlier runs (build-fuzz/corpus); a finding is saved under build-fuzz/findings and
# fails the run. `make test` replays fuzz/corpus and fuzz/regressions with any compiler.
FUZZ_TARGETS := safetensors checkpoint idx image onnx spec pth
FUZZ_SECONDS ?= 60
fuzz: deps
	cmake --preset fuzz
	cmake --build build-fuzz -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	$(PY) fuzz/run.py --build build-fuzz --seconds $(FUZZ_SECONDS) --jobs $(JOBS) $(FUZZ_TARGETS)

# Lays out every C++ and CUDA source as .clang-format says (clang-format 14, Debian 12's; make
# test checks it). Line length and layout are the tool's job.
FORMAT_DIRS := fovea tools tests bench examples fuzz python
format: deps
	find $(wildcard $(FORMAT_DIRS)) -name '*.h' -o -name '*.cpp' -o -name '*.cu' -o -name '*.cuh' | \
	  xargs clang-format --style=file -i

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) build-sanitize build-fuzz
