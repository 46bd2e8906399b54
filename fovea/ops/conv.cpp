// 2-D convolution and transposed convolution, with their output-size formulas.
#include <cstring>

#include "fovea/ops/detail.h"
#include "fovea/ops/trace.h"

namespace fovea {

using detail::be;

std::int64_t conv_output_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t pb, std::int64_t pe,
                              std::int64_t d) {
  if (in < 1 || k < 1 || s < 1 || d < 1 || pb < 0 || pe < 0)
    fail("conv_output_size",
         "sizes must be positive and padding non-negative (in {}, kernel {}, stride {}, dilation {})", in, k, s, d);
  const std::int64_t span = in + pb + pe - d * (k - 1) - 1;
  if (span < 0)
    fail("conv_output_size", "input {} with padding {}+{} is smaller than the dilated kernel {}", in, pb, pe,
         d * (k - 1) + 1);
  return span / s + 1;
}

std::int64_t conv_transpose_output_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p, std::int64_t d,
                                        std::int64_t op) {
  if (in < 1 || k < 1 || s < 1 || d < 1 || p < 0 || op < 0)
    fail("conv_transpose_output_size", "sizes must be positive and padding non-negative");
  const std::int64_t out = (in - 1) * s - 2 * p + d * (k - 1) + op + 1;
  if (out < 1) fail("conv_transpose_output_size", "padding {} leaves no output for input {}", p, in);
  return out;
}

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

static Tensor conv2d_untraced(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o) {
  const char* op = "conv2d";
  detail::check_defined(x, op, "input");
  detail::check_defined(w, op, "weight");
  if (x.dim() != 4) fail(op, "expected 4-D input (N,C,H,W), got {}", shape_str(x.shape()));
  if (w.dim() != 4) fail(op, "expected 4-D weight (O,C/groups,kH,kW), got {}", shape_str(w.shape()));
  const std::int64_t g = o.groups, C = x.size(1), O = w.size(0);
  if (g < 1) fail(op, "groups must be >= 1, got {}", g);
  if (C % g || O % g) fail(op, "input channels {} and output channels {} must both divide by groups {}", C, O, g);
  if (w.size(1) * g != C)
    fail(op, "weight {} expects {} input channels, got input {}", shape_str(w.shape()), w.size(1) * g,
         shape_str(x.shape()));
  if (b.defined() && (b.dim() != 1 || b.size(0) != O))
    fail(op, "bias {} does not match {} filters", shape_str(b.shape()), O);
  if (o.stride.h < 1 || o.stride.w < 1) fail(op, "stride must be >= 1");
  if (o.dilation.h < 1 || o.dilation.w < 1) fail(op, "dilation must be >= 1");
  detail::check_same_device(x, w, op);
  detail::check_same_dtype(x, w, op);
  const std::int64_t kh = w.size(2), kw = w.size(3), H = x.size(2), W = x.size(3);
  auto pad = resolve_padding(o.padding, {H, W}, {kh, kw}, o.stride, o.dilation, op);
  if (H + pad[0] + pad[1] < o.dilation.h * (kh - 1) + 1 || W + pad[2] + pad[3] < o.dilation.w * (kw - 1) + 1)
    fail(op, "input {} with padding ({},{},{},{}) is smaller than the dilated kernel {}x{}", shape_str(x.shape()),
         pad[0], pad[1], pad[2], pad[3], o.dilation.h * (kh - 1) + 1, o.dilation.w * (kw - 1) + 1);
  const std::int64_t OH = conv_output_size(H, kh, o.stride.h, pad[0], pad[1], o.dilation.h);
  const std::int64_t OW = conv_output_size(W, kw, o.stride.w, pad[2], pad[3], o.dilation.w);
  backend::Conv2dParams p{
      .stride = {o.stride.h, o.stride.w}, .padding = pad, .dilation = {o.dilation.h, o.dilation.w}, .groups = g};
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

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o) {
  if (detail::autocast_bf16(x, w)) {  // bf16 compute, f32 result and bias
    Tensor y = conv2d_untraced(x.to(DType::bf16), w.to(DType::bf16), Tensor(), o).to(DType::f32);
    return b.defined() ? y + b.view({1, b.numel(), 1, 1}) : y;
  }
  Tensor y = conv2d_untraced(x, w, b, o);
  if (!trace::active()) return y;
  auto p = resolve_padding(o.padding, {x.size(2), x.size(3)}, {w.size(2), w.size(3)}, o.stride, o.dilation, "conv2d");
  return trace::traced(y, "Conv", {x, w, b},
                       {{"kernel_shape", std::vector<std::int64_t>{w.size(2), w.size(3)}},
                        {"strides", trace::ints(o.stride)},
                        {"pads", std::vector<std::int64_t>{p[0], p[2], p[1], p[3]}},
                        {"dilations", trace::ints(o.dilation)},
                        {"group", o.groups}});
}

// Transposed convolution, the gradient of a conv2d with respect to its input
// (https://pytorch.org/docs/1.13/generated/torch.nn.ConvTranspose2d.html, Dumoulin and Visin,
// https://arxiv.org/abs/1603.07285). It runs as the backward-data pass of the conv that maps a
// y-shaped (N,Cout,H',W') input to an x-shaped (N,Cin,H,W) output with weight w (O = Cin,
// C/g = Cout/g, kH, kW), so it needs no primitive of its own; output size:
// conv_transpose_output_size.
static Tensor conv_transpose2d_untraced(const Tensor& x, const Tensor& w, const Tensor& b,
                                        const ConvTranspose2dOptions& o) {
  const char* op = "conv_transpose2d";
  detail::check_defined(x, op, "input");
  detail::check_defined(w, op, "weight");
  if (x.dim() != 4) fail(op, "expected 4-D input (N,Cin,H,W), got {}", shape_str(x.shape()));
  if (w.dim() != 4) fail(op, "expected 4-D weight (Cin,Cout/groups,kH,kW), got {}", shape_str(w.shape()));
  const std::int64_t g = o.groups, Cin = x.size(1);
  if (g < 1) fail(op, "groups must be >= 1, got {}", g);
  if (w.size(0) != Cin)
    fail(op, "weight {} expects {} input channels, got input {}", shape_str(w.shape()), w.size(0),
         shape_str(x.shape()));
  if (Cin % g) fail(op, "input channels {} must divide by groups {}", Cin, g);
  const std::int64_t Cout = w.size(1) * g;
  if (b.defined() && (b.dim() != 1 || b.size(0) != Cout))
    fail(op, "bias {} does not match {} output channels", shape_str(b.shape()), Cout);
  const Pair s = o.stride, p = o.padding, d = o.dilation, opad = o.output_padding;
  if (s.h < 1 || s.w < 1) fail(op, "stride must be >= 1, got {}x{}", s.h, s.w);
  if (d.h < 1 || d.w < 1) fail(op, "dilation must be >= 1, got {}x{}", d.h, d.w);
  if (p.h < 0 || p.w < 0) fail(op, "padding must be non-negative, got {}x{}", p.h, p.w);
  // PyTorch's rule: output_padding only picks among the input sizes a strided (or dilated) conv
  // maps to the same output size
  if (opad.h < 0 || opad.w < 0 || opad.h >= std::max(s.h, d.h) || opad.w >= std::max(s.w, d.w))
    fail(op, "output_padding {}x{} must be non-negative and smaller than stride or dilation ({}x{}, {}x{})", opad.h,
         opad.w, s.h, s.w, d.h, d.w);
  detail::check_same_device(x, w, op);
  detail::check_same_dtype(x, w, op);
  const std::int64_t kh = w.size(2), kw = w.size(3), H = x.size(2), W = x.size(3);
  if (H < 1 || W < 1 || kh < 1 || kw < 1)
    fail(op, "expected a non-empty input and kernel, got input {} and weight {}", shape_str(x.shape()),
         shape_str(w.shape()));
  if ((H - 1) * s.h + d.h * (kh - 1) + opad.h + 1 <= 2 * p.h || (W - 1) * s.w + d.w * (kw - 1) + opad.w + 1 <= 2 * p.w)
    fail(op, "padding {}x{} leaves no output for input {} and kernel {}x{}", p.h, p.w, shape_str(x.shape()), kh, kw);
  const std::int64_t OH = conv_transpose_output_size(H, kh, s.h, p.h, d.h, opad.h);
  const std::int64_t OW = conv_transpose_output_size(W, kw, s.w, p.w, d.w, opad.w);
  // The conv's bottom/right padding is p - output_padding, which maps OH rows back to H. Where it
  // is negative, the last output_padding - p rows lie beyond every window: the primitive computes
  // the rows that windows reach, with that padding at 0 (oneDNN's dilated kernels and cuDNN refuse
  // a negative one), and the rest are zeros.
  const std::int64_t cut_h = std::max<std::int64_t>(opad.h - p.h, 0), cut_w = std::max<std::int64_t>(opad.w - p.w, 0);
  const Shape reached{x.size(0), Cout, OH - cut_h, OW - cut_w};
  if (reached[2] < 1 || reached[3] < 1)
    fail(op,
         "no kernel window reaches the output: input {}, kernel {}x{}, stride {}x{}, padding {}x{}, "
         "output_padding {}x{}",
         shape_str(x.shape()), kh, kw, s.h, s.w, p.h, p.w, opad.h, opad.w);
  backend::Conv2dParams cp{.stride = {s.h, s.w},
                           .padding = {p.h, p.h - opad.h + cut_h, p.w, p.w - opad.w + cut_w},
                           .dilation = {d.h, d.w},
                           .groups = g};
  Tensor xc = x.detach().contiguous(), wc = w.detach().contiguous();
  Tensor y = detail::new_empty(x, reached);
  be(x).conv2d_backward_data(xc, wc, y, cp);
  if (cut_h || cut_w) y = pad(y, {0, cut_w, 0, cut_h});
  const bool gx = x.requires_grad(), gw = w.requires_grad();
  y = autograd::record(op, y, {x, w}, [xc, wc, cp, gx, gw, reached](const Tensor& gy) {
    Tensor gyc = gy.slice(2, 0, reached[2]).slice(3, 0, reached[3]).contiguous();
    Tensor dx, dw;
    if (gx) {  // the conv itself
      dx = detail::new_empty(xc, xc.shape());
      be(gy).conv2d_forward(gyc, wc, nullptr, dx, cp);
    }
    if (gw) {  // the conv's weight gradient, with gy as its input and x as its output gradient
      dw = detail::new_empty(wc, wc.shape());
      be(gy).conv2d_backward_weights(xc, gyc, dw, nullptr, cp);
    }
    return std::vector<Tensor>{dx, dw};
  });
  return b.defined() ? y + b.reshape({1, Cout, 1, 1}) : y;
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, const ConvTranspose2dOptions& o) {
  return trace::traced(conv_transpose2d_untraced(x, w, b, o), "ConvTranspose", {x, w, b},
                       {{"kernel_shape", std::vector<std::int64_t>{w.size(2), w.size(3)}},
                        {"strides", trace::ints(o.stride)},
                        {"pads", std::vector<std::int64_t>{o.padding.h, o.padding.w, o.padding.h, o.padding.w}},
                        {"output_padding", trace::ints(o.output_padding)},
                        {"dilations", trace::ints(o.dilation)},
                        {"group", o.groups}});
}

}  // namespace fovea
