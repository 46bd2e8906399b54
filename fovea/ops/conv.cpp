// 2-D convolution. Output size (per axis):
//   out = floor((in + pad_begin + pad_end - dilation * (kernel - 1) - 1) / stride) + 1
// (https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html)
#include <cstring>

#include "fovea/ops/detail.h"

namespace fovea {

using detail::be;

Padding Padding::parse(const char* name) {
  if (!std::strcmp(name, "valid")) return PadMode::valid;
  if (!std::strcmp(name, "same")) return PadMode::same;
  if (!std::strcmp(name, "full")) return PadMode::full;
  fail("padding", "unknown padding '{}' (expected valid, same, full or numbers)", name);
}

std::array<std::int64_t, 4> resolve_padding(const Padding& p, Pair in, Pair k, Pair s, Pair d, const char* op) {
  auto same_axis = [](std::int64_t n, std::int64_t kk, std::int64_t ss, std::int64_t dd) {
    // TensorFlow's rule: out = ceil(n / s); the odd pixel goes to the end
    std::int64_t out = (n + ss - 1) / ss;
    std::int64_t total = std::max<std::int64_t>((out - 1) * ss + dd * (kk - 1) + 1 - n, 0);
    return std::array<std::int64_t, 2>{total / 2, total - total / 2};
  };
  switch (p.mode) {
    case PadMode::explicit_:
      if (p.top < 0 || p.bottom < 0 || p.left < 0 || p.right < 0) fail(op, "padding must be non-negative");
      return {p.top, p.bottom, p.left, p.right};
    case PadMode::valid: return {0, 0, 0, 0};
    case PadMode::full: return {d.h * (k.h - 1), d.h * (k.h - 1), d.w * (k.w - 1), d.w * (k.w - 1)};
    case PadMode::same: {
      auto h = same_axis(in.h, k.h, s.h, d.h), w = same_axis(in.w, k.w, s.w, d.w);
      return {h[0], h[1], w[0], w[1]};
    }
  }
  return {0, 0, 0, 0};
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o) {
  const char* op = "conv2d";
  detail::check_defined(x, op, "input");
  detail::check_defined(w, op, "weight");
  if (x.dim() != 4) fail(op, "expected 4-D input (N,C,H,W), got {}", shape_str(x.shape()));
  if (w.dim() != 4) fail(op, "expected 4-D weight (O,C/groups,kH,kW), got {}", shape_str(w.shape()));
  const std::int64_t g = o.groups, C = x.size(1), O = w.size(0);
  if (g < 1) fail(op, "groups must be >= 1, got {}", g);
  if (C % g || O % g) fail(op, "input channels {} and output channels {} must both divide by groups {}", C, O, g);
  if (w.size(1) * g != C)
    fail(op, "weight {} expects {} input channels, got input {}", shape_str(w.shape()), w.size(1) * g, shape_str(x.shape()));
  if (b.defined() && (b.dim() != 1 || b.size(0) != O)) fail(op, "bias {} does not match {} filters", shape_str(b.shape()), O);
  if (o.stride.h < 1 || o.stride.w < 1) fail(op, "stride must be >= 1");
  if (o.dilation.h < 1 || o.dilation.w < 1) fail(op, "dilation must be >= 1");
  detail::check_same_device(x, w, op);
  detail::check_same_dtype(x, w, op);
  const std::int64_t kh = w.size(2), kw = w.size(3), H = x.size(2), W = x.size(3);
  auto pad = resolve_padding(o.padding, {H, W}, {kh, kw}, o.stride, o.dilation, op);
  const std::int64_t OH = (H + pad[0] + pad[1] - o.dilation.h * (kh - 1) - 1) / o.stride.h + 1;
  const std::int64_t OW = (W + pad[2] + pad[3] - o.dilation.w * (kw - 1) - 1) / o.stride.w + 1;
  if (H + pad[0] + pad[1] < o.dilation.h * (kh - 1) + 1 || W + pad[2] + pad[3] < o.dilation.w * (kw - 1) + 1)
    fail(op, "input {} with padding ({},{},{},{}) is smaller than the dilated kernel {}x{}", shape_str(x.shape()), pad[0],
         pad[1], pad[2], pad[3], o.dilation.h * (kh - 1) + 1, o.dilation.w * (kw - 1) + 1);
  backend::Conv2dParams p{.stride = {o.stride.h, o.stride.w}, .padding = pad, .dilation = {o.dilation.h, o.dilation.w}, .groups = g};
  Tensor xc = x.detach().contiguous(), wc = w.detach().contiguous();
  Tensor bc = b.defined() ? b.detach().contiguous() : Tensor();
  Tensor y = detail::new_empty(x, {x.size(0), O, OH, OW});
  be(x).conv2d_forward(xc, wc, b.defined() ? &bc : nullptr, y, p);
  const bool gx = x.requires_grad(), gw = w.requires_grad(), gb = b.defined() && b.requires_grad();
  return autograd::record("conv2d", y, {x, w, b}, [xc, wc, p, gx, gw, gb](const Tensor& g) {
    Tensor gyc = g.contiguous();
    Tensor dx, dw, db;
    if (gx) {
      dx = detail::new_empty(xc, xc.shape());
      be(g).conv2d_backward_data(gyc, wc, dx, p);
    }
    if (gw || gb) {
      dw = detail::new_empty(wc, wc.shape());
      if (gb) db = detail::new_empty(wc, {wc.size(0)});
      be(g).conv2d_backward_weights(gyc, xc, dw, gb ? &db : nullptr, p);
    }
    return std::vector<Tensor>{dx, gw ? dw : Tensor(), db};
  });
}

}  // namespace fovea
