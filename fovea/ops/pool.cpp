// 2-D max, average and adaptive pooling, and max unpooling. Output size of max and average
// pooling: pool_output_size.
#include "fovea/ops/detail.h"
#include "fovea/ops/trace.h"

namespace fovea {

using detail::be;

std::int64_t pool_output_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p, bool ceil_mode,
                              std::int64_t d) {
  if (in < 1 || k < 1 || s < 1 || d < 1 || p < 0)
    fail("pool_output_size", "sizes must be positive and padding non-negative");
  const std::int64_t span = in + 2 * p - d * (k - 1) - 1;
  if (span < 0) fail("pool_output_size", "input {} with padding {} is smaller than the kernel {}", in, p, k);
  std::int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

namespace {

void check_input(const Tensor& x, const char* op) {
  detail::check_defined(x, op, "input");
  if (x.dim() != 4) fail(op, "expected 4-D input (N,C,H,W), got {}", shape_str(x.shape()));
}

// Runs the kernel into a new (N,C,out.h,out.w) and records the backward. Max pooling keeps the
// argmax indices (its workspace) when the caller wants them or the backward needs them.
PoolWithIndices run_pool(const Tensor& x, const backend::Pool2dParams& bp, Pair out, bool want_indices,
                         const char* op) {
  Tensor xc = x.detach().contiguous();
  Tensor y = detail::new_empty(x, {x.size(0), x.size(1), out.h, out.w});
  const bool training = want_indices || (grad_enabled() && x.requires_grad());
  Tensor ws = be(x).pool2d_forward(xc, y, bp, training);
  Tensor yr = autograd::record(op, y, {x}, [xc, yd = y.detach(), ws, bp](const Tensor& g) {
    Tensor gx = detail::new_empty(xc, xc.shape());
    be(g).pool2d_backward(g.contiguous(), xc, yd, ws, gx, bp);
    return std::vector<Tensor>{gx};
  });
  return {yr, ws};
}

PoolWithIndices pool2d(const Tensor& x, const Pool2dOptions& o, backend::PoolKind kind, bool want_indices,
                       const char* op) {
  check_input(x, op);
  const Pair k = o.kernel, s = (o.stride.h == 0 && o.stride.w == 0) ? o.kernel : o.stride, p = o.padding;
  if (k.h < 1 || k.w < 1) fail(op, "kernel must be >= 1, got {}x{}", k.h, k.w);
  if (s.h < 1 || s.w < 1) fail(op, "stride must be >= 1, got {}x{}", s.h, s.w);
  if (p.h < 0 || p.w < 0 || 2 * p.h > k.h || 2 * p.w > k.w)
    fail(op, "padding ({},{}) must be between 0 and half the kernel ({}x{})", p.h, p.w, k.h, k.w);
  const std::int64_t H = x.size(2), W = x.size(3);
  if (H + 2 * p.h < k.h || W + 2 * p.w < k.w)
    fail(op, "input {} is smaller than the kernel {}x{}", shape_str(x.shape()), k.h, k.w);
  const std::int64_t OH = pool_output_size(H, k.h, s.h, p.h, o.ceil_mode);
  const std::int64_t OW = pool_output_size(W, k.w, s.w, p.w, o.ceil_mode);
  backend::Pool2dParams bp{.kind = kind,
                           .kernel = {k.h, k.w},
                           .stride = {s.h, s.w},
                           .padding = {p.h, (OH - 1) * s.h + k.h - H - p.h, p.w, (OW - 1) * s.w + k.w - W - p.w},
                           .pad_begin_limit = {p.h, p.w},
                           .count_include_pad = o.count_include_pad};
  return run_pool(x, bp, {OH, OW}, want_indices, op);
}

// Adaptive pooling (https://pytorch.org/docs/1.13/generated/torch.nn.AdaptiveAvgPool2d.html):
// output i along an axis of size H pools [floor(i H / out), ceil((i + 1) H / out)).
Tensor adaptive_pool2d(const Tensor& x, Pair out, backend::PoolKind kind, const char* op) {
  check_input(x, op);
  if (out.h < 1 || out.w < 1) fail(op, "output size must be >= 1, got {}x{}", out.h, out.w);
  if (x.size(2) < 1 || x.size(3) < 1) fail(op, "expected a non-empty input plane, got {}", shape_str(x.shape()));
  return run_pool(x, {.kind = kind, .adaptive = true}, out, false, op).values;
}

}  // namespace

// ONNX attributes of a pooling call, for export
static trace::Attrs pool_attrs(const Pool2dOptions& o) {
  const Pair s = (o.stride.h == 0 && o.stride.w == 0) ? o.kernel : o.stride;
  return {{"kernel_shape", trace::ints(o.kernel)},
          {"strides", trace::ints(s)},
          {"pads", std::vector<std::int64_t>{o.padding.h, o.padding.w, o.padding.h, o.padding.w}},
          {"ceil_mode", std::int64_t{o.ceil_mode}},
          {"count_include_pad", std::int64_t{o.count_include_pad}}};
}

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& o) {
  return trace::traced(pool2d(x, o, backend::PoolKind::max, false, "max_pool2d").values, "MaxPool", {x}, pool_attrs(o));
}
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& o) {
  return trace::traced(pool2d(x, o, backend::PoolKind::avg, false, "avg_pool2d").values, "AveragePool", {x},
                       pool_attrs(o));
}
PoolWithIndices max_pool2d_with_indices(const Tensor& x, const Pool2dOptions& o) {
  return pool2d(x, o, backend::PoolKind::max, true, "max_pool2d_with_indices");
}

Tensor adaptive_avg_pool2d(const Tensor& x, Pair out) {
  return trace::traced(adaptive_pool2d(x, out, backend::PoolKind::avg, "adaptive_avg_pool2d"), "AdaptiveAvgPool", {x},
                       {{"output_size", trace::ints(out)}});
}
Tensor adaptive_max_pool2d(const Tensor& x, Pair out) {
  return trace::traced(adaptive_pool2d(x, out, backend::PoolKind::max, "adaptive_max_pool2d"), "AdaptiveMaxPool", {x},
                       {{"output_size", trace::ints(out)}});
}
Tensor global_avg_pool2d(const Tensor& x) {
  return trace::traced(adaptive_pool2d(x, 1, backend::PoolKind::avg, "global_avg_pool2d"), "GlobalAveragePool", {x});
}

// Max unpooling (https://pytorch.org/docs/1.13/generated/torch.nn.MaxUnpool2d.html): each value
// goes to its index in a zero plane of the output size, the partial inverse of max pooling.
// Overlapping pooling windows can pick one maximum twice; such a position receives the mean of
// the values sent to it, which is that maximum (PyTorch keeps one of them).
Tensor max_unpool2d(const Tensor& x, const Tensor& indices, Pair output_size) {
  const char* op = "max_unpool2d";
  check_input(x, op);
  detail::check_defined(indices, op, "indices");
  detail::check_floating(x, op);
  if (indices.dtype() != DType::i64) fail(op, "expected i64 indices, got {}", dtype_name(indices.dtype()));
  if (indices.shape() != x.shape())
    fail(op, "indices {} must have the input's shape {}", shape_str(indices.shape()), shape_str(x.shape()));
  detail::check_same_device(x, indices, op);
  if (output_size.h < 1 || output_size.w < 1)
    fail(op, "output size must be >= 1, got {}x{}", output_size.h, output_size.w);
  // per plane: x (M = N C, J = h w) -> (M, K = H' W')
  const std::int64_t N = x.size(0), C = x.size(1), M = N * C, J = x.size(2) * x.size(3);
  const std::int64_t K = output_size.h * output_size.w;
  Tensor idx = indices.detach().contiguous().view({M, J});
  if (!x.is_meta() && idx.numel() > 0) {
    const auto lo = static_cast<std::int64_t>(min(idx).item()), hi = static_cast<std::int64_t>(max(idx).item());
    if (lo < 0 || hi >= K)
      fail(op, "index {} out of range for output {}x{} ({} positions per plane)", lo < 0 ? lo : hi, output_size.h,
           output_size.w, K);
  }
  Tensor y;
  {
    NoGradGuard no_grad;
    Tensor src = x.detach().contiguous().view({M, J});
    Tensor total = zeros({N, C, output_size.h, output_size.w}, {.dtype = x.dtype(), .device = x.device()});
    Tensor count = zeros_like(total);
    be(x).scatter_add_rows(src, idx, total.view({M, K}));
    be(x).scatter_add_rows(ones_like(src), idx, count.view({M, K}));
    y = total / maximum(count, scalar_like(1.0, count));
  }
  // the gradient gathers from the indices (PyTorch's max_unpool2d backward)
  return autograd::record(op, y, {x}, [idx, xs = x.shape(), M, K](const Tensor& g) {
    Tensor gx = detail::new_empty(g, {M, idx.size(1)});
    be(g).gather_rows(g.contiguous().view({M, K}), idx, gx);
    return std::vector<Tensor>{gx.view(xs)};
  });
}

}  // namespace fovea
