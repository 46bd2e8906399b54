#pragma once
// Strided loops over up to three operands of one shape. Dimensions that are contiguous in
// every operand are merged, so most calls run one flat, vectorisable inner loop.
#include <omp.h>

#include <array>
#include <cstdint>
#include <vector>

#include "fovea/core/tensor.h"

namespace fovea::backend::cpu {

inline constexpr std::int64_t kParallelGrain = 32768;

template <int N>
struct Loop {
  std::vector<std::int64_t> sizes;                   // collapsed dims, outermost first
  std::vector<std::array<std::int64_t, N>> strides;  // per dim, per operand (elements)
  std::int64_t numel = 1;
};

template <int N>
Loop<N> make_loop(const Shape& shape, const std::array<const Shape*, N>& strides) {
  Loop<N> l;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    std::array<std::int64_t, N> s{};
    for (int k = 0; k < N; ++k) s[k] = (*strides[k])[d];
    if (!l.sizes.empty()) {
      bool merge = true;
      for (int k = 0; k < N; ++k) merge &= l.strides.back()[k] == s[k] * shape[d];
      if (merge) {
        l.sizes.back() *= shape[d];
        l.strides.back() = s;
        continue;
      }
    }
    l.sizes.push_back(shape[d]);
    l.strides.push_back(s);
  }
  l.numel = numel(shape);
  if (l.sizes.empty()) {
    l.sizes.push_back(1);
    l.strides.push_back({});
  }
  return l;
}

// Calls row(offsets, n, inner_strides) for every innermost row; rows run in parallel when large.
template <int N, typename Row>
void run_loop(const Loop<N>& l, Row row) {
  const int nd = static_cast<int>(l.sizes.size());
  const std::int64_t inner = l.sizes[nd - 1];
  const std::int64_t rows = l.numel / std::max<std::int64_t>(inner, 1);
  if (l.numel == 0) return;
  auto body = [&](std::int64_t r) {
    std::array<std::int64_t, N> off{};
    std::int64_t rem = r;
    for (int d = nd - 2; d >= 0; --d) {
      std::int64_t i = rem % l.sizes[d];
      rem /= l.sizes[d];
      for (int k = 0; k < N; ++k) off[k] += i * l.strides[d][k];
    }
    row(off, inner, l.strides[nd - 1]);
  };
  if (l.numel >= kParallelGrain && rows > 1) {
#pragma omp parallel for schedule(static)
    for (std::int64_t r = 0; r < rows; ++r) body(r);
  } else if (rows == 1 && inner >= kParallelGrain) {
    // one long row: split it into chunks
    const std::int64_t chunks = omp_get_max_threads();
    const std::int64_t step = (inner + chunks - 1) / chunks;
#pragma omp parallel for schedule(static)
    for (std::int64_t c = 0; c < chunks; ++c) {
      std::int64_t b = c * step, e = std::min(inner, b + step);
      if (b >= e) continue;
      std::array<std::int64_t, N> off{};
      for (int k = 0; k < N; ++k) off[k] = b * l.strides[nd - 1][k];
      row(off, e - b, l.strides[nd - 1]);
    }
  } else {
    for (std::int64_t r = 0; r < rows; ++r) body(r);
  }
}

}  // namespace fovea::backend::cpu
