#!/bin/bash
# The one prepared script for the lent GPU machine (issue 8): device-parity tests, then the
# training table against the PyTorch there. Made here by bench/gpu/bundle.sh:
#   device run: bash bench/gpu/check.sh     carry: ["build-gpu/carry"]
set -uo pipefail
cd "$(dirname "$0")/../.."
dir=/tmp/fovea-gpu
rm -rf "$dir" && mkdir -p "$dir" && tar -C "$dir" -xJf build-gpu/carry/fovea-gpu.tar.xz
export LD_LIBRARY_PATH="$dir/lib:/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "== device parity"
(cd "$dir" && ./fovea_tests --gtest_filter='DeviceParity*:OptimParity*:DeviceGraph*:DeviceAvailability*' 2>&1 | tail -60)
echo "== training throughput"
python3 bench/gpu/bench.py --exe "$dir/bench_gpu_train" --seconds "${SECONDS_PER_ROW:-4}"
