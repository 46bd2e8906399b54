// Convolution on CUDA: the layout work around cuDNN (library.h). Asymmetric padding
// (TensorFlow's "same" with stride > 1), which cuDNN lacks, runs on an explicitly zero-padded
// copy of the input; operands are made contiguous, and outputs written through a contiguous
// buffer when they are views.
#include "fovea/backend/cuda/cuda_backend.h"
#include "fovea/backend/cuda/cuda_util.h"
#include "fovea/backend/cuda/library.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

// (N,C,H,W) -> (N,C,H+top+bottom,W+left+right), and the view of the original inside it
Shape padded_shape(const Tensor& x, const Conv2dParams& p) {
  return {x.size(0), x.size(1), x.size(2) + p.padding[0] + p.padding[1], x.size(3) + p.padding[2] + p.padding[3]};
}
Tensor interior(const Tensor& xp, const Tensor& x, const Conv2dParams& p) {
  return xp.slice(2, p.padding[0], p.padding[0] + x.size(2)).slice(3, p.padding[2], p.padding[2] + x.size(3));
}

// Zero-padded copy of x for asymmetric padding.
Tensor padded(const Tensor& x, const Conv2dParams& p) {
  Tensor xp = zeros(padded_shape(x, p), {.dtype = x.dtype(), .device = x.device()});
  device_copy(x, interior(xp, x, p));
  return xp;
}

bool asymmetric(const Conv2dParams& p) { return p.padding[0] != p.padding[1] || p.padding[2] != p.padding[3]; }

Conv2dParams unpadded(Conv2dParams p) {
  p.padding = {0, 0, 0, 0};
  return p;
}
Tensor contiguous_on_device(const Tensor& t) { return t.is_contiguous() ? t : t.contiguous(); }

// Runs write(o) on out itself when contiguous, else on a contiguous buffer copied into out.
template <typename F>
void write_contiguous(const Tensor& out, F write) {
  if (out.is_contiguous()) return write(out);
  const Tensor o = empty(out.shape(), {.dtype = out.dtype(), .device = out.device()});
  write(o);
  device_copy(o, out);
}

}  // namespace

void CudaBackend::conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* b, const Tensor& y,
                                 const Conv2dParams& p) {
  if (asymmetric(p)) return conv2d_forward(padded(x, p), w, b, y, unpadded(p));
  const Tensor bias = b ? contiguous_on_device(*b) : Tensor();
  write_contiguous(y, [&](const Tensor& o) {
    library_conv_forward(contiguous_on_device(x), contiguous_on_device(w), b ? &bias : nullptr, o, p);
  });
}

void CudaBackend::conv2d_backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx, const Conv2dParams& p) {
  if (asymmetric(p)) {
    const Tensor gxp = empty(padded_shape(gx, p), {.dtype = gx.dtype(), .device = gx.device()});
    conv2d_backward_data(gy, w, gxp, unpadded(p));
    device_copy(interior(gxp, gx, p), gx);
    return;
  }
  write_contiguous(gx, [&](const Tensor& o) {
    library_conv_backward_data(contiguous_on_device(gy), contiguous_on_device(w), o, p);
  });
}

void CudaBackend::conv2d_backward_weights(const Tensor& gy, const Tensor& x, const Tensor& gw, const Tensor* gb,
                                          const Conv2dParams& p) {
  if (asymmetric(p)) return conv2d_backward_weights(gy, padded(x, p), gw, gb, unpadded(p));
  const Tensor gyc = contiguous_on_device(gy), xc = contiguous_on_device(x);
  if (!gb) return write_contiguous(gw, [&](const Tensor& o) { library_conv_backward_weights(gyc, xc, o, nullptr, p); });
  write_contiguous(gw, [&](const Tensor& o) {
    write_contiguous(*gb, [&](const Tensor& ob) { library_conv_backward_weights(gyc, xc, o, &ob, p); });
  });
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
