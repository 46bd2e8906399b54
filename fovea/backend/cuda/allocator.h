#pragma once
// The CUDA backend's caching allocator (allocator.cpp), shared by the backend object (context.cpp)
// and graph capture (graph.cpp).
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "fovea/backend/cuda/abi.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

// The memory of one CUDA graph: every block allocated, or given back, on its device while the
// graph is captured. Its replays write those addresses, so the blocks serve nothing else until
// the graph is destroyed and the pool closed.
struct GraphPool {
  int device = 0;
  bool open = true;
  std::map<std::size_t, std::vector<void*>> free;  // by rounded size
};

// Blocks are kept by rounded size after their tensors die and reused for the next request of
// that size: cudaMalloc / cudaFree synchronise the device and cost far more than a kernel.
// Reuse is safe without events because all work of a device runs on its one stream, in order.
class CachingAllocator {
 public:
  std::shared_ptr<std::byte> allocate(int device, std::size_t nbytes);

  // From here until end_capture, the device's allocations come from (and its freed blocks go
  // to) a new pool; throws when a capture is already running on the device.
  std::shared_ptr<GraphPool> begin_capture(int device);
  void end_capture(int device);
  // The graph is gone: its pool's blocks return to the cache (blocks still held by tensors
  // return when those die).
  void close(const std::shared_ptr<GraphPool>& pool);

 private:
  static std::size_t round(std::size_t n);
  void* fresh(int device, std::size_t size);
  void release(int device);
  void give_back(int device, std::size_t size, void* p, const std::shared_ptr<GraphPool>& origin);

  std::mutex mu_;
  std::map<std::pair<int, std::size_t>, std::vector<void*>> free_;
  std::map<int, std::shared_ptr<GraphPool>> capturing_;
};

// The process's allocator (never destroyed: blocks may be given back at exit).
CachingAllocator& allocator();

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
