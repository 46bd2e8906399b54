// The CUDA backend's context: error checks, one stream per device, the caching allocator,
// copies between host and device, random fills, and the backend object itself.
#include <fmt/format.h>

#include <map>
#include <mutex>
#include <vector>

#include "fovea/backend/cuda/cuda_backend.h"
#include "fovea/backend/cuda/cuda_util.h"

namespace fovea::backend {

namespace cuda {

void check(cudaError_t e, const char* op) {
  if (e != cudaSuccess) fail(op, "CUDA error: {}: {}", cudaGetErrorName(e), cudaGetErrorString(e));
}

namespace {

constexpr int kMaxDevices = 16;

struct DeviceState {
  std::once_flag made;
  cudaStream_t stream = nullptr;
};

DeviceState& state(int device) {
  static DeviceState states[kMaxDevices];
  if (device < 0 || device >= kMaxDevices) fail("cuda", "device index {} out of range", device);
  return states[device];
}

// Blocks are kept by rounded size after their tensors die and reused for the next request of
// that size: cudaMalloc / cudaFree synchronise the device and cost far more than a kernel.
// Reuse is safe without events because all work of a device runs on its one stream, in order.
class CachingAllocator {
 public:
  std::shared_ptr<std::byte> allocate(int device, std::size_t nbytes) {
    const std::size_t size = round(nbytes);
    void* p = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto& free = free_[{device, size}];
      if (!free.empty()) {
        p = free.back();
        free.pop_back();
      }
    }
    if (!p) p = fresh(device, size);
    return std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [this, device, size](std::byte* q) {
      std::lock_guard<std::mutex> lock(mu_);
      free_[{device, size}].push_back(q);
    });
  }

 private:
  // 512-byte granules up to 1 MiB, then 2 MiB steps: little waste, few distinct sizes
  static std::size_t round(std::size_t n) {
    if (n == 0) return 512;
    if (n <= (1u << 20)) return (n + 511) / 512 * 512;
    return (n + (2u << 20) - 1) / (2u << 20) * (2u << 20);
  }

  void* fresh(int device, std::size_t size) {
    FOVEA_CUDA_CHECK(cudaSetDevice(device), "cuda");
    void* p = nullptr;
    if (cudaMalloc(&p, size) == cudaSuccess) return p;
    cudaGetLastError();  // clear the out-of-memory error, give the cache back and try once more
    release(device);
    if (cudaMalloc(&p, size) == cudaSuccess) return p;
    cudaGetLastError();
    std::size_t free_bytes = 0, total = 0;
    cudaMemGetInfo(&free_bytes, &total);
    fail("cuda", "out of memory on cuda:{}: asked for {:.1f} MiB, {:.1f} of {:.1f} MiB free", device,
         static_cast<double>(size) / (1 << 20), static_cast<double>(free_bytes) / (1 << 20),
         static_cast<double>(total) / (1 << 20));
  }

  void release(int device) {
    cudaStreamSynchronize(state(device).stream);
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, blocks] : free_)
      if (key.first == device) {
        for (void* b : blocks) cudaFree(b);
        blocks.clear();
      }
  }

  std::mutex mu_;
  std::map<std::pair<int, std::size_t>, std::vector<void*>> free_;
};

CachingAllocator& allocator() {
  static auto* a = new CachingAllocator;  // never destroyed: blocks may be returned at exit
  return *a;
}

}  // namespace

cudaStream_t stream_for(const Tensor& t) {
  const int device = t.device().index;
  FOVEA_CUDA_CHECK(cudaSetDevice(device), "cuda");
  DeviceState& s = state(device);
  std::call_once(s.made, [&] { FOVEA_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking), "cuda"); });
  return s.stream;
}

Strided strided(const Tensor& t, const char* op) {
  if (t.dim() > kMaxDims) fail(op, "tensors of more than {} dimensions are not implemented on cuda, got {}", kMaxDims, t.dim());
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

}  // namespace cuda

using cuda::stream_for;

std::shared_ptr<std::byte> CudaBackend::allocate(std::size_t nbytes, Device d) {
  return cuda::allocator().allocate(d.index, nbytes);
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
    cudaStream_t st = stream_for(d);
    FOVEA_CUDA_CHECK(cudaMemcpyAsync(cuda::ptr(d), h.raw_data(), bytes, cudaMemcpyHostToDevice, st), "copy");
    FOVEA_CUDA_CHECK(cudaStreamSynchronize(st), "copy");  // h may be freed on return
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
  FOVEA_CUDA_CHECK(cudaStreamSynchronize(st), "copy");
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
  static Backend* b = [] () -> Backend* {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
      cudaGetLastError();
      return nullptr;
    }
    return new CudaBackend;  // lives for the process
  }();
  return b;
}

}  // namespace fovea::backend
