// The CUDA backend's caching allocator (allocator.h).
#include "fovea/backend/cuda/allocator.h"

#include <cuda_runtime.h>

#include "fovea/backend/cuda/cuda_util.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

std::shared_ptr<std::byte> CachingAllocator::allocate(int device, std::size_t nbytes) {
  const std::size_t size = round(nbytes);
  void* p = nullptr;
  std::shared_ptr<GraphPool> pool;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = capturing_.find(device); it != capturing_.end()) pool = it->second;
    auto& free = pool ? pool->free[size] : free_[{device, size}];
    if (!free.empty()) {
      p = free.back();
      free.pop_back();
    }
  }
  if (!p) p = fresh(device, size);
  return std::shared_ptr<std::byte>(static_cast<std::byte*>(p),
                                    [this, device, size, pool](std::byte* q) { give_back(device, size, q, pool); });
}

// A block freed while a graph is captured may still be read by the work recorded before: it
// joins the capture's pool. One from an open pool goes back there; the rest to the cache.
void CachingAllocator::give_back(int device, std::size_t size, void* p, const std::shared_ptr<GraphPool>& origin) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = capturing_.find(device); it != capturing_.end()) {
    it->second->free[size].push_back(p);
  } else if (origin && origin->open) {
    origin->free[size].push_back(p);
  } else {
    free_[{device, size}].push_back(p);
  }
}

std::shared_ptr<GraphPool> CachingAllocator::begin_capture(int device) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = capturing_[device];
  if (slot) fail("graph", "a graph is already being captured on cuda:{}", device);
  slot = std::make_shared<GraphPool>();
  slot->device = device;
  return slot;
}

void CachingAllocator::end_capture(int device) {
  std::lock_guard<std::mutex> lock(mu_);
  capturing_.erase(device);
}

void CachingAllocator::close(const std::shared_ptr<GraphPool>& pool) {
  if (!pool) return;
  std::lock_guard<std::mutex> lock(mu_);
  pool->open = false;
  for (auto& [size, blocks] : pool->free) {
    auto& free = free_[{pool->device, size}];
    free.insert(free.end(), blocks.begin(), blocks.end());
  }
  pool->free.clear();
}

// 512-byte granules up to 1 MiB, then 2 MiB steps: little waste, few distinct sizes
std::size_t CachingAllocator::round(std::size_t n) {
  if (n == 0) return 512;
  if (n <= (1u << 20)) return (n + 511) / 512 * 512;
  return (n + (2u << 20) - 1) / (2u << 20) * (2u << 20);
}

void* CachingAllocator::fresh(int device, std::size_t size) {
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

void CachingAllocator::release(int device) {
  cudaStreamSynchronize(device_stream(device));
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, blocks] : free_)
    if (key.first == device) {
      for (void* b : blocks) cudaFree(b);
      blocks.clear();
    }
}

CachingAllocator& allocator() {
  static auto* a = new CachingAllocator;
  return *a;
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
