// The CPU backend's context: the backend object, host memory (aligned, and kept by malloc for
// reuse between training steps) and random fills.
#include <malloc.h>

#include <cstdlib>

#include "fovea/backend/cpu/cpu_backend.h"

namespace fovea::backend::cpu {

namespace {

// Tensors come and go every training step. glibc's malloc gives blocks above its mmap threshold
// (128 KiB at first, then raised by what the process happens to free) their own mappings and
// unmaps them on free, so the next step faults the same pages in again: about 10% of LeNet-5's
// training time here, and by how much varied from run to run with the allocation history (a
// build with CUDA libraries loaded differed from one without). Fixed thresholds keep blocks up
// to 32 MiB (glibc's largest threshold) in the heap for reuse and return memory to the system
// only beyond 1 GiB free at the top. Set once, on the first CPU allocation.
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

}  // namespace

Backend* cpu_backend() {
  static CpuBackend b;
  return &b;
}

std::shared_ptr<std::byte> CpuBackend::allocate(std::size_t nbytes, Device) {
  keep_freed_blocks();
  // 64-byte alignment for AVX-512 loads; never a null pointer, even for empty tensors
  std::size_t sz = ((nbytes + 63) / 64) * 64;
  void* p = std::aligned_alloc(64, sz == 0 ? 64 : sz);
  if (!p) fail("alloc", "out of memory allocating {} bytes", nbytes);
  return std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [](std::byte* q) { std::free(q); });
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
