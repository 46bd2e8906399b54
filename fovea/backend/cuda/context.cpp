// The CUDA backend's context: error checks, one stream per device, each device's kernel error
// word, copies between host and device, random fills, and the backend object itself.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "fovea/backend/cuda/allocator.h"
#include "fovea/backend/cuda/cuda_backend.h"
#include "fovea/backend/cuda/cuda_util.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

void check(cudaError_t e, const char* op) {
  if (e != cudaSuccess) fail(op, "CUDA error: {}: {}", cudaGetErrorName(e), cudaGetErrorString(e));
}

namespace {

constexpr int kMaxDevices = 16;

struct DeviceState {
  std::once_flag made;
  cudaStream_t stream = nullptr;
  std::once_flag error_made;
  KernelError* error = nullptr;       // on the device
  KernelError* error_host = nullptr;  // pinned, where copies from the device read it
};

DeviceState& state(int device) {
  static DeviceState states[kMaxDevices];
  if (device < 0 || device >= kMaxDevices) fail("cuda", "device index {} out of range", device);
  return states[device];
}

}  // namespace

cudaStream_t device_stream(int device) {
  FOVEA_CUDA_CHECK(cudaSetDevice(device), "cuda");
  DeviceState& s = state(device);
  std::call_once(s.made,
                 [&] { FOVEA_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking), "cuda"); });
  return s.stream;
}

cudaStream_t stream_for(const Tensor& t) { return device_stream(t.device().index); }

KernelError* kernel_error(const Tensor& t) {
  const int device = t.device().index;
  DeviceState& s = state(device);
  cudaStream_t st = stream_for(t);
  std::call_once(s.error_made, [&] {
    FOVEA_CUDA_CHECK(cudaMalloc(&s.error, sizeof(KernelError)), "cuda");
    FOVEA_CUDA_CHECK(cudaMallocHost(&s.error_host, sizeof(KernelError)), "cuda");
    FOVEA_CUDA_CHECK(cudaMemsetAsync(s.error, 0, sizeof(KernelError), st), "cuda");
    s.error_host->code = kNoKernelError;
  });
  return s.error;
}

namespace {

// After a copy from `device` has been queued on st: queues the read of the device's error word,
// waits for both, and throws what a kernel recorded (clearing the word for later work).
void synchronize_and_raise(int device, cudaStream_t st) {
  DeviceState& s = state(device);
  if (s.error)
    FOVEA_CUDA_CHECK(cudaMemcpyAsync(s.error_host, s.error, sizeof(KernelError), cudaMemcpyDeviceToHost, st), "copy");
  FOVEA_CUDA_CHECK(cudaStreamSynchronize(st), "copy");
  if (!s.error || s.error_host->code == kNoKernelError) return;
  const KernelError e = *s.error_host;
  s.error_host->code = kNoKernelError;
  FOVEA_CUDA_CHECK(cudaMemsetAsync(s.error, 0, sizeof(KernelError), st), "copy");
  const std::string when = fmt::format("found by a kernel on cuda:{} since the last copy from it", device);
  switch (e.code) {
    case kGatherIndex: fail("gather", "index {} out of range for size {} ({})", e.value, e.bound, when);
    case kScatterIndex: fail("scatter_add", "index {} out of range for size {} ({})", e.value, e.bound, when);
    case kDivisionByZero: fail("div", "integer division by zero ({})", when);
    default: fail("cuda", "unknown kernel error code {} ({})", e.code, when);
  }
}

}  // namespace

Strided strided(const Tensor& t, const char* op) {
  if (t.dim() > kMaxDims)
    fail(op, "tensors of more than {} dimensions are not implemented on cuda, got {}", kMaxDims, t.dim());
  Strided s;
  s.dims = static_cast<int>(t.dim());
  for (int d = 0; d < s.dims; ++d) {
    s.sizes[d] = t.shape()[d];
    s.strides[d] = t.strides()[d];
  }
  return s;
}

void require_dtype(const Tensor& t, std::initializer_list<DType> allowed, const char* op) {
  for (DType d : allowed)
    if (t.dtype() == d) return;
  fail(op, "{} is not implemented on cuda", dtype_name(t.dtype()));
}

namespace {

// Host -> device copies go through page-locked staging buffers, so the host need not wait for the
// device: the data is copied into a buffer at once and from there in stream order, and a buffer
// is reused once the copy that read it has run (an event per buffer). Copies larger than
// kStagedMax wait for the device instead.
class Staging {
 public:
  void upload(int device, void* dst, const void* src, std::size_t bytes, cudaStream_t st) {
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    FOVEA_CUDA_CHECK(cudaStreamIsCapturing(st, &capture), "copy");
    if (capture != cudaStreamCaptureStatusNone)  // a graph would replay the first data forever
      fail("copy",
           "a copy from the host cannot be part of a CUDA graph: copy into the graph's input tensors "
           "before replay() instead");
    if (bytes > kStagedMax) {
      FOVEA_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, st), "copy");
      FOVEA_CUDA_CHECK(cudaStreamSynchronize(st), "copy");  // src may be freed on return
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto& ring = rings_[device];
    Slot& s = ring.slots[ring.next];
    ring.next = (ring.next + 1) % kSlots;
    if (s.used) FOVEA_CUDA_CHECK(cudaEventSynchronize(s.done), "copy");  // its last copy has run
    if (s.bytes < bytes) {
      if (s.host) FOVEA_CUDA_CHECK(cudaFreeHost(s.host), "copy");
      s.host = nullptr;
      s.bytes = std::max(bytes, std::size_t{1} << 20);
      FOVEA_CUDA_CHECK(cudaMallocHost(&s.host, s.bytes), "copy");
    }
    if (!s.done) FOVEA_CUDA_CHECK(cudaEventCreateWithFlags(&s.done, cudaEventDisableTiming), "copy");
    std::memcpy(s.host, src, bytes);
    FOVEA_CUDA_CHECK(cudaMemcpyAsync(dst, s.host, bytes, cudaMemcpyHostToDevice, st), "copy");
    FOVEA_CUDA_CHECK(cudaEventRecord(s.done, st), "copy");
    s.used = true;
  }

 private:
  static constexpr std::size_t kStagedMax = std::size_t{64} << 20;
  static constexpr int kSlots = 4;
  struct Slot {
    void* host = nullptr;
    std::size_t bytes = 0;
    cudaEvent_t done = nullptr;
    bool used = false;
  };
  struct Ring {
    Slot slots[kSlots];
    int next = 0;
  };
  std::mutex mu_;
  std::map<int, Ring> rings_;
};

void upload(int device, void* dst, const void* src, std::size_t bytes, cudaStream_t st) {
  static auto* staging = new Staging;  // never destroyed: copies may run at exit
  staging->upload(device, dst, src, bytes, st);
}

}  // namespace

std::shared_ptr<std::byte> CudaBackend::allocate(std::size_t nbytes, Device d) {
  return allocator().allocate(d.index, nbytes);
}

void CudaBackend::synchronize(Device d) {
  FOVEA_CUDA_CHECK(cudaStreamSynchronize(device_stream(d.index)), "synchronize");
}

std::shared_ptr<std::byte> CudaBackend::allocate_pinned(std::size_t nbytes) {
  void* p = nullptr;
  FOVEA_CUDA_CHECK(cudaMallocHost(&p, std::max<std::size_t>(nbytes, 1)), "allocate_pinned");
  return std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [](std::byte* q) { cudaFreeHost(q); });
}

// Host <-> device through a contiguous buffer of the destination's dtype on each side; device
// <-> device by the strided copy kernel. Returns when the data is in place.
void CudaBackend::copy(const Tensor& src, const Tensor& dst) {
  const bool src_dev = src.device().type == DeviceType::cuda, dst_dev = dst.device().type == DeviceType::cuda;
  if (src_dev && dst_dev) {
    if (src.device() == dst.device()) return cuda::device_copy(src, dst);
    const Tensor s = src.to(dst.dtype()).contiguous();
    const Tensor d = dst.is_contiguous() ? dst : empty(dst.shape(), {.dtype = dst.dtype(), .device = dst.device()});
    FOVEA_CUDA_CHECK(cudaStreamSynchronize(stream_for(s)), "copy");  // s is ready
    cudaStream_t st = stream_for(d);
    FOVEA_CUDA_CHECK(cudaMemcpyPeerAsync(cuda::ptr(d), d.device().index, cuda::ptr(s), s.device().index,
                                         static_cast<std::size_t>(s.numel()) * dtype_size(s.dtype()), st),
                     "copy");
    if (!d.same(dst)) cuda::device_copy(d, dst);
    FOVEA_CUDA_CHECK(cudaStreamSynchronize(st), "copy");  // s may be freed on return
    return;
  }
  const std::size_t bytes = static_cast<std::size_t>(dst.numel()) * dtype_size(dst.dtype());
  if (dst_dev) {  // host -> device
    const Tensor h = src.to(dst.dtype()).contiguous();
    const Tensor d = dst.is_contiguous() ? dst : empty(dst.shape(), {.dtype = dst.dtype(), .device = dst.device()});
    upload(d.device().index, cuda::ptr(d), h.raw_data(), bytes, stream_for(d));
    if (!d.same(dst)) cuda::device_copy(d, dst);
    return;
  }
  // device -> host
  Tensor d = src;
  if (!src.is_contiguous() || src.dtype() != dst.dtype()) {
    d = empty(src.shape(), {.dtype = dst.dtype(), .device = src.device()});
    cuda::device_copy(src, d);
  }
  const Tensor h = dst.is_contiguous() ? dst : empty(dst.shape(), {.dtype = dst.dtype(), .device = kCPU});
  cudaStream_t st = stream_for(d);
  FOVEA_CUDA_CHECK(cudaMemcpyAsync(h.raw_data(), cuda::ptr(d), bytes, cudaMemcpyDeviceToHost, st), "copy");
  synchronize_and_raise(d.device().index, st);
  if (!h.same(dst)) backend_for(kCPU).copy(h, dst);
}

// Random fills draw on the host from the same generator and copy: a CUDA tensor gets exactly
// the numbers a CPU tensor would (dropout masks, initialisation), so runs agree across devices.
namespace {
template <typename F>
void host_random(const Tensor& out, F fill_cpu) {
  Tensor h = empty(out.shape(), {.dtype = out.dtype(), .device = kCPU});
  fill_cpu(h);
  backend_for(out).copy(h, out);
}
}  // namespace

void CudaBackend::uniform(const Tensor& out, double lo, double hi, Generator& g) {
  host_random(out, [&](const Tensor& h) { backend_for(kCPU).uniform(h, lo, hi, g); });
}
void CudaBackend::normal(const Tensor& out, double mean, double std, Generator& g) {
  host_random(out, [&](const Tensor& h) { backend_for(kCPU).normal(h, mean, std, g); });
}
void CudaBackend::bernoulli(const Tensor& out, double p, Generator& g) {
  host_random(out, [&](const Tensor& h) { backend_for(kCPU).bernoulli(h, p, g); });
}

Backend* cuda_backend() {
  static Backend* b = []() -> Backend* {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
      cudaGetLastError();
      return nullptr;
    }
    return new CudaBackend;  // lives for the process
  }();
  return b;
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
