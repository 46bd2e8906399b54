// The CPU allocator: large tensors reuse freed blocks (split and merged as needed), and the
// live / peak counters that `fovea summary --memory` is checked against.
#include <gtest/gtest.h>

#include "fovea/backend/backend.h"
#include "fovea/ops/ops.h"

using namespace fovea;

namespace {

constexpr std::int64_t kMiB = 1 << 20;

Tensor mib(std::int64_t n) { return empty({n * kMiB / 4}); }  // f32

TEST(CpuMemory, LargeBlocksAreReusedNotMappedAgain) {
  { Tensor warm = mib(8); }
  const auto before = backend::cpu_memory_stats();
  for (int i = 0; i < 20; ++i) {
    Tensor a = mib(8), b = mib(3);
    a.fill_(1.0);
    b.fill_(2.0);
  }
  const auto after = backend::cpu_memory_stats();
  EXPECT_EQ(after.cache_misses, before.cache_misses);  // 20 steps, nothing mapped
  EXPECT_EQ(after.live_bytes, before.live_bytes);
}

TEST(CpuMemory, FreedBlocksAreSplitAndMergedAgain) {
  { Tensor big = mib(16); }
  const auto before = backend::cpu_memory_stats();
  {
    Tensor a = mib(4), b = mib(4), c = mib(4);  // carved out of the freed 16 MiB
    a.fill_(1.0);
    b.fill_(2.0);
    c.fill_(3.0);
    EXPECT_EQ(sum(a).item(), static_cast<double>(kMiB));  // nothing overlaps
    EXPECT_EQ(sum(b).item(), 2.0 * kMiB);
    EXPECT_EQ(sum(c).item(), 3.0 * kMiB);
  }
  { Tensor again = mib(16); }  // the pieces merged back into one block
  EXPECT_EQ(backend::cpu_memory_stats().cache_misses, before.cache_misses);
}

TEST(CpuMemory, LiveAndPeakCountTensorBytes) {
  const auto start = backend::cpu_memory_stats();
  backend::reset_cpu_peak_memory();
  {
    Tensor a = mib(10);
    const auto mid = backend::cpu_memory_stats();
    EXPECT_EQ(mid.live_bytes - start.live_bytes, 10 * kMiB);
    EXPECT_GE(mid.peak_bytes, mid.live_bytes);
    Tensor small = empty({1000});  // malloc'd: counted too (64-byte multiples)
    EXPECT_EQ(backend::cpu_memory_stats().live_bytes - mid.live_bytes, 4032);
  }
  const auto end = backend::cpu_memory_stats();
  EXPECT_EQ(end.live_bytes, start.live_bytes);
  EXPECT_GE(end.peak_bytes - start.live_bytes, 10 * kMiB);
  backend::reset_cpu_peak_memory();
  EXPECT_EQ(backend::cpu_memory_stats().peak_bytes, end.live_bytes);
}

}  // namespace
