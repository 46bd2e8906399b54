// Nearest and bilinear resampling on NCHW, one OpenMP task per (n, c) plane, with PyTorch's
// source-index rules in the same precision as PyTorch's CPU kernels, so results match bit for
// bit where the arithmetic order allows (aten/src/ATen/native/UpSample.h, v1.13:
// https://github.com/pytorch/pytorch/blob/v1.13.0/aten/src/ATen/native/UpSample.h).
#include <algorithm>
#include <cmath>
#include <vector>

#include "fovea/backend/cpu/cpu_backend.h"
#include "fovea/backend/interpolation.h"

namespace fovea::backend::cpu {

namespace {

using interp::linear_taps;
using interp::nearest_taps;
using interp::Tap;

template <typename T>
std::vector<Tap<T>> taps_for(const Resample2dParams& p, int axis, std::int64_t in, std::int64_t out) {
  if (p.mode == ResampleMode::nearest) return nearest_taps<T>(in, out, p.scale[axis]);
  return linear_taps<T>(in, out, p.align_corners, p.scale[axis]);
}

// x: (N,C,H,W) -> y: (N,C,OH,OW)
template <typename T>
void resample_forward(const Tensor& x, const Tensor& y, const Resample2dParams& p) {
  const std::int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3), OH = y.size(2), OW = y.size(3);
  const auto th = taps_for<T>(p, 0, H, OH), tw = taps_for<T>(p, 1, W, OW);
  const T* px = x.data<T>();
  T* py = y.data<T>();
#pragma omp parallel for schedule(static) if (planes * OH * OW > 4096)
  for (std::int64_t pl = 0; pl < planes; ++pl) {
    const T* src = px + pl * H * W;
    T* dst = py + pl * OH * OW;
    for (std::int64_t oh = 0; oh < OH; ++oh) {
      const Tap<T>& a = th[oh];
      const T* r0 = src + a.i0 * W;
      const T* r1 = src + a.i1 * W;
      T* out = dst + oh * OW;
      if (p.mode == ResampleMode::nearest) {
        for (std::int64_t ow = 0; ow < OW; ++ow) out[ow] = r0[tw[ow].i0];
        continue;
      }
      for (std::int64_t ow = 0; ow < OW; ++ow) {
        const Tap<T>& b = tw[ow];
        out[ow] = a.l0 * (b.l0 * r0[b.i0] + b.l1 * r0[b.i1]) + a.l1 * (b.l0 * r1[b.i0] + b.l1 * r1[b.i1]);
      }
    }
  }
}

// The transpose of the forward: each output's gradient goes back to its taps with their weights.
template <typename T>
void resample_backward(const Tensor& gy, const Tensor& gx, const Resample2dParams& p) {
  const std::int64_t planes = gx.size(0) * gx.size(1), H = gx.size(2), W = gx.size(3), OH = gy.size(2), OW = gy.size(3);
  const auto th = taps_for<T>(p, 0, H, OH), tw = taps_for<T>(p, 1, W, OW);
  const T* pg = gy.data<T>();
  T* px = gx.data<T>();
#pragma omp parallel for schedule(static) if (planes * OH * OW > 4096)
  for (std::int64_t pl = 0; pl < planes; ++pl) {
    const T* g = pg + pl * OH * OW;
    T* dst = px + pl * H * W;
    std::fill(dst, dst + H * W, T(0));
    for (std::int64_t oh = 0; oh < OH; ++oh) {
      const Tap<T>& a = th[oh];
      T* r0 = dst + a.i0 * W;
      T* r1 = dst + a.i1 * W;
      const T* gr = g + oh * OW;
      if (p.mode == ResampleMode::nearest) {
        for (std::int64_t ow = 0; ow < OW; ++ow) r0[tw[ow].i0] += gr[ow];
        continue;
      }
      for (std::int64_t ow = 0; ow < OW; ++ow) {
        const Tap<T>& b = tw[ow];
        const T v = gr[ow];
        r0[b.i0] += a.l0 * b.l0 * v;
        r0[b.i1] += a.l0 * b.l1 * v;
        r1[b.i0] += a.l1 * b.l0 * v;
        r1[b.i1] += a.l1 * b.l1 * v;
      }
    }
  }
}

}  // namespace

void CpuBackend::resample2d_forward(const Tensor& x, const Tensor& y, const Resample2dParams& p) {
  FOVEA_DISPATCH_FLOAT(x.dtype(), "upsample", [&] { resample_forward<scalar_t>(x, y, p); });
}

void CpuBackend::resample2d_backward(const Tensor& gy, const Tensor& gx, const Resample2dParams& p) {
  FOVEA_DISPATCH_FLOAT(gx.dtype(), "upsample", [&] { resample_backward<scalar_t>(gy, gx, p); });
}

}  // namespace fovea::backend::cpu
