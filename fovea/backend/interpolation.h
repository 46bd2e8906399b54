#pragma once
// Source taps of 1-D interpolation with PyTorch's index formulas, shared by the resampling
// kernels of both devices (cpu/resample.cpp; cuda/resample.cpp uploads them) and the data
// pipeline's resize transform. Plain C++ on the host, as pool_window.h.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace fovea::backend::interp {

// The source taps of one output position along one axis: l0 * src[i0] + l1 * src[i1].
template <typename T>
struct Tap {
  std::int64_t i0, i1;
  T l0, l1;
};

// Nearest: src = min(floor(dst * scale), in - 1) in f32, scale = 1 / user scale or in / out,
// and exact shifts for out == in and out == 2 in (PyTorch's nearest_idx).
template <typename T>
std::vector<Tap<T>> nearest_taps(std::int64_t in, std::int64_t out, double user_scale) {
  const float scale =
      user_scale > 0 ? static_cast<float>(1.0 / user_scale) : static_cast<float>(in) / static_cast<float>(out);
  std::vector<Tap<T>> taps(static_cast<std::size_t>(out));
  for (std::int64_t i = 0; i < out; ++i) {
    std::int64_t s = i;
    if (out == 2 * in) s = i >> 1;
    else if (out != in) s = std::min(static_cast<std::int64_t>(std::floor(static_cast<float>(i) * scale)), in - 1);
    taps[i] = {s, s, T(1), T(0)};
  }
  return taps;
}

// Linear: align_corners maps the corner pixels onto each other, src = dst (in - 1) / (out - 1);
// otherwise pixel centres, src = max(scale (dst + 0.5) - 0.5, 0) with scale = 1 / user scale or
// in / out (area_pixel_compute_source_index, evaluated in double and stored in T as PyTorch does).
template <typename T>
std::vector<Tap<T>> linear_taps(std::int64_t in, std::int64_t out, bool align_corners, double user_scale) {
  T scale;
  if (align_corners) scale = out > 1 ? static_cast<T>(in - 1) / static_cast<T>(out - 1) : T(0);
  else scale = user_scale > 0 ? static_cast<T>(1.0 / user_scale) : static_cast<T>(in) / static_cast<T>(out);
  std::vector<Tap<T>> taps(static_cast<std::size_t>(out));
  for (std::int64_t i = 0; i < out; ++i) {
    if (out == in) {
      taps[i] = {i, i, T(1), T(0)};
      continue;
    }
    const T src = align_corners ? scale * static_cast<T>(i)
                                : std::max(static_cast<T>(scale * (static_cast<double>(i) + 0.5) - 0.5), T(0));
    const auto i0 = static_cast<std::int64_t>(src);
    const T l1 = std::clamp(src - static_cast<T>(i0), T(0), T(1));
    taps[i] = {i0, i0 + (i0 < in - 1 ? 1 : 0), T(1) - l1, l1};
  }
  return taps;
}

}  // namespace fovea::backend::interp
