#!/bin/bash
# Builds fovea with the CUDA backend here (nvcc and cuDNN in /usr/local/cuda) into build-gpu and
# packs what bench/gpu/check.sh runs on the GPU machine into build-gpu/carry/fovea-gpu.tar.xz:
# the test and benchmark binaries and the shared libraries that machine lacks (oneDNN, fmt,
# protobuf, ONNX, libpng, libjpeg; it has CUDA, cuDNN and PyTorch but no Debian packages).
# Compressed, it fits the device tool's 64 MiB carry limit (oneDNN alone is 40 MB).
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DFOVEA_CUDA=ON -DFOVEA_NATIVE=OFF
cmake --build build-gpu -j "$(nproc)" --target fovea_tests bench_gpu_train fovea_cuda
stage=build-gpu/stage
rm -rf "$stage" build-gpu/carry
mkdir -p "$stage/lib" build-gpu/carry
cp build-gpu/fovea_tests build-gpu/bench_gpu_train "$stage/"
# libfovea.so and the CUDA backend it loads from its own folder (libfovea_cuda.so)
cp build-gpu/libfovea.so build-gpu/libfovea_cuda.so "$stage/lib/"
strip "$stage/fovea_tests" "$stage/bench_gpu_train" "$stage/lib/libfovea.so" "$stage/lib/libfovea_cuda.so"
for exe in "$stage/fovea_tests" "$stage/bench_gpu_train"; do
  ldd "$exe" | awk '/=> \// {print $3}' | grep -E 'dnnl|fmt|protobuf|onnx|png|jpeg' | xargs -r cp -Lu -t "$stage/lib"
done
tar -C "$stage" -cJf build-gpu/carry/fovea-gpu.tar.xz .
du -sh build-gpu/carry/fovea-gpu.tar.xz
echo "device run: bash bench/gpu/check.sh   carry: [\"build-gpu/carry\"]"
