// ONNX Resize (opsets 10 to 18) and Upsample (7 to 9), computed as ONNX defines them: every
// coordinate_transformation_mode, every nearest_mode, linear and cubic (cubic_coeff_a,
// exclude_outside), tf_crop_and_resize with roi and extrapolation_value, on any axes.
//
// Each resized axis is one interpolation matrix (out x in) whose rows hold the taps of ONNX's
// reference (nearest 2, linear 2, cubic 4, edge-clamped), applied by matmul: exact, and
// differentiable for fine-tuning. The modes PyTorch exports (nearest asymmetric floor, linear
// half_pixel / pytorch_half_pixel / align_corners) with an integral size ratio give the same
// numbers as fovea's upsample kernel, which then runs instead (nn::Upsample when the scales are
// constant integers).
#include <cmath>

#include "fovea/nn/nn.h"
#include "fovea/onnx/detail.h"

namespace fovea::onnx::detail {

namespace {

using Tensors = std::vector<Tensor>;

struct ResizeSpec {
  std::string mode;  // nearest, linear, cubic
  std::string coord;
  std::string nearest_mode;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  double extrapolation = 0.0;
  std::vector<std::int64_t> axes;  // opset 18; empty: every axis
};

// The target of one call: per axis (of x's rank) the output length, the scale used by the
// coordinate transform and the output width it assumes (scale * in for scales, out for sizes),
// and the roi.
struct AxisTarget {
  std::int64_t out;
  double scale, width, roi_begin = 0, roi_end = 1;
};

// Rows of the (out x in) interpolation matrix for one axis, and which rows lie outside the
// input (tf_crop_and_resize: extrapolation_value).
struct AxisMatrix {
  std::vector<double> w;
  std::vector<char> outside;
  bool identity = true;
};

double source_coordinate(const ResizeSpec& s, std::int64_t x, std::int64_t in, const AxisTarget& t) {
  const double xr = static_cast<double>(x);
  if (s.coord == "align_corners") return t.width == 1 ? 0.0 : xr * static_cast<double>(in - 1) / (t.width - 1);
  if (s.coord == "asymmetric") return xr / t.scale;
  if (s.coord == "tf_half_pixel_for_nn") return (xr + 0.5) / t.scale;
  if (s.coord == "pytorch_half_pixel") return t.width == 1 ? -0.5 : (xr + 0.5) / t.scale - 0.5;
  if (s.coord == "tf_crop_and_resize") {
    const double span = (t.roi_end - t.roi_begin) * static_cast<double>(in - 1);
    const double xo = t.width == 1 ? span / 2 : xr * span / (t.width - 1);
    return xo + t.roi_begin * static_cast<double>(in - 1);
  }
  return (xr + 0.5) / t.scale - 0.5;  // half_pixel
}

// The tap weights for the fractional position `ratio` in (0, 1] past the tap `base`.
std::vector<double> coefficients(const ResizeSpec& s, double r) {
  if (s.mode == "linear") return {1 - r, r};
  if (s.mode == "cubic") {
    const double A = s.cubic_a;
    auto far = [A](double d) { return ((A * d - 5 * A) * d + 8 * A) * d - 4 * A; };  // 1 < d < 2
    auto near = [A](double d) { return ((A + 2) * d - (A + 3)) * d * d + 1; };       // d <= 1
    return {far(r + 1), near(r), near(1 - r), far(2 - r)};
  }
  if (r == 1) return {0, 1};  // an integer position
  const std::string& m = s.nearest_mode;
  if (m == "round_prefer_ceil") return {r < 0.5 ? 1.0 : 0.0, r >= 0.5 ? 1.0 : 0.0};
  if (m == "floor") return {1, 0};
  if (m == "ceil") return {0, 1};
  return {r <= 0.5 ? 1.0 : 0.0, r > 0.5 ? 1.0 : 0.0};  // round_prefer_floor
}

AxisMatrix axis_matrix(const ResizeSpec& s, std::int64_t in, const AxisTarget& t) {
  AxisMatrix m;
  m.w.assign(static_cast<std::size_t>(t.out * in), 0.0);
  m.outside.assign(static_cast<std::size_t>(t.out), 0);
  m.identity = t.out == in;
  for (std::int64_t x = 0; x < t.out; ++x) {
    const double xo = source_coordinate(s, x, in, t);
    if (s.coord == "tf_crop_and_resize" && (xo < 0 || xo > static_cast<double>(in - 1))) {
      m.outside[static_cast<std::size_t>(x)] = 1;
      m.identity = false;
      continue;
    }
    auto base = static_cast<std::int64_t>(std::floor(xo));
    double ratio = xo - static_cast<double>(base);
    if (ratio == 0) {  // ONNX's reference takes the tap left of an integer position with ratio 1
      ratio = 1;
      base -= 1;
    }
    std::vector<double> c = coefficients(s, ratio);
    const std::int64_t first = c.size() == 4 ? base - 1 : base;
    if (s.exclude_outside) {
      double sum = 0;
      for (std::size_t k = 0; k < c.size(); ++k) {
        const std::int64_t i = first + static_cast<std::int64_t>(k);
        if (i < 0 || i >= in) c[k] = 0;
        sum += c[k];
      }
      for (auto& v : c) v /= sum;
    }
    for (std::size_t k = 0; k < c.size(); ++k) {
      const std::int64_t i = std::clamp<std::int64_t>(first + static_cast<std::int64_t>(k), 0, in - 1);
      m.w[static_cast<std::size_t>(x * in + i)] += c[k];
    }
    for (std::int64_t i = 0; i < in; ++i)
      if (m.w[static_cast<std::size_t>(x * in + i)] != (i == x ? 1.0 : 0.0)) m.identity = false;
  }
  return m;
}

// x resized along `axis` by the matrix: (..., in, ...) -> (..., out, ...)
Tensor apply_axis(const Tensor& x, std::int64_t axis, const AxisMatrix& m, std::int64_t out, double extrapolation) {
  const std::int64_t r = x.dim(), in = x.size(axis);
  Tensor A = from_vector(m.w, {out, in}, {.dtype = DType::f64, .device = kCPU}).to(x.dtype()).to(x.device());
  Tensor xt = x.transpose(axis, r - 1);
  Shape moved = xt.shape();
  Tensor y = matmul(xt.reshape({-1, in}), A.t());
  moved.back() = out;
  y = y.reshape(moved).transpose(axis, r - 1);
  bool any = false;
  for (char c : m.outside) any = any || c;
  if (!any) return y;
  std::vector<double> fill(m.outside.begin(), m.outside.end());
  Shape s(static_cast<std::size_t>(r), 1);
  s[static_cast<std::size_t>(axis)] = out;
  Tensor mask = from_vector(fill, s, {.dtype = DType::f64, .device = kCPU}).to(x.dtype()).to(x.device());
  return y + mask * extrapolation;
}

// The upsample kernel's mode when it computes what ONNX asks in mode s (the modes PyTorch
// exports): nearest with asymmetric floor, or bilinear with half-pixel centres or aligned corners.
std::optional<UpsampleOptions> kernel_mode(const ResizeSpec& s) {
  if (s.mode == "nearest" && s.coord == "asymmetric" && s.nearest_mode == "floor")
    return UpsampleOptions{.mode = UpsampleMode::nearest};
  if (s.mode == "linear" && (s.coord == "half_pixel" || s.coord == "pytorch_half_pixel"))
    return UpsampleOptions{.mode = UpsampleMode::bilinear};
  if (s.mode == "linear" && s.coord == "align_corners")
    return UpsampleOptions{.mode = UpsampleMode::bilinear, .align_corners = true};
  return std::nullopt;
}

// When fovea's upsample kernel computes exactly what ONNX asks (a kernel_mode, H and W only, every
// output length an integral ratio's), its options.
std::optional<UpsampleOptions> kernel_options(const ResizeSpec& s, const Tensor& x, const std::vector<AxisTarget>& t) {
  auto o = kernel_mode(s);
  if (!o || x.dim() != 4 || !is_floating(x.dtype())) return std::nullopt;
  for (int a = 0; a < 2; ++a)
    if (t[static_cast<std::size_t>(a)].out != x.size(a)) return std::nullopt;
  for (int a = 2; a < 4; ++a) {
    const auto& ta = t[static_cast<std::size_t>(a)];
    const double in = static_cast<double>(x.size(a));
    if (ta.width != static_cast<double>(ta.out) || ta.scale * in != static_cast<double>(ta.out)) return std::nullopt;
    if (s.coord == "pytorch_half_pixel" && ta.out == 1) return std::nullopt;
    if (s.mode == "nearest" && ta.out % x.size(a) != 0) return std::nullopt;
  }
  o->size = {t[2].out, t[3].out};
  return o;
}

// The per-axis targets from scales or sizes (given for `axes`, or for every axis) and roi.
std::vector<AxisTarget> targets(const ResizeSpec& s, const Tensor& x, const Tensor& roi, const Tensor& scales,
                                const Tensor& sizes) {
  const std::int64_t r = x.dim();
  std::vector<std::int64_t> axes = s.axes;
  if (axes.empty())
    for (std::int64_t a = 0; a < r; ++a) axes.push_back(a);
  for (auto& a : axes) {
    if (a < -r || a >= r) fail("Resize", "axis {} out of range for {}", a, shape_str(x.shape()));
    if (a < 0) a += r;
  }
  const auto n = axes.size();
  std::vector<AxisTarget> t;
  for (std::int64_t a = 0; a < r; ++a) {
    const auto in = static_cast<double>(x.size(a));
    t.push_back({.out = x.size(a), .scale = 1.0, .width = in});
  }
  if (sizes.defined() && sizes.numel() > 0) {
    const auto v = to_ints(sizes);
    if (v.size() != n) fail("Resize", "sizes has {} values for {} axes", v.size(), n);
    for (std::size_t k = 0; k < n; ++k) {
      auto& ta = t[static_cast<std::size_t>(axes[k])];
      if (v[k] < 1) fail("Resize", "sizes must be >= 1, got {}", v[k]);
      ta.out = v[k];
      ta.width = static_cast<double>(v[k]);
      ta.scale = static_cast<double>(v[k]) / static_cast<double>(x.size(axes[k]));
    }
  } else if (scales.defined() && scales.numel() > 0) {
    const auto v = to_doubles(scales);
    if (v.size() != n) fail("Resize", "scales has {} values for {} axes", v.size(), n);
    for (std::size_t k = 0; k < n; ++k) {
      auto& ta = t[static_cast<std::size_t>(axes[k])];
      if (!(v[k] > 0)) fail("Resize", "scales must be > 0, got {}", v[k]);
      ta.scale = v[k];
      ta.width = v[k] * static_cast<double>(x.size(axes[k]));
      ta.out = static_cast<std::int64_t>(std::floor(ta.width));
      if (ta.out < 1)
        fail("Resize", "scale {} leaves no output pixel on axis {} of {}", v[k], axes[k], shape_str(x.shape()));
    }
  } else {
    fail("Resize", "neither scales nor sizes given");
  }
  if (s.coord == "tf_crop_and_resize") {
    if (!roi.defined() || roi.numel() == 0) fail("Resize", "tf_crop_and_resize needs roi");
    const auto v = to_doubles(roi);
    if (v.size() != 2 * n) fail("Resize", "roi has {} values for {} axes (begins, then ends)", v.size(), n);
    for (std::size_t k = 0; k < n; ++k) {
      t[static_cast<std::size_t>(axes[k])].roi_begin = v[k];
      t[static_cast<std::size_t>(axes[k])].roi_end = v[k + n];
    }
  }
  return t;
}

Tensor resize_any(const Tensor& x, const ResizeSpec& s, const Tensor& roi, const Tensor& scales, const Tensor& sizes) {
  const auto t = targets(s, x, roi, scales, sizes);
  if (auto o = kernel_options(s, x, t)) return upsample(x, *o);
  // integers interpolate in f64 (exact for nearest) and come back to their type
  Tensor y = is_floating(x.dtype()) ? x : x.to(DType::f64);
  for (std::int64_t a = x.dim() - 1; a >= 0; --a) {
    const auto& ta = t[static_cast<std::size_t>(a)];
    const AxisMatrix m = axis_matrix(s, x.size(a), ta);
    if (!m.identity) y = apply_axis(y, a, m, ta.out, s.extrapolation);
  }
  return y.dtype() == x.dtype() ? y : y.to(x.dtype());
}

ResizeSpec spec_of(Builder& b) {
  const auto& a = b.attrs();
  const auto& n = b.node();
  const bool upsample_op = n.op_type() == "Upsample" || b.opset() < 11;
  ResizeSpec s;
  s.mode = a.s("mode", "nearest");
  if (s.mode == "bilinear") s.mode = "linear";  // Upsample-7's name
  if (s.mode != "nearest" && s.mode != "linear" && s.mode != "cubic")
    node_fail(n, "mode '{}' is not supported (nearest, linear, cubic)", s.mode);
  if (upsample_op && s.mode == "cubic") node_fail(n, "mode 'cubic' arrived with Resize-11");
  s.coord = upsample_op ? "asymmetric" : a.s("coordinate_transformation_mode", "half_pixel");
  s.nearest_mode = upsample_op ? "floor" : a.s("nearest_mode", "round_prefer_floor");
  s.cubic_a = a.f("cubic_coeff_a", -0.75);
  s.exclude_outside = a.i("exclude_outside", 0) != 0;
  s.extrapolation = a.f("extrapolation_value", 0.0);
  auto one_of = [](const std::string& v, std::initializer_list<const char*> options) {
    for (const char* o : options)
      if (v == o) return true;
    return false;
  };
  if (!one_of(s.coord, {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize",
                        "tf_half_pixel_for_nn"}))
    node_fail(n, "unknown coordinate_transformation_mode '{}'", s.coord);
  if (s.coord == "tf_half_pixel_for_nn" && b.opset() >= 13)
    node_fail(n, "coordinate_transformation_mode 'tf_half_pixel_for_nn' was removed in opset 13");
  if (!one_of(s.nearest_mode, {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}))
    node_fail(n, "unknown nearest_mode '{}'", s.nearest_mode);
  if (a.i("antialias", 0) != 0) node_fail(n, "antialias=1 is not supported");
  if (const auto p = a.s("keep_aspect_ratio_policy", "stretch"); p != "stretch")
    node_fail(n, "keep_aspect_ratio_policy '{}' is not supported (stretch)", p);
  s.axes = a.ints("axes");
  return s;
}

// inputs: X, roi, scales, sizes (Resize-11+); X, scales (Resize-10, Upsample-9); scales an
// attribute (Upsample-7)
void resample(Builder& b, const ResizeSpec& s, int roi_input, int scales_input, int sizes_input, Tensor attr_scales) {
  auto constant_or_absent = [&](int i) { return i < 0 || !b.has_input(i) || b.is_const(i); };
  auto get_const = [&](int i) { return i >= 0 && b.has_input(i) ? b.const_input(i, "resize input") : Tensor(); };
  if (constant_or_absent(roi_input) && constant_or_absent(scales_input) && constant_or_absent(sizes_input)) {
    const Tensor roi = get_const(roi_input), sizes = get_const(sizes_input);
    const Tensor scales = attr_scales.defined() ? attr_scales : get_const(scales_input);
    // constant integer scales of H and W in a mode fovea's kernel computes: an nn::Upsample layer
    if (!sizes.defined() || sizes.numel() == 0) {
      const auto v = scales.defined() ? to_doubles(scales) : std::vector<double>{};
      const bool whole = v.size() == 4 && s.axes.empty() && v[0] == 1 && v[1] == 1 && v[2] >= 1 && v[3] >= 1 &&
                         v[2] == std::floor(v[2]) && v[3] == std::floor(v[3]);
      if (auto o = kernel_mode(s); whole && o) {
        o->scale = {v[2], v[3]};
        return b.layer(nn::make<nn::Upsample>(*o));
      }
    }
    return b.op_module([s, roi, scales, sizes](const Tensor& x) { return resize_any(x, s, roi, scales, sizes); },
                       fmt::format("mode={}, coordinate_transformation_mode={}", s.mode, s.coord));
  }
  b.function([s, roi_input, scales_input, sizes_input, attr_scales](nn::Module*, const Tensors& in) {
    auto get = [&](int i) {
      return i >= 0 && i < static_cast<int>(in.size()) ? in[static_cast<std::size_t>(i)] : Tensor();
    };
    return Tensors{resize_any(in[0], s, get(roi_input), attr_scales.defined() ? attr_scales : get(scales_input),
                              get(sizes_input))};
  });
}

void resize(Builder& b) {
  const ResizeSpec s = spec_of(b);
  if (b.opset() < 11) return resample(b, s, -1, 1, -1, {});
  resample(b, s, 1, 2, 3, {});
}

// Upsample (deprecated in opset 10): scales an attribute before opset 9, input 1 from 9
void upsample_node(Builder& b) {
  const ResizeSpec s = spec_of(b);
  if (b.opset() < 9) {
    const auto v = b.attrs().floats("scales");
    if (v.empty()) node_fail(b.node(), "attribute 'scales' is required");
    return resample(b, s, -1, -1, -1, from_vector(v, {static_cast<std::int64_t>(v.size())}, {.dtype = DType::f64}));
  }
  resample(b, s, -1, 1, -1, {});
}

}  // namespace

void add_resize_converters(Converters& m) {
  m["Resize"] = {resize, 10};
  m["Upsample"] = {upsample_node, 7};
}

}  // namespace fovea::onnx::detail
