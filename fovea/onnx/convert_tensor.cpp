// ONNX nodes that are functions of tensors: arithmetic, shape computations, resampling.
// Shape values (Shape, Gather on shapes, Concat of sizes) are i64 tensors on the CPU on every
// device, also on meta, so `x.view(x.size(0), -1)` exports run for any batch size.
#include <algorithm>
#include <limits>

#include "fovea/nn/nn.h"
#include "fovea/onnx/detail.h"

namespace fovea::onnx::detail {

namespace {

using Tensors = std::vector<Tensor>;

template <Tensor (*F)(const Tensor&, const Tensor&)>
void binary(Builder& b) {
  b.function([](nn::Module*, const Tensors& in) {
    const Device d = common_device(in);
    return Tensors{F(on(in[0], d), on(in[1], d))};
  });
}

void identity(Builder& b) {
  b.function([](nn::Module*, const Tensors& in) { return Tensors{in[0]}; });
}

void constant(Builder& b) {
  const auto& a = b.attrs();
  Tensor t;
  if (a.has("value")) t = a.tensor("value");
  else if (a.has("value_float")) t = scalar_tensor(a.f("value_float", 0));
  else if (a.has("value_floats")) {
    auto v = a.floats("value_floats");
    t = from_vector(std::vector<float>(v.begin(), v.end()), {static_cast<std::int64_t>(v.size())});
  } else if (a.has("value_int")) t = scalar_tensor(static_cast<double>(a.i("value_int", 0)), DType::i64);
  else if (a.has("value_ints")) {
    auto v = a.ints("value_ints");
    t = from_vector(v, {static_cast<std::int64_t>(v.size())});
  } else node_fail(b.node(), "no value attribute (value, value_float(s), value_int(s))");
  b.function([t](nn::Module*, const Tensors&) { return Tensors{t}; });
}

void constant_of_shape(Builder& b) {
  Tensor v = b.attrs().has("value") ? b.attrs().tensor("value") : zeros({1});
  if (v.numel() != 1) node_fail(b.node(), "value must hold one element, got {}", shape_str(v.shape()));
  b.function([v](nn::Module*, const Tensors& in) {
    auto s = to_ints(in[0]);
    return Tensors{full(Shape(s.begin(), s.end()), v.reshape({}).item(), {.dtype = v.dtype(), .device = kCPU})};
  });
}

void cast(Builder& b) {
  DType dt;
  switch (b.attrs().i("to", 0)) {
    case pb::TensorProto::FLOAT: dt = DType::f32; break;
    case pb::TensorProto::DOUBLE: dt = DType::f64; break;
    case pb::TensorProto::INT64:
    case pb::TensorProto::INT32: dt = DType::i64; break;
    case pb::TensorProto::UINT8:
    case pb::TensorProto::BOOL: dt = DType::u8; break;
    case pb::TensorProto::FLOAT16: dt = DType::f16; break;
    case pb::TensorProto::BFLOAT16: dt = DType::bf16; break;
    default: node_fail(b.node(), "cast to data type {} is not supported", b.attrs().i("to", 0));
  }
  b.function([dt](nn::Module*, const Tensors& in) { return Tensors{in[0].to(dt)}; });
}

void shape_node(Builder& b) {
  const std::int64_t start = b.attrs().i("start", 0),
                     end = b.attrs().i("end", std::numeric_limits<std::int64_t>::max());
  b.function([start, end](nn::Module*, const Tensors& in) {
    const auto r = in[0].dim();
    const std::int64_t s = std::clamp<std::int64_t>(start < 0 ? start + r : start, 0, r);
    const std::int64_t e = std::clamp<std::int64_t>(end < 0 ? end + r : end, 0, r);
    std::vector<std::int64_t> v(in[0].shape().begin() + s, in[0].shape().begin() + std::max(s, e));
    return Tensors{from_vector(v, {static_cast<std::int64_t>(v.size())}, {.device = kCPU})};
  });
}

void concat(Builder& b) {
  const std::int64_t axis = b.attrs().i("axis", 0);
  b.function([axis](nn::Module*, const Tensors& in) {
    const Device d = common_device(in);
    Tensors xs;
    for (const auto& t : in) xs.push_back(on(t, d));
    return Tensors{cat(xs, norm_axis(axis, xs.at(0).dim(), "Concat"))};
  });
}

// shape values: 0 copies the input's dimension (unless allowzero), -1 is inferred
void reshape(Builder& b) {
  const bool allowzero = b.attrs().i("allowzero", 0) != 0;
  b.function([allowzero](nn::Module*, const Tensors& in) {
    auto v = to_ints(in[1]);
    Shape s(v.begin(), v.end());
    for (std::size_t i = 0; i < s.size(); ++i)
      if (s[i] == 0 && !allowzero) {
        if (static_cast<std::int64_t>(i) >= in[0].dim())
          fail("Reshape", "0 at position {} but the input is {}", i, shape_str(in[0].shape()));
        s[i] = in[0].size(static_cast<std::int64_t>(i));
      }
    return Tensors{in[0].reshape(s)};
  });
}

void transpose(Builder& b) {
  const auto perm = b.attrs().ints("perm");
  b.function([perm](nn::Module*, const Tensors& in) {
    std::vector<std::int64_t> p = perm;
    if (p.empty())
      for (std::int64_t i = in[0].dim() - 1; i >= 0; --i) p.push_back(i);
    return Tensors{in[0].permute(p)};
  });
}

// axes: an attribute before opset 13, the optional input 1 from 13
std::optional<std::vector<std::int64_t>> axes_of(Builder& b) {
  if (b.opset() < 13) {
    if (!b.attrs().has("axes")) return std::nullopt;
    return b.attrs().ints("axes");
  }
  if (!b.has_input(1)) return std::nullopt;
  return to_ints(b.const_input(1, "axes"));
}

void squeeze(Builder& b) {
  const auto axes = axes_of(b);
  b.function([axes](nn::Module*, const Tensors& in) {
    Tensor x = in[0];
    std::vector<std::int64_t> ax;
    if (axes) {
      for (auto a : *axes) ax.push_back(norm_axis(a, x.dim(), "Squeeze"));
    } else {
      for (std::int64_t i = 0; i < x.dim(); ++i)
        if (x.size(i) == 1) ax.push_back(i);
    }
    std::sort(ax.rbegin(), ax.rend());
    for (auto a : ax) {
      if (x.size(a) != 1) fail("Squeeze", "dimension {} of {} is not 1", a, shape_str(in[0].shape()));
      x = x.squeeze(a);
    }
    return Tensors{x};
  });
}

void unsqueeze(Builder& b) {
  const auto axes = axes_of(b);
  if (!axes) node_fail(b.node(), "axes are required");
  b.function([axes](nn::Module*, const Tensors& in) {
    Tensor x = in[0];
    const std::int64_t r = x.dim() + static_cast<std::int64_t>(axes->size());
    std::vector<std::int64_t> ax;
    for (auto a : *axes) ax.push_back(norm_axis(a, r, "Unsqueeze"));
    std::sort(ax.begin(), ax.end());
    for (auto a : ax) x = x.unsqueeze(a);
    return Tensors{x};
  });
}

// Edge or reflect padding of axis a by (b, e): copies of the border element, or the elements
// mirrored about it (which needs b, e < size)
Tensor pad_axis(const Tensor& x, std::int64_t a, std::int64_t b, std::int64_t e, const std::string& mode) {
  const std::int64_t n = x.size(a);
  if (b == 0 && e == 0) return x;
  if (b < 0 || e < 0) fail("Pad", "negative pads are supported in constant mode only");
  if (n == 0) fail("Pad", "{} padding of an empty axis {}", mode, a);
  if (mode == "reflect" && (b >= n || e >= n))
    fail("Pad", "reflect pads ({}, {}) must be smaller than the axis size {}", b, e, n);
  Tensors parts;
  for (std::int64_t k = b; k >= 1; --k) {
    const std::int64_t i = mode == "edge" ? 0 : k;
    parts.push_back(x.slice(a, i, i + 1));
  }
  parts.push_back(x);
  for (std::int64_t k = 1; k <= e; ++k) {
    const std::int64_t i = mode == "edge" ? n - 1 : n - 1 - k;
    parts.push_back(x.slice(a, i, i + 1));
  }
  return cat(parts, a);
}

// ONNX pads (x1_begin, x2_begin, ..., x1_end, x2_end) -> fovea's pairs from the last dim backwards
Tensor pad_onnx(const Tensor& x, const std::vector<std::int64_t>& p, double value, const std::string& mode) {
  const auto r = static_cast<std::size_t>(x.dim());
  if (p.size() != 2 * r) fail("Pad", "expected {} pads for a {}-D input, got {}", 2 * r, r, p.size());
  if (mode != "constant") {
    Tensor y = x;
    for (std::size_t d = 0; d < r; ++d) y = pad_axis(y, static_cast<std::int64_t>(d), p[d], p[d + r], mode);
    return y;
  }
  std::vector<std::int64_t> pairs;
  for (std::size_t d = r; d-- > 0;) {
    pairs.push_back(p[d]);
    pairs.push_back(p[d + r]);
  }
  return pad(x, pairs, value);
}

// pads: an attribute before opset 11, input 1 from 11; axes (input 3) from 18
void pad_node(Builder& b) {
  const std::string mode = b.attrs().s("mode", "constant");
  if (mode != "constant" && mode != "edge" && mode != "reflect")
    node_fail(b.node(), "mode '{}' is not supported (constant, edge, reflect)", mode);
  const std::string repr = fmt::format("mode={}", mode);
  if (b.opset() < 11) {
    const auto p = b.attrs().ints("pads");
    const double v = b.attrs().f("value", 0.0);
    return b.op_module([p, v, mode](const Tensor& x) { return pad_onnx(x, p, v, mode); }, repr);
  }
  const double v = b.has_input(2) ? b.const_input(2, "constant_value").reshape({}).item() : 0.0;
  const auto axes = b.has_input(3) ? to_ints(b.const_input(3, "axes")) : std::vector<std::int64_t>{};
  // pads for `axes` only (opset 18) -> pads for every axis
  auto full_pads = [axes](const Tensor& x, std::vector<std::int64_t> p) {
    if (axes.empty()) return p;
    const std::size_t n = axes.size(), r = static_cast<std::size_t>(x.dim());
    if (p.size() != 2 * n) fail("Pad", "expected {} pads for {} axes, got {}", 2 * n, n, p.size());
    std::vector<std::int64_t> all(2 * r, 0);
    for (std::size_t k = 0; k < n; ++k) {
      const auto a = static_cast<std::size_t>(norm_axis(axes[k], x.dim(), "Pad"));
      all[a] = p[k];
      all[a + r] = p[k + n];
    }
    return all;
  };
  if (b.is_const(1)) {
    const auto p = to_ints(b.const_input(1, "pads"));
    return b.op_module([p, v, mode, full_pads](const Tensor& x) { return pad_onnx(x, full_pads(x, p), v, mode); },
                       repr);
  }
  b.function([v, mode, full_pads](nn::Module*, const Tensors& in) {
    return Tensors{pad_onnx(in[0], full_pads(in[0], to_ints(in[1])), v, mode)};
  });
}

// out = data.shape[:axis] + indices.shape + data.shape[axis+1:], built from slices (differentiable)
void gather(Builder& b) {
  const std::int64_t axis = b.attrs().i("axis", 0);
  b.function([axis](nn::Module*, const Tensors& in) {
    const Tensor& x = in[0];
    const std::int64_t ax = norm_axis(axis, x.dim(), "Gather");
    auto idx = to_ints(in[1]);
    for (auto& i : idx) {
      if (i < -x.size(ax) || i >= x.size(ax)) fail("Gather", "index {} out of range for size {}", i, x.size(ax));
      if (i < 0) i += x.size(ax);
    }
    if (in[1].dim() == 0) return Tensors{x.select(ax, idx[0])};
    Tensors parts;
    for (auto i : idx) parts.push_back(x.slice(ax, i, i + 1));
    Shape s(x.shape().begin(), x.shape().begin() + ax);
    s.insert(s.end(), in[1].shape().begin(), in[1].shape().end());
    s.insert(s.end(), x.shape().begin() + ax + 1, x.shape().end());
    if (parts.empty()) return Tensors{zeros(s, {.dtype = x.dtype(), .device = x.device()})};
    return Tensors{(parts.size() == 1 ? parts[0] : cat(parts, ax)).reshape(s)};
  });
}

// x[s], x[s + step], ... along axis a while before `e` (step > 0) or after it (step < 0), with
// s and e already clamped as ONNX's Slice clamps them
Tensor strided(const Tensor& x, std::int64_t a, std::int64_t s, std::int64_t e, std::int64_t step) {
  if (step > 0) return x.slice(a, s, std::max(s, e), step);
  if (s <= e) return x.slice(a, 0, 0);
  return reverse(x.slice(a, e + 1, s + 1), a).slice(a, 0, s - e, -step);
}

void slice_node(Builder& b) {
  const bool attrs = b.opset() < 10;
  std::vector<std::int64_t> starts, ends, axes;
  if (attrs) {
    starts = b.attrs().ints("starts");
    ends = b.attrs().ints("ends");
    axes = b.attrs().ints("axes");
  }
  b.function([attrs, starts, ends, axes](nn::Module*, const Tensors& in) {
    Tensor x = in[0];
    auto st = attrs ? starts : to_ints(in.at(1));
    auto en = attrs ? ends : to_ints(in.at(2));
    auto ax = attrs ? axes : (in.size() > 3 && in[3].defined() ? to_ints(in[3]) : std::vector<std::int64_t>{});
    auto sp = !attrs && in.size() > 4 && in[4].defined() ? to_ints(in[4]) : std::vector<std::int64_t>{};
    if (ax.empty())
      for (std::size_t i = 0; i < st.size(); ++i) ax.push_back(static_cast<std::int64_t>(i));
    if (sp.empty()) sp.assign(st.size(), 1);
    if (en.size() != st.size() || ax.size() != st.size() || sp.size() != st.size())
      fail("Slice", "starts, ends, axes and steps must have the same length");
    for (std::size_t i = 0; i < st.size(); ++i) {
      const std::int64_t a = norm_axis(ax[i], x.dim(), "Slice"), n = x.size(a);
      if (sp[i] == 0) fail("Slice", "step 0 on axis {}", a);
      // positive steps clamp to [0, n], negative ones to [-1, n - 1]
      const std::int64_t lo = sp[i] > 0 ? 0 : -1, hi = sp[i] > 0 ? n : n - 1;
      auto clampi = [n, lo, hi](std::int64_t v) { return std::clamp<std::int64_t>(v < 0 ? v + n : v, lo, hi); };
      x = strided(x, a, clampi(st[i]), clampi(en[i]), sp[i]);
    }
    return Tensors{x};
  });
}

}  // namespace

std::int64_t norm_axis(std::int64_t axis, std::int64_t rank, const char* op) {
  const std::int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= std::max<std::int64_t>(rank, 1)) fail(op, "axis {} out of range for rank {}", axis, rank);
  return a;
}

// the elements one by one, concatenated backwards
Tensor reverse(const Tensor& x, std::int64_t a) {
  const std::int64_t n = x.size(a);
  if (n <= 1) return x;
  std::vector<Tensor> parts;
  for (std::int64_t i = n - 1; i >= 0; --i) parts.push_back(x.slice(a, i, i + 1));
  return cat(parts, a);
}

void add_tensor_converters(Converters& m) {
  m["Add"] = {binary<add>, 7};
  m["Sub"] = {binary<sub>, 7};
  m["Mul"] = {binary<mul>, 7};
  m["Div"] = {binary<div>, 7};
  m["Identity"] = {identity, 1};
  m["Constant"] = {constant, 1};
  m["ConstantOfShape"] = {constant_of_shape, 9};
  m["Cast"] = {cast, 6};
  m["Shape"] = {shape_node, 1};
  m["Concat"] = {concat, 4};
  m["Reshape"] = {reshape, 5};
  m["Transpose"] = {transpose, 1};
  m["Squeeze"] = {squeeze, 1};
  m["Unsqueeze"] = {unsqueeze, 1};
  m["Pad"] = {pad_node, 2};
  m["Gather"] = {gather, 1};
  m["Slice"] = {slice_node, 1};
}

}  // namespace fovea::onnx::detail
