#!/bin/bash
# Builds fovea with the CUDA backend here (nvcc and cuDNN in /usr/local/cuda) into build-gpu and
# copies the shared libraries the binaries need that the GPU machine lacks (oneDNN, fmt,
# protobuf, ONNX, libpng, libjpeg) into build-gpu/lib, so that bench/gpu/check.sh can run them
# there: that machine has CUDA, cuDNN and PyTorch but no Debian packages.
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DFOVEA_CUDA=ON -DFOVEA_NATIVE=OFF
cmake --build build-gpu -j "$(nproc)" --target fovea_tests bench_gpu_train fovea_cli
mkdir -p build-gpu/lib
for exe in build-gpu/fovea_tests build-gpu/bench_gpu_train build-gpu/fovea; do
  ldd "$exe" | awk '/=> \// {print $3}' | grep -E 'dnnl|fmt|protobuf|onnx|png|jpeg' | xargs -r cp -Lu -t build-gpu/lib
done
du -sh build-gpu/lib build-gpu/fovea_tests build-gpu/bench_gpu_train
