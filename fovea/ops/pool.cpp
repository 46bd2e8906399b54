// 2-D max and average pooling. Output size (per axis), as PyTorch:
//   out = floor_or_ceil((in + 2 pad - kernel) / stride) + 1, and with ceil_mode the last
//   window must start inside the input or its left padding.
// (https://pytorch.org/docs/stable/generated/torch.nn.MaxPool2d.html)
#include "fovea/ops/detail.h"

namespace fovea {

using detail::be;

namespace {

std::int64_t pool_out(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p, bool ceil_mode) {
  std::int64_t num = in + 2 * p - k;
  std::int64_t out = (ceil_mode ? (num + s - 1) / s : num / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

Tensor pool2d(const Tensor& x, const Pool2dOptions& o, backend::PoolKind kind, const char* op) {
  detail::check_defined(x, op, "input");
  if (x.dim() != 4) fail(op, "expected 4-D input (N,C,H,W), got {}", shape_str(x.shape()));
  const Pair k = o.kernel, s = (o.stride.h == 0 && o.stride.w == 0) ? o.kernel : o.stride, p = o.padding;
  if (k.h < 1 || k.w < 1) fail(op, "kernel must be >= 1, got {}x{}", k.h, k.w);
  if (s.h < 1 || s.w < 1) fail(op, "stride must be >= 1, got {}x{}", s.h, s.w);
  if (p.h < 0 || p.w < 0 || 2 * p.h > k.h || 2 * p.w > k.w)
    fail(op, "padding ({},{}) must be between 0 and half the kernel ({}x{})", p.h, p.w, k.h, k.w);
  const std::int64_t H = x.size(2), W = x.size(3);
  if (H + 2 * p.h < k.h || W + 2 * p.w < k.w)
    fail(op, "input {} is smaller than the kernel {}x{}", shape_str(x.shape()), k.h, k.w);
  const std::int64_t OH = pool_out(H, k.h, s.h, p.h, o.ceil_mode), OW = pool_out(W, k.w, s.w, p.w, o.ceil_mode);
  backend::Pool2dParams bp{.kind = kind,
                           .kernel = {k.h, k.w},
                           .stride = {s.h, s.w},
                           .padding = {p.h, (OH - 1) * s.h + k.h - H - p.h, p.w, (OW - 1) * s.w + k.w - W - p.w},
                           .pad_begin_limit = {p.h, p.w},
                           .count_include_pad = o.count_include_pad};
  Tensor xc = x.detach().contiguous();
  Tensor y = detail::new_empty(x, {x.size(0), x.size(1), OH, OW});
  const bool training = grad_enabled() && x.requires_grad();
  Tensor ws = be(x).pool2d_forward(xc, y, bp, training);
  return autograd::record(op, y, {x}, [xc, yd = y.detach(), ws, bp](const Tensor& g) {
    Tensor gx = detail::new_empty(xc, xc.shape());
    be(g).pool2d_backward(g.contiguous(), xc, yd, ws, gx, bp);
    return std::vector<Tensor>{gx};
  });
}

}  // namespace

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& o) { return pool2d(x, o, backend::PoolKind::max, "max_pool2d"); }
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& o) { return pool2d(x, o, backend::PoolKind::avg, "avg_pool2d"); }

}  // namespace fovea
