// The CUDA emulator's own checks: a kernel with __syncthreads runs its threads in lock step, a
// later launch of a kernel first run without barriers runs as plain calls, work runs when the
// host synchronises with its stream, bad launch configurations and copies outside allocations
// are refused as the CUDA runtime refuses them.
#include <gtest/gtest.h>

#include <vector>

#include "fovea/backend/cuda/device_util.cuh"

namespace cuda = fovea::backend::cuda;

namespace {

// Reverses each block's slice of x through shared memory: only right with a working barrier.
__global__ void reverse_kernel(const int* x, int* y) {
  __shared__ int buf[1024];
  const unsigned t = threadIdx.x, base = blockIdx.x * blockDim.x;
  buf[t] = x[base + t];
  __syncthreads();
  y[base + t] = buf[blockDim.x - 1 - t];
}

__global__ void iota_kernel(std::int64_t n, int* y) { FOVEA_GRID_LOOP(i, n) y[i] = static_cast<int>(i); }

cudaStream_t stream() {
  cudaStream_t s = nullptr;
  EXPECT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  return s;
}

TEST(CudaEmulator, BarrierKernelsRunInLockStep) {
  const int blocks = 3, threads = 128, n = blocks * threads;
  int *x = nullptr, *y = nullptr;
  ASSERT_EQ(cudaMalloc(&x, n * sizeof(int)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&y, n * sizeof(int)), cudaSuccess);
  for (int i = 0; i < n; ++i) x[i] = i;
  for (int round = 0; round < 2; ++round) {  // the second launch reuses the recorded mode
    cuda::launch(reverse_kernel, blocks, threads, stream(), x, y);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(stream()), cudaSuccess);
    for (int i = 0; i < n; ++i) ASSERT_EQ(y[i], (i / threads) * threads + threads - 1 - i % threads) << i;
  }
  EXPECT_EQ(cudaFree(x), cudaSuccess);
  EXPECT_EQ(cudaFree(y), cudaSuccess);
}

TEST(CudaEmulator, GridStrideLoopsCoverEveryElement) {
  const std::int64_t n = 1000;
  int* y = nullptr;
  ASSERT_EQ(cudaMalloc(&y, n * sizeof(int)), cudaSuccess);
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < n; ++i) y[i] = -1;
    cuda::launch(iota_kernel, 2, 64, stream(), n, y);  // fewer threads than elements
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    EXPECT_EQ(y[n - 1], -1) << "the kernel ran before the host synchronised with its stream";
    ASSERT_EQ(cudaStreamSynchronize(stream()), cudaSuccess);
    for (int i = 0; i < n; ++i) ASSERT_EQ(y[i], i);
  }
  EXPECT_EQ(cudaFree(y), cudaSuccess);
}

TEST(CudaEmulator, RefusesWhatTheRuntimeRefuses) {
  int* y = nullptr;
  ASSERT_EQ(cudaMalloc(&y, 16 * sizeof(int)), cudaSuccess);
  cuda::launch(iota_kernel, 1, 2048, stream(), std::int64_t{16}, y);  // more than 1024 threads a block
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);  // reading the error clears it

  std::vector<int> host(32);
  EXPECT_EQ(cudaMemcpyAsync(host.data(), y, 32 * sizeof(int), cudaMemcpyDeviceToHost, stream()), cudaErrorInvalidValue)
      << "a copy past the end of the allocation";
  EXPECT_EQ(cudaMemcpyAsync(y, host.data(), 16 * sizeof(int), cudaMemcpyDeviceToHost, stream()), cudaErrorInvalidValue)
      << "the direction contradicts the pointers";
  EXPECT_EQ(cudaMemcpyAsync(host.data(), y, 16 * sizeof(int), cudaMemcpyDeviceToHost, stream()), cudaSuccess);
  EXPECT_EQ(cudaFree(host.data()), cudaErrorInvalidValue) << "not a device allocation";
  EXPECT_EQ(cudaSetDevice(7), cudaErrorInvalidDevice);
  cudaGetLastError();
  EXPECT_EQ(cudaFree(y), cudaSuccess);
}

}  // namespace
