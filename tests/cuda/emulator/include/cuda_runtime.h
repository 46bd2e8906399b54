#pragma once
// The CUDA emulator's stand-in for <cuda_runtime.h>: the part of the CUDA runtime that fovea's
// CUDA backend uses, on the CPU, so that its kernels and host code compile with the host
// compiler and run in tests on machines without a GPU (tests/cuda/emulator/README.md).
// Device memory is host memory; each stream is a queue of work that runs when the host
// synchronises with it; kernels run block after block, the threads of a block as fibers that
// switch at __syncthreads.
#include <math.h>  // the float overloads of exp, log, ... in the global namespace, as CUDA's device math

#include <bit>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
// One instance per kernel (per template instance), shared by the fibers of the running block.
#define __shared__ static

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
};

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorLaunchFailure = 719,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
};
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};
struct CUstream_st;
using cudaStream_t = CUstream_st*;
inline constexpr unsigned cudaStreamNonBlocking = 1;
enum cudaStreamCaptureMode {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2,
};
enum cudaStreamCaptureStatus {
  cudaStreamCaptureStatusNone = 0,
  cudaStreamCaptureStatusActive = 1,
  cudaStreamCaptureStatusInvalidated = 2,
};
struct CUevent_st;
using cudaEvent_t = CUevent_st*;
inline constexpr unsigned cudaEventDisableTiming = 2;
struct CUgraph_st;
using cudaGraph_t = CUgraph_st*;
struct CUgraphExec_st;
using cudaGraphExec_t = CUgraphExec_st*;

const char* cudaGetErrorName(cudaError_t e);
const char* cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaMalloc(void** p, std::size_t size);
template <class T>
cudaError_t cudaMalloc(T** p, std::size_t size) {
  return cudaMalloc(reinterpret_cast<void**>(p), size);
}
cudaError_t cudaFree(void* p);
cudaError_t cudaMallocAsync(void** p, std::size_t size, cudaStream_t stream);
template <class T>
cudaError_t cudaMallocAsync(T** p, std::size_t size, cudaStream_t stream) {
  return cudaMallocAsync(reinterpret_cast<void**>(p), size, stream);
}
cudaError_t cudaFreeAsync(void* p, cudaStream_t stream);
cudaError_t cudaMallocHost(void** p, std::size_t size);  // page-locked host memory: plain host memory here
template <class T>
cudaError_t cudaMallocHost(T** p, std::size_t size) {
  return cudaMallocHost(reinterpret_cast<void**>(p), size);
}
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaMemGetInfo(std::size_t* free_bytes, std::size_t* total_bytes);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t count, cudaMemcpyKind kind, cudaStream_t stream);
cudaError_t cudaMemcpyPeerAsync(void* dst, int dst_device, const void* src, int src_device, std::size_t count,
                                cudaStream_t stream);
cudaError_t cudaMemsetAsync(void* p, int value, std::size_t count, cudaStream_t stream);

// Stream capture as CUDA's: kernels, memsets and copies within device memory are recorded, not
// run; a copy to or from the host or a synchronisation of the capturing stream fails and
// invalidates the capture; the graph replays the recording in order.
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long flags = 0);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);

// The built-in variables of the running emulated thread: inline, constant-initialised
// definitions, so that every use is a plain thread-local access (an extern one goes through an
// access wrapper that UBSan mistakes for a null pointer under GCC 12).
inline thread_local uint3 threadIdx{};
inline thread_local uint3 blockIdx{};
inline thread_local dim3 blockDim{};
inline thread_local dim3 gridDim{};

void __syncthreads();

// Device atomics: the fibers of the emulator run one at a time, so these are plain updates.
inline float atomicAdd(float* p, float v) { return std::exchange(*p, *p + v); }
inline double atomicAdd(double* p, double v) { return std::exchange(*p, *p + v); }
inline int atomicAdd(int* p, int v) { return std::exchange(*p, *p + v); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { return std::exchange(*p, *p + v); }

inline float __uint_as_float(unsigned u) { return std::bit_cast<float>(u); }
inline unsigned __float_as_uint(float f) { return std::bit_cast<unsigned>(f); }

namespace fovea::backend::cuda::emulator {

// Runs body once per thread of a grid x block launch (1-D), as launch() in device_util.cuh does
// with kernel<<<grid, block>>>. `kernel` identifies the kernel: its first launch runs every
// thread as a fiber; a kernel that never reached __syncthreads there runs its later launches as
// plain calls (and fails loudly if it reaches one after all).
// While `stream` is captured, the launch is recorded (body keeps copies of the arguments).
void run_grid(const void* kernel, unsigned grid, unsigned block, cudaStream_t stream, std::function<void()> body);

template <class... P, class... A>
void launch(void (*kernel)(P...), unsigned grid, unsigned block, cudaStream_t stream, A&&... args) {
  run_grid(reinterpret_cast<const void*>(kernel), grid, block, stream, [kernel, args...] { kernel(args...); });
}

// Queues work on `stream`, or records it while the stream is captured (the emulated library calls).
void enqueue(cudaStream_t stream, std::function<void()> work);

// Whether p .. p+bytes lies inside one live device allocation (of device `device`, or any when < 0).
bool is_device_range(const void* p, std::size_t bytes, int device = -1);

}  // namespace fovea::backend::cuda::emulator
