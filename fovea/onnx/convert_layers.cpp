// ONNX nodes that become fovea layers: convolution, linear, normalisation, pooling, activations.
#include <cmath>
#include <limits>

#include "fovea/nn/nn.h"
#include "fovea/onnx/detail.h"

namespace fovea::onnx::detail {

namespace {

Pair pair_of(const pb::NodeProto& n, const std::vector<std::int64_t>& v, const char* what) {
  if (v.size() != 2)
    node_fail(n, "only 1-D and 2-D (N,C,L), (N,C,H,W) are supported; {} has {} values", what, v.size());
  return {v[0], v[1]};
}

// ONNX pads: (top, left, bottom, right)
std::array<std::int64_t, 4> pads_of(const pb::NodeProto& n, const Attrs& a, bool one_d) {
  auto p = spatial_ints(a, "pads", {0, 0, 0, 0}, one_d, 0);
  if (p.size() != 4) node_fail(n, "only 1-D and 2-D (N,C,L), (N,C,H,W) are supported; pads has {} values", p.size());
  for (auto v : p)
    if (v < 0) node_fail(n, "negative pads are not supported");
  return {p[0], p[1], p[2], p[3]};
}

// auto_pad SAME_UPPER / SAME_LOWER along one axis: output ceil(in / s); the odd pixel at the
// end (upper) or the start (lower). Returns (begin, end).
std::pair<std::int64_t, std::int64_t> same_pads(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t d,
                                                bool lower) {
  const std::int64_t out = (in + s - 1) / s;
  const std::int64_t total = std::max<std::int64_t>((out - 1) * s + d * (k - 1) + 1 - in, 0);
  return lower ? std::pair{total - total / 2, total / 2} : std::pair{total / 2, total - total / 2};
}

// (top, bottom, left, right) for x: explicit pads or auto_pad
std::array<std::int64_t, 4> resolve_pads(const std::string& auto_pad, const std::array<std::int64_t, 4>& pads,
                                         const Tensor& x, Pair k, Pair s, Pair d) {
  if (auto_pad == "VALID") return {0, 0, 0, 0};
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    const bool lower = auto_pad == "SAME_LOWER";
    auto [t, b] = same_pads(x.size(2), k.h, s.h, d.h, lower);
    auto [l, r] = same_pads(x.size(3), k.w, s.w, d.w, lower);
    return {t, b, l, r};
  }
  return {pads[0], pads[2], pads[1], pads[3]};
}

void check_auto_pad(const pb::NodeProto& n, const std::string& auto_pad) {
  if (auto_pad != "NOTSET" && auto_pad != "VALID" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER")
    node_fail(n, "unknown auto_pad '{}'", auto_pad);
}

void conv(Builder& b) {
  const auto& n = b.node();
  const auto& a = b.attrs();
  Tensor w = b.const_input(1, "the weight");
  const bool one_d = w.dim() == 3;
  if (one_d) {
    w = w.unsqueeze(2);
    b.lift_1d();
  }
  if (w.dim() != 4) node_fail(n, "only 1-D and 2-D convolution are supported; the weight is {}", shape_str(w.shape()));
  Tensor bias = b.has_input(2) ? b.const_input(2, "the bias") : Tensor();
  const Pair k = pair_of(n, spatial_ints(a, "kernel_shape", {w.size(2), w.size(3)}, one_d, 1), "kernel_shape");
  if (k != Pair{w.size(2), w.size(3)})
    node_fail(n, "kernel_shape {}x{} does not match the weight {}", k.h, k.w, shape_str(w.shape()));
  const Pair s = pair_of(n, spatial_ints(a, "strides", {1, 1}, one_d, 1), "strides");
  const Pair d = pair_of(n, spatial_ints(a, "dilations", {1, 1}, one_d, 1), "dilations");
  const std::int64_t groups = a.i("group", 1);
  if (groups < 1) node_fail(n, "group must be >= 1, got {}", groups);
  const std::string auto_pad = a.s("auto_pad", "NOTSET");
  check_auto_pad(n, auto_pad);
  const auto pads = pads_of(n, a, one_d);
  Padding padding(pads[0], pads[2], pads[1], pads[3]);
  if (auto_pad == "VALID" || auto_pad == "SAME_LOWER") padding = Padding(0);
  if (auto_pad == "SAME_UPPER") padding = Padding(PadMode::same);
  auto m = make_empty<nn::Conv2d>({.in = w.size(1) * groups,
                                   .out = w.size(0),
                                   .kernel = k,
                                   .stride = s,
                                   .padding = padding,
                                   .dilation = d,
                                   .groups = groups,
                                   .bias = bias.defined()});
  set_param(n, m->weight, w, "the weight");
  if (bias.defined()) set_param(n, m->bias, bias, "the bias");
  if (auto_pad != "SAME_LOWER") return b.layer(m);
  b.layer(m, [k, s, d](nn::Module* c, const std::vector<Tensor>& in) {
    auto p = resolve_pads("SAME_LOWER", {}, in[0], k, s, d);
    return std::vector<Tensor>{(*c)(pad(in[0], {p[2], p[3], p[0], p[1]}))};
  });
}

// y (N,C,H,W) with n more rows (axis 2) or columns (axis 3) at the end holding the layer's bias
Tensor extend_with_bias(const Tensor& y, nn::Module* layer, std::int64_t axis, std::int64_t n) {
  const auto& ct = static_cast<nn::ConvTranspose2d&>(*layer);
  std::vector<std::int64_t> p = axis == 3 ? std::vector<std::int64_t>{0, n} : std::vector<std::int64_t>{0, 0, 0, n};
  if (!ct.bias.defined()) return pad(y, p);
  Tensor b = ct.bias.reshape({1, y.size(1), 1, 1});
  return pad(y - b, p) + b;
}

// H' = (H - 1) s + d (k - 1) + 1 + output_padding - pad_begin - pad_end (ONNX ConvTranspose)
void conv_transpose(Builder& b) {
  const auto& n = b.node();
  const auto& a = b.attrs();
  Tensor w = b.const_input(1, "the weight");
  const bool one_d = w.dim() == 3;
  if (one_d) {
    w = w.unsqueeze(2);
    b.lift_1d();
  }
  if (w.dim() != 4)
    node_fail(n, "only 1-D and 2-D transposed convolution are supported; the weight is {}", shape_str(w.shape()));
  Tensor bias = b.has_input(2) ? b.const_input(2, "the bias") : Tensor();
  const Pair k{w.size(2), w.size(3)};
  const Pair s = pair_of(n, spatial_ints(a, "strides", {1, 1}, one_d, 1), "strides");
  const Pair d = pair_of(n, spatial_ints(a, "dilations", {1, 1}, one_d, 1), "dilations");
  const Pair op = pair_of(n, spatial_ints(a, "output_padding", {0, 0}, one_d, 0), "output_padding");
  const std::int64_t groups = a.i("group", 1);
  const std::string auto_pad = a.s("auto_pad", "NOTSET");
  check_auto_pad(n, auto_pad);
  const auto pads = pads_of(n, a, one_d);
  const auto out_shape = spatial_ints(a, "output_shape", {}, one_d, 1);
  const bool symmetric = pads[0] == pads[2] && pads[1] == pads[3];
  const bool direct = out_shape.empty() && (auto_pad == "NOTSET" || auto_pad == "VALID") && symmetric;
  const Pair padding = direct && auto_pad == "NOTSET" ? Pair{pads[0], pads[1]} : Pair{0, 0};
  auto m = make_empty<nn::ConvTranspose2d>({.in = w.size(0),
                                            .out = w.size(1) * groups,
                                            .kernel = k,
                                            .stride = s,
                                            .padding = padding,
                                            .output_padding = op,
                                            .dilation = d,
                                            .groups = groups,
                                            .bias = bias.defined()});
  set_param(n, m->weight, w, "the weight");
  if (bias.defined()) set_param(n, m->bias, bias, "the bias");
  if (direct) return b.layer(m);
  if (!out_shape.empty() && out_shape.size() != 2 && out_shape.size() != 4)
    node_fail(n, "output_shape must have 2 (H, W) or 4 values, got {}", out_shape.size());
  // the full output, cropped to the pads or to the target size
  b.layer(m, [out_shape, auto_pad, pads, s](nn::Module* c, const std::vector<Tensor>& in) {
    Tensor y = (*c)(in[0]);
    for (int i = 0; i < 2; ++i) {
      const std::int64_t full = y.size(2 + i);
      std::int64_t begin = pads[i], end = pads[i + 2];
      if (!out_shape.empty() || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
        const std::int64_t target =
            !out_shape.empty() ? out_shape[out_shape.size() - 2 + i] : in[0].size(2 + i) * (i == 0 ? s.h : s.w);
        const std::int64_t total = full - target;
        if (total < 0) {
          // rows past the full output get no input, only the bias (ONNX's implied output_padding)
          y = extend_with_bias(y, c, 2 + i, -total);
          continue;
        }
        begin = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
        end = total - begin;
      }
      y = y.slice(2 + i, begin, full - end);
    }
    return std::vector<Tensor>{y};
  });
}

// Y = alpha A' B' + beta C; a Linear layer when B and C are constants (the usual classifier)
void gemm(Builder& b) {
  const auto& a = b.attrs();
  const double alpha = a.f("alpha", 1.0), beta = a.f("beta", 1.0);
  const bool ta = a.i("transA", 0) != 0, tb = a.i("transB", 0) != 0;
  if (!ta && alpha == 1.0 && b.is_const(1) && (!b.has_input(2) || (b.is_const(2) && beta == 1.0))) {
    Tensor B = b.const_input(1, "B");
    if (B.dim() != 2) node_fail(b.node(), "B must be 2-D, got {}", shape_str(B.shape()));
    Tensor W = tb ? B : B.t();  // (out, in)
    Tensor C = b.has_input(2) ? b.const_input(2, "C") : Tensor();
    if (!C.defined() || C.numel() == W.size(0) || C.numel() == 1) {
      auto m = make_empty<nn::Linear>({.in = W.size(1), .out = W.size(0), .bias = C.defined()});
      set_param(b.node(), m->weight, W, "B");
      if (C.defined())
        set_param(b.node(), m->bias, C.numel() == 1 ? full({W.size(0)}, C.reshape({}).item()) : C.reshape({W.size(0)}),
                  "C");
      return b.layer(m);
    }
  }
  b.function([alpha, beta, ta, tb](nn::Module*, const std::vector<Tensor>& in) {
    const Device dev = common_device(in);
    Tensor A = in[0].to(dev), B = in[1].to(dev);
    Tensor y = matmul(ta ? A.t() : A, tb ? B.t() : B);
    if (alpha != 1.0) y = y * alpha;
    if (in.size() > 2 && in[2].defined()) y = y + (beta != 1.0 ? in[2].to(dev) * beta : in[2].to(dev));
    return std::vector<Tensor>{y};
  });
}

// A constant 2-D B makes an nn::Linear; a third input (a fused MatMul + Add, fuse.cpp) its bias
void matmul_node(Builder& b) {
  if (b.is_const(1) && !b.is_const(0) && b.const_input(1, "B").dim() == 2) {
    Tensor B = b.const_input(1, "B");  // (in, out)
    const Tensor bias = b.has_input(2) ? b.const_input(2, "the bias") : Tensor();
    auto m = make_empty<nn::Linear>({.in = B.size(0), .out = B.size(1), .bias = bias.defined()});
    set_param(b.node(), m->weight, B.t(), "B");
    if (bias.defined()) set_param(b.node(), m->bias, bias.reshape({B.size(1)}), "the bias");
    return b.layer(m);
  }
  if (b.has_input(2)) node_fail(b.node(), "a bias input needs a constant 2-D B");
  b.function([](nn::Module*, const std::vector<Tensor>& in) {
    const Device dev = common_device(in);
    return std::vector<Tensor>{matmul(in[0].to(dev), in[1].to(dev))};
  });
}

void batch_norm_node(Builder& b) {
  const auto& n = b.node();
  b.check_outputs(1);
  if (b.attrs().i("training_mode", 0) != 0) node_fail(n, "training_mode=1 is not supported (export in eval mode)");
  Tensor scale = b.const_input(1, "scale"), bias = b.const_input(2, "B"), mean = b.const_input(3, "mean"),
         var = b.const_input(4, "var");
  if (scale.dim() != 1) node_fail(n, "scale must be 1-D, got {}", shape_str(scale.shape()));
  // ONNX: running = running * momentum + batch * (1 - momentum); PyTorch's momentum is the other weight
  auto m = make_empty<nn::BatchNorm2d>(
      {.features = scale.size(0), .eps = b.attrs().f("epsilon", 1e-5), .momentum = 1.0 - b.attrs().f("momentum", 0.9)});
  set_param(n, m->weight, scale, "scale");
  set_param(n, m->bias, bias, "B");
  set_param(n, m->running_mean, mean, "mean");
  set_param(n, m->running_var, var, "var");
  m->num_batches_tracked.set_data(zeros({}, {.dtype = DType::i64, .device = kCPU}));
  b.layer(m);
}

void lrn(Builder& b) {
  const auto& a = b.attrs();
  if (!a.has("size")) node_fail(b.node(), "attribute 'size' is required");
  b.layer(nn::make<nn::LocalResponseNorm>(
      {.size = a.i("size", 0), .alpha = a.f("alpha", 1e-4), .beta = a.f("beta", 0.75), .k = a.f("bias", 1.0)}));
}

struct PoolAttrs {
  Pair k, s, d;
  std::array<std::int64_t, 4> pads;  // ONNX order (top, left, bottom, right)
  std::string auto_pad;
  bool ceil;
};

PoolAttrs pool_attrs(Builder& b, int outputs = 1) {
  const auto& n = b.node();
  const auto& a = b.attrs();
  if (!a.has("kernel_shape")) node_fail(n, "attribute 'kernel_shape' is required");
  const bool one_d = a.ints("kernel_shape").size() == 1;
  if (one_d) b.lift_1d();
  PoolAttrs p{.k = pair_of(n, spatial_ints(a, "kernel_shape", {}, one_d, 1), "kernel_shape"),
              .s = pair_of(n, spatial_ints(a, "strides", {1, 1}, one_d, 1), "strides"),
              .d = pair_of(n, spatial_ints(a, "dilations", {1, 1}, one_d, 1), "dilations"),
              .pads = pads_of(n, a, one_d),
              .auto_pad = a.s("auto_pad", "NOTSET"),
              .ceil = a.i("ceil_mode", 0) != 0};
  check_auto_pad(n, p.auto_pad);
  if (p.k.h < 1 || p.k.w < 1 || p.s.h < 1 || p.s.w < 1 || p.d.h < 1 || p.d.w < 1)
    node_fail(n, "kernel_shape, strides and dilations must be >= 1");
  b.check_outputs(outputs);
  return p;
}

// Output size along one axis for pads (b, e) and ceil_mode, with PyTorch's rule that the last
// window starts inside the input or the leading padding.
std::int64_t pool_out(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t d, std::int64_t b, std::int64_t e,
                      bool ceil) {
  const std::int64_t span = in + b + e - (d * (k - 1) + 1);
  if (span < 0) fail("MaxPool", "the kernel is larger than the padded input ({})", in + b + e);
  std::int64_t out = (ceil ? (span + s - 1) / s : span / s) + 1;
  if (ceil && (out - 1) * s >= in + b) --out;
  return out;
}

// Max pooling with any pads and dilations: the maximum over the kernel's strided views of the
// input padded with -inf (differentiable through slice and maximum).
Tensor general_max_pool(const Tensor& x, const PoolAttrs& p) {
  auto pads = resolve_pads(p.auto_pad, p.pads, x, p.k, p.s, p.d);  // (t, b, l, r)
  const std::int64_t OH = pool_out(x.size(2), p.k.h, p.s.h, p.d.h, pads[0], pads[1], p.ceil);
  const std::int64_t OW = pool_out(x.size(3), p.k.w, p.s.w, p.d.w, pads[2], pads[3], p.ceil);
  // bottom/right padding so that every window lies inside
  const std::int64_t eb = std::max<std::int64_t>((OH - 1) * p.s.h + p.d.h * (p.k.h - 1) + 1 - x.size(2) - pads[0], 0);
  const std::int64_t er = std::max<std::int64_t>((OW - 1) * p.s.w + p.d.w * (p.k.w - 1) + 1 - x.size(3) - pads[2], 0);
  Tensor xp = pad(x, {pads[2], er, pads[0], eb}, -std::numeric_limits<double>::infinity());
  Tensor y;
  for (std::int64_t i = 0; i < p.k.h; ++i)
    for (std::int64_t j = 0; j < p.k.w; ++j) {
      Tensor v = xp.slice(2, i * p.d.h, i * p.d.h + (OH - 1) * p.s.h + 1, p.s.h)
                     .slice(3, j * p.d.w, j * p.d.w + (OW - 1) * p.s.w + 1, p.s.w);
      y = y.defined() ? maximum(y, v) : v;
    }
  return y;
}

// The pads fit fovea's pooling layers: the same at both ends, at most half the kernel.
bool layer_pads(const PoolAttrs& p) {
  if (p.auto_pad == "VALID") return true;
  return p.auto_pad == "NOTSET" && p.pads[0] == p.pads[2] && p.pads[1] == p.pads[3] && 2 * p.pads[0] <= p.k.h &&
         2 * p.pads[1] <= p.k.w;
}

// ONNX's indices: flat over (N,C,H,W), or with storage_order 1 over (N,C,W,H) (column major)
Tensor onnx_indices(const Tensor& plane_idx, const Tensor& x, bool column_major) {
  const std::int64_t H = x.size(2), W = x.size(3);
  Tensor idx = plane_idx.to(kCPU).contiguous();
  auto* p = idx.data<std::int64_t>();
  const std::int64_t per_plane = idx.size(2) * idx.size(3);
  for (std::int64_t i = 0, n = idx.numel(); i < n; ++i) {
    const std::int64_t plane = i / per_plane, h = p[i] / W, w = p[i] % W;
    p[i] = plane * H * W + (column_major ? w * H + h : p[i]);
  }
  return idx;
}

void max_pool(Builder& b) {
  const auto& n = b.node();
  const bool indices = n.output_size() > 1 && !n.output(1).empty();
  const PoolAttrs p = pool_attrs(b, indices ? 2 : 1);
  const bool column_major = b.attrs().i("storage_order", 0) != 0;
  if (indices) {
    if (p.d != Pair{1, 1} || !layer_pads(p))
      node_fail(n, "the indices output needs dilation 1 and pads at most half the kernel, the same at both ends");
    const Pool2dOptions o{.kernel = p.k,
                          .stride = p.s,
                          .padding = p.auto_pad == "VALID" ? Pair{0, 0} : Pair{p.pads[0], p.pads[1]},
                          .ceil_mode = p.ceil};
    return b.function([o, column_major](nn::Module*, const std::vector<Tensor>& in) {
      auto r = max_pool2d_with_indices(in[0], o);
      return std::vector<Tensor>{r.values, onnx_indices(r.indices, in[0], column_major)};
    });
  }
  if (p.d == Pair{1, 1} && layer_pads(p)) {
    const Pair pad = p.auto_pad == "VALID" ? Pair{0, 0} : Pair{p.pads[0], p.pads[1]};
    return b.layer(
        nn::make<nn::MaxPool2d>({.kernel = p.k, .stride = p.s, .padding = pad, .ceil_mode = p.ceil}),
        [](nn::Module* m, const std::vector<Tensor>& in) {  // integers: exact in f64
          const Tensor& x = in[0];
          return std::vector<Tensor>{is_floating(x.dtype()) ? (*m)(x) : (*m)(x.to(DType::f64)).to(x.dtype())};
        });
  }
  b.op_module(
      [p](const Tensor& x) {
        if (is_floating(x.dtype())) return general_max_pool(x, p);
        return general_max_pool(x.to(DType::f64), p).to(x.dtype());  // integers: exact in f64
      },
      fmt::format("kernel_size=({}, {}), stride=({}, {}), dilation=({}, {})", p.k.h, p.k.w, p.s.h, p.s.w, p.d.h,
                  p.d.w));
}

void avg_pool(Builder& b) {
  const PoolAttrs p = pool_attrs(b);
  if (p.d != Pair{1, 1}) node_fail(b.node(), "dilations are not supported for AveragePool");
  const bool include = b.attrs().i("count_include_pad", 0) != 0;
  if (layer_pads(p)) {
    const Pair pad = p.auto_pad == "VALID" ? Pair{0, 0} : Pair{p.pads[0], p.pads[1]};
    return b.layer(nn::make<nn::AvgPool2d>(
        {.kernel = p.k, .stride = p.s, .padding = pad, .ceil_mode = p.ceil, .count_include_pad = include}));
  }
  // other pads: pool the zero-padded input; without count_include_pad, divide by the pooled
  // mask of real pixels
  b.op_module(
      [p, include](const Tensor& x) {
        auto pads = resolve_pads(p.auto_pad, p.pads, x, p.k, p.s, p.d);
        const Pool2dOptions o{.kernel = p.k, .stride = p.s, .padding = 0, .ceil_mode = p.ceil};
        Tensor y = avg_pool2d(pad(x, {pads[2], pads[3], pads[0], pads[1]}), o);
        if (include) return y;
        Tensor mask = pad(ones({1, 1, x.size(2), x.size(3)}, {.dtype = x.dtype(), .device = x.device()}),
                          {pads[2], pads[3], pads[0], pads[1]});
        return y / avg_pool2d(mask, o);
      },
      fmt::format("kernel_size=({}, {}), stride=({}, {})", p.k.h, p.k.w, p.s.h, p.s.w));
}

void global_avg_pool(Builder& b) { b.layer(nn::make<nn::AdaptiveAvgPool2d>({.out = 1})); }
void global_max_pool(Builder& b) { b.layer(nn::make<nn::AdaptiveMaxPool2d>({.out = 1})); }

void relu_node(Builder& b) { b.layer(nn::make<nn::ReLU>()); }
void leaky_relu_node(Builder& b) { b.layer(nn::make<nn::LeakyReLU>({.negative_slope = b.attrs().f("alpha", 0.01)})); }
void elu_node(Builder& b) { b.layer(nn::make<nn::ELU>({.alpha = b.attrs().f("alpha", 1.0)})); }
void sigmoid_node(Builder& b) { b.layer(nn::make<nn::Sigmoid>()); }
void tanh_node(Builder& b) { b.layer(nn::make<nn::Tanh>()); }
void hardswish_node(Builder& b) { b.layer(nn::make<nn::Hardswish>()); }

void hard_sigmoid(Builder& b) {
  const double alpha = b.attrs().f("alpha", 0.2), beta = b.attrs().f("beta", 0.5);
  b.op_module([alpha, beta](const Tensor& x) { return clamp(x * alpha + beta, 0.0, 1.0); },
              fmt::format("alpha={}, beta={}", alpha, beta));
}

void clip(Builder& b) {
  std::optional<double> lo, hi;
  if (b.opset() < 11) {
    if (b.attrs().has("min")) lo = b.attrs().f("min", 0);
    if (b.attrs().has("max")) hi = b.attrs().f("max", 0);
  } else {
    if (b.has_input(1)) lo = b.const_input(1, "min").reshape({}).item();
    if (b.has_input(2)) hi = b.const_input(2, "max").reshape({}).item();
  }
  b.op_module(
      [lo, hi](const Tensor& x) { return lo || hi ? clamp(x, lo, hi) : x; },
      fmt::format("min={}, max={}", lo ? fmt::format("{}", *lo) : "none", hi ? fmt::format("{}", *hi) : "none"));
}

// x viewed as 2-D at axis: (d0 ... d(axis-1), d(axis) ... dn), ONNX's Flatten
Tensor to_2d(const Tensor& x, std::int64_t axis, const char* op) {
  const std::int64_t ax = axis < 0 ? axis + x.dim() : axis;
  if (ax < 0 || ax > x.dim()) fail(op, "axis {} out of range for {}", axis, shape_str(x.shape()));
  std::int64_t outer = 1;
  for (std::int64_t i = 0; i < ax; ++i) outer *= x.size(i);
  return x.reshape({outer, outer == 0 ? 0 : x.numel() / outer});
}

// Before opset 13, (log)softmax runs over the input flattened to 2-D at `axis`; from 13, along `axis`.
template <Tensor (*F)(const Tensor&, std::int64_t)>
void softmax_node(Builder& b) {
  const bool coerce = b.opset() < 13;
  const std::int64_t axis = b.attrs().i("axis", coerce ? 1 : -1);
  b.op_module(
      [coerce, axis](const Tensor& x) {
        if (!coerce || axis == -1 || axis == x.dim() - 1) return F(x, axis);
        return F(to_2d(x, axis, "Softmax"), 1).reshape(x.shape());
      },
      fmt::format("axis={}", axis));
}

// Inference: y = x and the mask (output 1) all true; training_mode (input 2, opset 12+) is refused,
// its random mask being the generator's
void dropout_node(Builder& b) {
  double p = b.attrs().f("ratio", 0.5);
  if (b.opset() >= 12 && b.has_input(1)) p = b.const_input(1, "ratio").reshape({}).item();
  if (b.opset() >= 12 && b.has_input(2) && b.const_input(2, "training_mode").reshape({}).item() != 0 && p != 0)
    node_fail(b.node(),
              "training_mode=true with ratio {} is not supported (the graph runs inference; its random mask could "
              "not match the file's runtime)",
              p);
  if (b.node().output_size() < 2 || b.node().output(1).empty()) return b.layer(nn::make<nn::Dropout>({.p = p}));
  b.layer(nn::make<nn::Dropout>({.p = p}), [](nn::Module* m, const std::vector<Tensor>& in) {
    return std::vector<Tensor>{(*m)(in[0]), ones(in[0].shape(), {.dtype = DType::u8, .device = in[0].device()})};
  });
}

void flatten_node(Builder& b) {
  const std::int64_t axis = b.attrs().i("axis", 1);
  if (axis == 1) return b.layer(nn::make<nn::Flatten>({.start = 1, .end = -1}));
  b.op_module([axis](const Tensor& x) { return to_2d(x, axis, "Flatten"); }, fmt::format("axis={}", axis));
}

}  // namespace

void set_param(const pb::NodeProto& n, const Tensor& param, const Tensor& value, const char* what) {
  if (param.shape() != value.shape())
    node_fail(n, "{} has shape {}, expected {}", what, shape_str(value.shape()), shape_str(param.shape()));
  param.set_data(value.to(DType::f32).contiguous().clone());
}

void add_layer_converters(Converters& m) {
  m["Conv"] = {conv, 1};
  m["ConvTranspose"] = {conv_transpose, 1};
  m["Gemm"] = {gemm, 7};
  m["MatMul"] = {matmul_node, 1};
  m["BatchNormalization"] = {batch_norm_node, 7};
  m["LRN"] = {lrn, 1};
  m["MaxPool"] = {max_pool, 1};
  m["AveragePool"] = {avg_pool, 1};
  m["GlobalAveragePool"] = {global_avg_pool, 1};
  m["GlobalMaxPool"] = {global_max_pool, 1};
  m["Relu"] = {relu_node, 6};
  m["LeakyRelu"] = {leaky_relu_node, 6};
  m["Elu"] = {elu_node, 6};
  m["Sigmoid"] = {sigmoid_node, 6};
  m["Tanh"] = {tanh_node, 6};
  m["HardSwish"] = {hardswish_node, 14};
  m["HardSigmoid"] = {hard_sigmoid, 6};
  m["Clip"] = {clip, 6};
  m["Softmax"] = {softmax_node<softmax>, 1};
  m["LogSoftmax"] = {softmax_node<log_softmax>, 1};
  m["Dropout"] = {dropout_node, 7};
  m["Flatten"] = {flatten_node, 1};
}

}  // namespace fovea::onnx::detail
