#!/bin/bash
# The one prepared script for the lent GPU machine (issue 8): device-parity tests, then the
# training table against the PyTorch there. Carry build-gpu (made by bench/gpu/bundle.sh here):
#   device run: bash bench/gpu/check.sh     carry: ["build-gpu"]
set -uo pipefail
cd "$(dirname "$0")/../.."
export LD_LIBRARY_PATH="$PWD/build-gpu/lib:/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "== device parity"
build-gpu/fovea_tests --gtest_filter='DeviceParity*:DeviceAvailability*' 2>&1 | tail -40
echo "== training throughput"
python3 bench/gpu/bench.py --exe build-gpu/bench_gpu_train --seconds "${SECONDS_PER_ROW:-4}"
