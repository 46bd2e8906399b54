// Max and average pooling on NCHW, one OpenMP task per (n, c) plane, with PyTorch's exact
// semantics (ceil_mode windows, the count_include_pad divisor, adaptive windows). oneDNN 2.6's
// pooling on plain NCHW with few channels measured 10x slower here in training (forward with
// workspace + backward: 808 us vs 80 us for LeNet-5's first pool, docs/backend.md), and its
// include-padding divisor differs from PyTorch's under ceil_mode.
#include <algorithm>
#include <limits>

#include "fovea/backend/cpu/cpu_backend.h"

namespace fovea::backend::cpu {

namespace {

using Window = PoolWindow;

// Window of output (oh, ow) of OH x OW (pool_window.h, shared with the CUDA kernels).
Window window(const Pool2dParams& p, std::int64_t oh, std::int64_t ow, std::int64_t H, std::int64_t W, std::int64_t OH,
              std::int64_t OW) {
  return pool_window(pool_plan(p, 0, H, W, OH, OW), oh, ow);
}

// Max over a window fully inside the plane, KH x KW known at compile time (0: runtime sizes).
template <typename T, int KH, int KW>
inline void max_window(const T* src, std::int64_t W, std::int64_t base, std::int64_t kh, std::int64_t kw, T& best,
                       std::int64_t& at) {
  const std::int64_t nh = KH ? KH : kh, nw = KW ? KW : kw;
  // branch-free selects: on random data a branch here mispredicts on nearly every element
  for (std::int64_t i = 0; i < nh; ++i)
    for (std::int64_t j = 0; j < nw; ++j) {
      const std::int64_t o = base + i * W + j;
      const T v = src[o];
      const bool take = (v > best) | (v != v);  // NaN wins, as in PyTorch
      best = take ? v : best;
      at = take ? o : at;
    }
}

// Output positions [lo, hi) along one axis whose windows lie inside the input.
std::pair<std::int64_t, std::int64_t> interior(std::int64_t out, std::int64_t in, std::int64_t k, std::int64_t s,
                                               std::int64_t pad) {
  const std::int64_t lo = std::min(out, (pad + s - 1) / s);
  std::int64_t hi = in + pad >= k ? (in + pad - k) / s + 1 : 0;
  hi = std::clamp(hi, lo, out);
  return {lo, hi};
}

// One plane: x (H,W) -> y (OH,OW), ind: flat h*W+w of each maximum (or null). Interior rows
// run a branch-free loop over the outputs (independent, so it vectorises); the border takes
// the general path.
template <typename T, int KH, int KW>
void max_plane(const T* src, T* dst, std::int64_t* di, std::int64_t H, std::int64_t W, std::int64_t OH, std::int64_t OW,
               const Pool2dParams& p) {
  const std::int64_t sh = p.stride[0], sw = p.stride[1], kh = p.kernel[0], kw = p.kernel[1];
  // adaptive windows differ in size, so every output takes the general path
  const std::pair<std::int64_t, std::int64_t> none{0, 0};
  const auto [ylo, yhi] = p.adaptive ? none : interior(OH, H, kh, sh, p.padding[0]);
  const auto [xlo, xhi] = p.adaptive ? none : interior(OW, W, kw, sw, p.padding[2]);
  auto border = [&](std::int64_t oh, std::int64_t ow) {
    const Window w = window(p, oh, ow, H, W, OH, OW);
    T best = -std::numeric_limits<T>::infinity();
    std::int64_t at = w.h0 * W + w.w0;
    for (std::int64_t h = w.h0; h < w.h1; ++h) max_window<T, 1, 0>(src, W, h * W + w.w0, 1, w.w1 - w.w0, best, at);
    dst[oh * OW + ow] = best;
    if (di) di[oh * OW + ow] = at;
  };
  for (std::int64_t oh = 0; oh < OH; ++oh) {
    if (oh < ylo || oh >= yhi) {
      for (std::int64_t ow = 0; ow < OW; ++ow) border(oh, ow);
      continue;
    }
    for (std::int64_t ow = 0; ow < xlo; ++ow) border(oh, ow);
    const std::int64_t row = (oh * sh - p.padding[0]) * W - p.padding[2];
    T* drow = dst + oh * OW;
    std::int64_t* irow = di ? di + oh * OW : nullptr;
    for (std::int64_t ow = xlo; ow < xhi; ++ow) {
      const std::int64_t base = row + ow * sw;
      T best = src[base];
      std::int64_t at = base;
      max_window<T, KH, KW>(src, W, base, kh, kw, best, at);
      drow[ow] = best;
      if (irow) irow[ow] = at;
    }
    for (std::int64_t ow = xhi; ow < OW; ++ow) border(oh, ow);
  }
}

template <typename T>
void avg_plane(const T* src, T* dst, std::int64_t H, std::int64_t W, std::int64_t OH, std::int64_t OW,
               const Pool2dParams& p) {
  for (std::int64_t oh = 0; oh < OH; ++oh)
    for (std::int64_t ow = 0; ow < OW; ++ow) {
      const Window w = window(p, oh, ow, H, W, OH, OW);
      T s = 0;
      for (std::int64_t h = w.h0; h < w.h1; ++h)
        for (std::int64_t c = w.w0; c < w.w1; ++c) s += src[h * W + c];
      dst[oh * OW + ow] = s / static_cast<T>(w.divisor);
    }
}

// x: (N,C,H,W) contiguous -> y: (N,C,OH,OW); ind (max, training): flat h*W+w of each maximum
template <typename T>
void pool_forward(const Tensor& x, const Tensor& y, std::int64_t* ind, const Pool2dParams& p) {
  const std::int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3), OH = y.size(2), OW = y.size(3);
  const T* px = x.data<T>();
  T* py = y.data<T>();
  // the common kernels get compile-time sizes so their windows unroll
  auto plane = max_plane<T, 0, 0>;
  if (!p.adaptive && p.kernel[0] == 2 && p.kernel[1] == 2) plane = max_plane<T, 2, 2>;
  if (!p.adaptive && p.kernel[0] == 3 && p.kernel[1] == 3) plane = max_plane<T, 3, 3>;
#pragma omp parallel for schedule(static) if (planes * OH * OW > 4096)
  for (std::int64_t pl = 0; pl < planes; ++pl) {
    if (p.kind == PoolKind::max)
      plane(px + pl * H * W, py + pl * OH * OW, ind ? ind + pl * OH * OW : nullptr, H, W, OH, OW, p);
    else avg_plane(px + pl * H * W, py + pl * OH * OW, H, W, OH, OW, p);
  }
}

template <typename T>
void pool_backward(const Tensor& gy, const std::int64_t* ind, const Tensor& gx, const Pool2dParams& p) {
  const std::int64_t planes = gx.size(0) * gx.size(1), H = gx.size(2), W = gx.size(3), OH = gy.size(2), OW = gy.size(3);
  const T* pg = gy.data<T>();
  T* px = gx.data<T>();
#pragma omp parallel for schedule(static) if (planes * H * W > 4096)
  for (std::int64_t pl = 0; pl < planes; ++pl) {
    T* dst = px + pl * H * W;
    const T* g = pg + pl * OH * OW;
    std::fill(dst, dst + H * W, T(0));
    if (p.kind == PoolKind::max) {
      const std::int64_t* di = ind + pl * OH * OW;
      for (std::int64_t o = 0; o < OH * OW; ++o) dst[di[o]] += g[o];
      continue;
    }
    for (std::int64_t oh = 0; oh < OH; ++oh)
      for (std::int64_t ow = 0; ow < OW; ++ow) {
        const Window w = window(p, oh, ow, H, W, OH, OW);
        const T share = g[oh * OW + ow] / static_cast<T>(w.divisor);
        for (std::int64_t h = w.h0; h < w.h1; ++h)
          for (std::int64_t c = w.w0; c < w.w1; ++c) dst[h * W + c] += share;
      }
  }
}

}  // namespace

Tensor CpuBackend::pool2d_forward(const Tensor& x, const Tensor& y, const Pool2dParams& p, bool training) {
  Tensor ind;
  if (training && p.kind == PoolKind::max) ind = empty(y.shape(), {.dtype = DType::i64});
  std::int64_t* pi = ind.defined() ? ind.data<std::int64_t>() : nullptr;
  FOVEA_DISPATCH_FLOAT(x.dtype(), "pool2d", [&] { pool_forward<scalar_t>(x, y, pi, p); });
  return ind;
}

void CpuBackend::pool2d_backward(const Tensor& gy, const Tensor& x, const Tensor& y, const Tensor& workspace,
                                 const Tensor& gx, const Pool2dParams& p) {
  (void)x;
  (void)y;
  if (p.kind == PoolKind::max && !workspace.defined())
    fail("max_pool2d", "backward needs the forward pass to run in training mode");
  const std::int64_t* pi = workspace.defined() ? workspace.data<std::int64_t>() : nullptr;
  FOVEA_DISPATCH_FLOAT(gx.dtype(), "pool2d", [&] { pool_backward<scalar_t>(gy, pi, gx, p); });
}

}  // namespace fovea::backend::cpu
