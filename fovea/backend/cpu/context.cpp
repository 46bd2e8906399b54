// The CPU backend's context: the backend object, host memory (large tensors from a caching
// allocator of its own, small ones from malloc, both kept for reuse between training steps) and
// random fills.
#include <malloc.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "fovea/backend/cpu/cpu_backend.h"

namespace fovea::backend::cpu {

namespace {

// Tensors come and go every training step. glibc's malloc gives blocks above its mmap threshold
// (128 KiB at first, then raised by what the process happens to free) their own mappings and
// unmaps them on free, so the next step faults the same pages in again: about 10% of LeNet-5's
// training time here, and by how much varied from run to run with the allocation history (a
// build with CUDA libraries loaded differed from one without). Fixed thresholds keep blocks up
// to 32 MiB (glibc's largest threshold) in the heap for reuse and return memory to the system
// only beyond 1 GiB free at the top. Set once, on the first CPU allocation. Since tensors of
// kLargeBlock bytes and more come from BlockCache, this concerns small tensors and the few
// buffers oneDNN still allocates itself.
void keep_freed_blocks() {
#ifdef __GLIBC__
  static const bool set = [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    return true;
  }();
  (void)set;
#endif
}

// Random fills run sequentially on the generator so a seed gives the same numbers everywhere.
// out: contiguous (ops' random fills see to it).
template <typename F>
void random_fill(const Tensor& out, F draw) {
  FOVEA_DISPATCH_FLOAT(out.dtype(), "random", [&] {
    scalar_t* p = out.data<scalar_t>();
    for (std::int64_t i = 0, n = out.numel(); i < n; ++i) p[i] = static_cast<scalar_t>(draw());
  });
}

std::atomic<std::int64_t> g_live{0}, g_peak{0};

constexpr std::size_t kLargeBlock = 1 << 20;  // blocks from this size on come from BlockCache
constexpr std::size_t kPage = 4096;

// Tensors of kLargeBlock bytes and more come from segments mmap'd from the system and kept:
// best fit among the free blocks, a block split when the rest is worth keeping, neighbours
// merged again when freed (the scheme of PyTorch's CUDA caching allocator). A training step
// allocates the same sizes every step, so after the first the process holds about what a step
// needs at its peak, and a phase with other sizes (evaluation at another batch size, the smaller
// last batch) is carved out of the same memory. glibc's heap, which served these before, held
// 767 MB for resnet18's 464 MB peak (28x28, batch 64) in holes between blocks of other sizes,
// among them oneDNN's own buffers (docs/backend.md, "Memory"). When no free block fits, the
// segments that are entirely free (all too small) are unmapped before a new one is mapped.
class BlockCache {
 public:
  void* get(std::size_t bytes) {
    std::vector<std::pair<void*, std::size_t>> release;
    void* fresh = nullptr;
    std::size_t seg = 0;
    {
      std::lock_guard<std::mutex> lock(m_);
      auto it = free_.lower_bound({bytes, nullptr});
      if (it != free_.end()) {
        Block* b = it->second;
        free_.erase(it);
        free_bytes_ -= b->size;
        return take(b, bytes);
      }
      ++misses_;
      for (auto f = free_.begin(); f != free_.end();) {
        Block* b = f->second;
        if (b->prev || b->next) {
          ++f;
          continue;
        }
        release.emplace_back(b->ptr, b->size);
        free_bytes_ -= b->size;
        mapped_bytes_ -= b->size;
        f = free_.erase(f);
        delete b;
      }
    }
    for (auto [p, n] : release) munmap(p, n);
    seg = std::max((bytes + kSegment - 1) / kSegment * kSegment, kMinSegment);
    fresh = mmap(nullptr, seg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (fresh == MAP_FAILED) return nullptr;
    std::lock_guard<std::mutex> lock(m_);
    mapped_bytes_ += seg;
    return take(new Block{static_cast<char*>(fresh), seg, nullptr, nullptr}, bytes);
  }

  void put(void* p) {
    std::lock_guard<std::mutex> lock(m_);
    auto it = used_.find(p);
    Block* b = it->second;
    used_.erase(it);
    if (b->prev && is_free(b->prev)) {  // merge into the free block before
      Block* a = b->prev;
      unlist(a);
      absorb(a, b);
      b = a;
    }
    if (b->next && is_free(b->next)) {  // take in the free block after
      Block* c = b->next;
      unlist(c);
      absorb(b, c);
    }
    free_.emplace(std::pair{b->size, b->ptr}, b);
    free_bytes_ += b->size;
  }

  struct Stats {
    std::int64_t free_bytes, mapped_bytes, misses;
  };
  Stats stats() {
    std::lock_guard<std::mutex> lock(m_);
    return {static_cast<std::int64_t>(free_bytes_), static_cast<std::int64_t>(mapped_bytes_), misses_};
  }

 private:
  struct Block {
    char* ptr;
    std::size_t size;
    Block *prev, *next;  // neighbours in the segment
  };
  static constexpr std::size_t kSegment = 2 << 20;
  // large segments, so that a tensor larger than the ones a phase freed (evaluation at batch 256
  // after training at 64) still finds room beside them; pages are touched only when used
  static constexpr std::size_t kMinSegment = 128 << 20;

  // b, out of the free set: its first `bytes` become the allocation, a rest of at least
  // kLargeBlock stays free as a block of its own
  void* take(Block* b, std::size_t bytes) {
    if (b->size - bytes >= kLargeBlock) {
      auto* rest = new Block{b->ptr + bytes, b->size - bytes, b, b->next};
      if (b->next) b->next->prev = rest;
      b->next = rest;
      b->size = bytes;
      free_.emplace(std::pair{rest->size, rest->ptr}, rest);
      free_bytes_ += rest->size;
    }
    used_.emplace(b->ptr, b);
    return b->ptr;
  }
  bool is_free(const Block* b) const { return free_.count({b->size, b->ptr}) > 0; }
  void unlist(Block* b) {
    free_.erase({b->size, b->ptr});
    free_bytes_ -= b->size;
  }
  static void link(Block* a, Block* next) {
    a->next = next;
    if (next) next->prev = a;
  }
  // a and the block after it, b, become one block a
  static void absorb(Block* a, Block* b) {
    a->size += b->size;
    link(a, b->next);
    delete b;
  }

  std::mutex m_;
  std::map<std::pair<std::size_t, char*>, Block*> free_;  // by size, then address: best fit
  std::unordered_map<void*, Block*> used_;
  std::size_t free_bytes_ = 0, mapped_bytes_ = 0;
  std::int64_t misses_ = 0;
};

BlockCache& block_cache() {
  static auto* c = new BlockCache;  // never destroyed: tensors may outlive static destruction
  return *c;
}

void count_allocation(std::int64_t bytes) {
  const std::int64_t now = g_live.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  std::int64_t peak = g_peak.load(std::memory_order_relaxed);
  while (now > peak && !g_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

}  // namespace

Backend* cpu_backend() {
  static CpuBackend b;
  return &b;
}

std::shared_ptr<std::byte> CpuBackend::allocate(std::size_t nbytes, Device) {
  keep_freed_blocks();
  // 64-byte alignment for AVX-512 loads; never a null pointer, even for empty tensors
  std::size_t sz = ((nbytes + 63) / 64) * 64;
  if (sz == 0) sz = 64;
  if (sz >= kLargeBlock) {
    sz = (sz + kPage - 1) / kPage * kPage;
    void* p = block_cache().get(sz);
    if (!p) fail("alloc", "out of memory allocating {} bytes", nbytes);
    count_allocation(static_cast<std::int64_t>(sz));
    return std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [sz](std::byte* q) {
      g_live.fetch_sub(static_cast<std::int64_t>(sz), std::memory_order_relaxed);
      block_cache().put(q);
    });
  }
  void* p = std::aligned_alloc(64, sz);
  if (!p) fail("alloc", "out of memory allocating {} bytes", nbytes);
  const auto bytes = static_cast<std::int64_t>(sz);
  count_allocation(bytes);
  return std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [bytes](std::byte* q) {
    g_live.fetch_sub(bytes, std::memory_order_relaxed);
    std::free(q);
  });
}

void CpuBackend::uniform(const Tensor& out, double lo, double hi, Generator& g) {
  random_fill(out, [&] { return lo + (hi - lo) * g.uniform(); });
}
void CpuBackend::normal(const Tensor& out, double mean, double std, Generator& g) {
  random_fill(out, [&] { return mean + std * g.normal(); });
}
void CpuBackend::bernoulli(const Tensor& out, double p, Generator& g) {
  random_fill(out, [&] { return g.uniform() < p ? 1.0 : 0.0; });
}

}  // namespace fovea::backend::cpu

namespace fovea::backend {

MemoryStats cpu_memory_stats() {
  const auto c = cpu::block_cache().stats();
  return {.live_bytes = cpu::g_live.load(std::memory_order_relaxed),
          .peak_bytes = cpu::g_peak.load(std::memory_order_relaxed),
          .cached_bytes = c.free_bytes,
          .mapped_bytes = c.mapped_bytes,
          .cache_misses = c.misses};
}

void reset_cpu_peak_memory() { cpu::g_peak.store(cpu::g_live.load(std::memory_order_relaxed)); }

}  // namespace fovea::backend
