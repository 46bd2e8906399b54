#pragma once
// Internal helpers of fovea/data (not installed API).
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "fovea/core/generator.h"

namespace fovea::data::detail {

// A uniform random permutation of 0..n-1 (Fisher-Yates, Knuth TAOCP vol. 2, algorithm P).
inline std::vector<std::int64_t> permutation(std::int64_t n, Generator& g) {
  std::vector<std::int64_t> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  for (std::int64_t i = n - 1; i > 0; --i)
    std::swap(p[static_cast<std::size_t>(i)], p[g.below(static_cast<std::uint64_t>(i) + 1)]);
  return p;
}

}  // namespace fovea::data::detail
