// ONNX nodes of element-wise math, reductions, normalisations and the layout ops of
// classifiers: Neg ... Erf, Pow, Max/Min/Sum/Mean, comparisons and Where; Reduce*, ArgMax/ArgMin;
// LayerNormalization, InstanceNormalization; PRelu, Softplus, Softsign, Selu, Celu,
// ThresholdedRelu; Mod, Einsum, ScatterND; DepthToSpace, SpaceToDepth, Tile, Expand, Split, Size, Range.
// Weights (PRelu's slope, the norms' scale and bias) become parameters of fovea layers.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "fovea/nn/nn.h"
#include "fovea/onnx/detail.h"

namespace fovea::onnx::detail {

namespace {

using Tensors = std::vector<Tensor>;

// Integer tensors go through f64 (exact below 2^53), f16 and bf16 (storage types) through f32,
// for the ops fovea computes on f32 and f64.
DType compute_type(DType t) {
  if (t == DType::f32 || t == DType::f64) return t;
  return t == DType::f16 || t == DType::bf16 ? DType::f32 : DType::f64;
}
template <typename F>
Tensor via_float(const Tensor& x, F f) {
  const DType c = compute_type(x.dtype());
  if (c == x.dtype()) return f(x);
  return f(x.to(c)).to(x.dtype());
}

template <Tensor (*F)(const Tensor&)>
void unary(Builder& b) {
  b.function([](nn::Module*, const Tensors& in) { return Tensors{via_float(in[0], F)}; });
}

Tensor reciprocal(const Tensor& x) { return 1.0 / x; }

void pow_node(Builder& b) {
  b.function([](nn::Module*, const Tensors& in) {
    const Device d = common_device(in);
    const Tensor x = on(in[0], d);
    // the result has the base's type (an integer base with a float exponent stays integer)
    Tensor e = on(in[1], d).to(is_floating(x.dtype()) ? x.dtype() : DType::f64);
    return Tensors{via_float(x, [&](const Tensor& xf) { return pow(xf, e.to(xf.dtype())); })};
  });
}

// Max, Min, Sum, Mean of any number of inputs, with NumPy broadcasting
template <int Kind>
void variadic(Builder& b) {
  b.function([](nn::Module*, const Tensors& in) {
    const Device d = common_device(in);
    const DType type = in.at(0).dtype(), storage16 = type == DType::f16 || type == DType::bf16 ? DType::f32 : type;
    Tensor y = on(in[0], d).to(storage16);
    for (std::size_t i = 1; i < in.size(); ++i) {
      const Tensor x = on(in[i], d).to(storage16);
      if constexpr (Kind == 0) y = maximum(y, x);
      else if constexpr (Kind == 1) y = minimum(y, x);
      else y = y + x;
    }
    if constexpr (Kind == 3) y = via_float(y, [&](const Tensor& t) { return t / static_cast<double>(in.size()); });
    return Tensors{y.to(type)};
  });
}

template <Tensor (*F)(const Tensor&, const Tensor&)>
void compare(Builder& b) {
  b.function([](nn::Module*, const Tensors& in) {
    const Device d = common_device(in);
    return Tensors{F(on(in[0], d), on(in[1], d))};
  });
}

// Not, And, Or, Xor on bool (u8) tensors
template <int Kind>
void logical(Builder& b) {
  b.function([](nn::Module*, const Tensors& in) {
    const Device d = common_device(in);
    const Tensor a = on(in[0], d), zero = scalar_like(0.0, a);
    if constexpr (Kind == 0) return Tensors{eq(a, zero)};
    const Tensor c = on(in[1], d);
    if constexpr (Kind == 1) return Tensors{ne(a * c, zero)};
    if constexpr (Kind == 2) return Tensors{ne(a + c, zero)};
    return Tensors{ne(ne(a, zero), ne(c, zero))};
  });
}

void where_node(Builder& b) {
  b.function([](nn::Module*, const Tensors& in) {
    const Device d = common_device(in);
    return Tensors{where(on(in[0], d), on(in[1], d), on(in[2], d))};
  });
}

// ---- reductions --------------------------------------------------------------------------

enum class Reduce { mean, sum, max, min, l1, l2, sum_square, log_sum, log_sum_exp };

Tensor reduce(const Tensor& x, std::vector<std::int64_t> axes, bool keep, Reduce k) {
  if (axes.empty())
    for (std::int64_t a = 0; a < x.dim(); ++a) axes.push_back(a);
  for (auto& a : axes) a = norm_axis(a, x.dim(), "Reduce");
  std::sort(axes.begin(), axes.end());
  auto squeeze_axes = [&](Tensor y) {
    if (!keep)
      for (auto it = axes.rbegin(); it != axes.rend(); ++it) y = y.squeeze(*it);
    return y;
  };
  switch (k) {
    case Reduce::max:
    case Reduce::min: {
      Tensor y = x;
      for (auto a : axes) y = k == Reduce::max ? max(y, a, true) : min(y, a, true);
      return squeeze_axes(y);
    }
    case Reduce::mean: return mean(x, axes, keep);
    case Reduce::sum: return sum(x, axes, keep);
    case Reduce::l1: return sum(abs(x), axes, keep);
    case Reduce::l2: return sqrt(sum(square(x), axes, keep));
    case Reduce::sum_square: return sum(square(x), axes, keep);
    case Reduce::log_sum: return log(sum(x, axes, keep));
    case Reduce::log_sum_exp: {
      Tensor m = x.detach();
      for (auto a : axes) m = max(m, a, true);
      return squeeze_axes(m + log(sum(exp(x - m), axes, true)));
    }
  }
  return x;
}

// axes: an attribute before opset 18 (ReduceSum: 13), the optional input 1 after; with no axes,
// every axis, or (noop_with_empty_axes) none
template <Reduce K>
void reduce_node(Builder& b) {
  const bool input_axes = b.opset() >= (K == Reduce::sum ? 13 : 18);
  const bool keep = b.attrs().i("keepdims", 1) != 0;
  const bool noop = input_axes && b.attrs().i("noop_with_empty_axes", 0) != 0;
  std::optional<std::vector<std::int64_t>> fixed;
  if (!input_axes) fixed = b.attrs().ints("axes");
  else if (!b.has_input(1)) fixed = std::vector<std::int64_t>{};
  else if (b.is_const(1)) fixed = to_ints(b.const_input(1, "axes"));
  b.function([fixed, keep, noop](nn::Module*, const Tensors& in) {
    const auto axes = fixed ? *fixed : to_ints(in.at(1));
    if (axes.empty() && noop) return Tensors{in[0]};
    return Tensors{via_float(in[0], [&](const Tensor& x) { return reduce(x, axes, keep, K); })};
  });
}

template <bool Max>
void arg_node(Builder& b) {
  const std::int64_t axis = b.attrs().i("axis", 0);
  const bool keep = b.attrs().i("keepdims", 1) != 0;
  const bool last = b.attrs().i("select_last_index", 0) != 0;
  b.function([axis, keep, last](nn::Module*, const Tensors& in) {
    const Tensor x = in[0].dtype() == DType::f64 || in[0].dtype() == DType::f32 ? in[0] : in[0].to(DType::f64);
    const std::int64_t a = norm_axis(axis, x.dim(), Max ? "ArgMax" : "ArgMin");
    if (!last) return Tensors{Max ? argmax(x, a, keep) : argmin(x, a, keep)};
    // the last of equal extremes: the first in the reversed axis, counted from the end
    const Tensor r = reverse(x, a);
    const Tensor i = Max ? argmax(r, a, keep) : argmin(r, a, keep);
    return Tensors{full(i.shape(), static_cast<double>(x.size(a) - 1), {.dtype = DType::i64, .device = i.device()}) -
                   i};
  });
}

// ---- normalisation and activations with weights ------------------------------------------

// LayerNormalization (opset 17): statistics over the dims from `axis` on; the scale and bias
// become an nn::LayerNorm's weight and bias
void layer_norm_node(Builder& b) {
  const auto& n = b.node();
  const std::int64_t axis = b.attrs().i("axis", -1);
  const double eps = b.attrs().f("epsilon", 1e-5);
  const Tensor scale = b.const_input(1, "Scale");
  const Tensor bias = b.has_input(2) ? b.const_input(2, "B") : Tensor();
  if (scale.dim() == 0) node_fail(n, "Scale must have the normalised shape, got a scalar");
  auto m = make_empty<nn::LayerNorm>({.normalized_shape = scale.shape(), .eps = eps});
  set_param(n, m->weight, scale, "Scale");
  if (bias.defined()) set_param(n, m->bias, bias.dim() == scale.dim() ? bias : bias.expand(scale.shape()), "B");
  else m->bias.set_data(zeros(scale.shape()));
  const bool stats = n.output_size() > 1;
  b.layer(m, [axis, stats](nn::Module* layer, const Tensors& in) {
    const std::int64_t k = in[0].dim() - norm_axis(axis, in[0].dim(), "LayerNormalization");
    const auto& ln = static_cast<nn::LayerNorm&>(*layer);
    if (k != ln.weight.dim())
      fail("LayerNormalization", "axis {} of input {} normalises {} dims, the scale has {}", axis,
           shape_str(in[0].shape()), k, ln.weight.dim());
    if (!stats) return Tensors{(*layer)(in[0])};
    // outputs 1 and 2 (training): the mean and 1 / sqrt(var + eps), normalised dims kept as 1
    std::vector<std::int64_t> dims;
    for (std::int64_t d = in[0].dim() - k; d < in[0].dim(); ++d) dims.push_back(d);
    const Tensor m = mean(in[0], dims, true);
    return Tensors{(*layer)(in[0]), m, rsqrt(mean(square(in[0] - m), dims, true) + ln.options().eps)};
  });
}

void instance_norm_node(Builder& b) {
  const auto& n = b.node();
  const Tensor scale = b.const_input(1, "scale"), bias = b.const_input(2, "B");
  if (scale.dim() != 1) node_fail(n, "scale must be 1-D, got {}", shape_str(scale.shape()));
  const double eps = b.attrs().f("epsilon", 1e-5);
  auto m = make_empty<nn::InstanceNorm2d>({.features = scale.size(0), .eps = eps, .affine = true});
  set_param(n, m->weight, scale, "scale");
  set_param(n, m->bias, bias, "B");
  // any rank (N,C,...): the functional form with the layer's parameters
  b.layer(m, [eps](nn::Module* layer, const Tensors& in) {
    const auto& l = static_cast<nn::InstanceNorm2d&>(*layer);
    return Tensors{instance_norm(in[0], l.weight, l.bias, eps)};
  });
}

// PRelu: one slope, or one per channel (shape (C), (C,1,...)), is an nn::PReLU; other slope
// shapes broadcast as constants
void prelu_node(Builder& b) {
  if (b.is_const(1)) {
    const Tensor slope = b.const_input(1, "slope");
    std::int64_t non_one = 0, c = 1;
    for (std::int64_t i = 0; i < slope.dim(); ++i)
      if (slope.size(i) != 1) {
        ++non_one;
        c = slope.size(i);
      }
    const bool per_channel = slope.numel() == 1 || (non_one == 1 && slope.size(0) == c);
    if (per_channel) {
      auto m = make_empty<nn::PReLU>({.num_parameters = slope.numel()});
      set_param(b.node(), m->weight, slope.reshape({slope.numel()}), "slope");
      return b.layer(m);
    }
  }
  b.function([](nn::Module*, const Tensors& in) {
    const Device d = common_device(in);
    const Tensor x = on(in[0], d), a = on(in[1], d).to(in[0].dtype()), zero = scalar_like(0.0, x);
    return Tensors{maximum(x, zero) + a * minimum(x, zero)};
  });
}

void softplus_node(Builder& b) { b.layer(nn::make<nn::Softplus>()); }

void softsign_node(Builder& b) {
  b.op_module([](const Tensor& x) { return x / (abs(x) + 1.0); });
}

void selu_node(Builder& b) {
  const double alpha = b.attrs().f("alpha", 1.67326319217681884765625);
  const double gamma = b.attrs().f("gamma", 1.05070102214813232421875);
  b.op_module([alpha, gamma](const Tensor& x) { return elu(x, alpha) * gamma; },
              fmt::format("alpha={}, gamma={}", alpha, gamma));
}

// max(0, x) + min(0, alpha (e^(x / alpha) - 1))
void celu_node(Builder& b) {
  const double alpha = b.attrs().f("alpha", 1.0);
  b.op_module(
      [alpha](const Tensor& x) {
        const Tensor zero = scalar_like(0.0, x);
        return maximum(x, zero) + minimum(zero, (exp(x / alpha) - 1.0) * alpha);
      },
      fmt::format("alpha={}", alpha));
}

void thresholded_relu_node(Builder& b) {
  const double alpha = b.attrs().f("alpha", 1.0);
  b.op_module([alpha](const Tensor& x) { return where(gt(x, scalar_like(alpha, x)), x, scalar_like(0.0, x)); },
              fmt::format("alpha={}", alpha));
}

// Mod: fmod=0, the remainder with the divisor's sign (integers, Python's %); fmod=1, C's fmod.
// Computed on the host, not differentiable (a step function of its inputs).
void mod_node(Builder& b) {
  const bool c_fmod = b.attrs().i("fmod", 0) != 0;
  b.function([c_fmod](nn::Module*, const Tensors& in) {
    const Device d = common_device(in);
    const bool floating = is_floating(in[0].dtype());
    if (!c_fmod && floating) fail("Mod", "fmod=0 is for integers; floats need fmod=1");
    const Tensor x0 = in[0].to(kCPU).to(DType::f64), y0 = in[1].to(kCPU).to(DType::f64);
    const Tensor a = x0 + zeros(y0.shape(), {.dtype = DType::f64}), bb = y0 + zeros(x0.shape(), {.dtype = DType::f64});
    const auto x = to_doubles(a), y = to_doubles(bb);
    std::vector<double> r(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (y[i] == 0 && !floating) fail("Mod", "integer division by zero");
      r[i] = std::fmod(x[i], y[i]);
      if (!c_fmod && r[i] != 0 && (r[i] < 0) != (y[i] < 0)) r[i] += y[i];
    }
    return Tensors{from_vector(r, a.shape(), {.dtype = DType::f64}).to(in[0].dtype()).to(d)};
  });
}

// ScatterND: data with the slices indices[i] (the last axis of indices indexing data's leading
// dims) replaced by updates[i], or combined with them (reduction add, mul, max, min). Computed on
// the host, not differentiable.
void scatter_nd(Builder& b) {
  const std::string red = b.attrs().s("reduction", "none");
  if (red != "none" && red != "add" && red != "mul" && red != "max" && red != "min")
    node_fail(b.node(), "unknown reduction '{}'", red);
  b.function([red](nn::Module*, const Tensors& in) {
    const Tensor& data = in.at(0);
    const auto idx = to_ints(in.at(1));
    const Tensor& upd = in.at(2);
    const std::int64_t k = in[1].dim() == 0 ? 0 : in[1].size(in[1].dim() - 1), r = data.dim();
    if (in[1].dim() < 1 || k > r)
      fail("ScatterND", "indices {} for data {}", shape_str(in[1].shape()), shape_str(data.shape()));
    std::int64_t slice = 1;
    for (std::int64_t d = k; d < r; ++d) slice *= data.size(d);
    auto out = to_doubles(data.contiguous());
    const auto u = to_doubles(upd.contiguous());
    const std::int64_t count = k == 0 ? 0 : static_cast<std::int64_t>(idx.size()) / k;
    if (static_cast<std::int64_t>(u.size()) != count * slice)
      fail("ScatterND", "updates {} do not match indices {} and data {}", shape_str(upd.shape()),
           shape_str(in[1].shape()), shape_str(data.shape()));
    for (std::int64_t i = 0; i < count; ++i) {
      std::int64_t off = 0;
      for (std::int64_t d = 0; d < k; ++d) {
        std::int64_t v = idx[static_cast<std::size_t>(i * k + d)];
        if (v < 0) v += data.size(d);
        if (v < 0 || v >= data.size(d))
          fail("ScatterND", "index {} out of range for dim {} of size {}", v, d, data.size(d));
        off = off * data.size(d) + v;
      }
      for (std::int64_t j = 0; j < slice; ++j) {
        double& o = out[static_cast<std::size_t>(off * slice + j)];
        const double v = u[static_cast<std::size_t>(i * slice + j)];
        o = red == "add"   ? o + v
            : red == "mul" ? o * v
            : red == "max" ? std::max(o, v)
            : red == "min" ? std::min(o, v)
                           : v;
      }
    }
    return Tensors{from_vector(out, data.shape(), {.dtype = DType::f64}).to(data.dtype()).to(data.device())};
  });
}

// Einsum: each operand's letters (spaces ignored; "..." for the same leading dims in every
// operand; a letter twice in one operand takes the diagonal), the output's after "->" or,
// without it, the letters seen once in alphabetical order. Operands combine left to right, each pair as one batched
// matmul: batch letters (in both and needed later), contracted (in both, not needed), free.
struct Labelled {
  Tensor t;
  std::string labels;
};

Labelled sum_away(Labelled x, const std::string& keep) {
  std::vector<std::int64_t> dims;
  std::string rest;
  for (std::size_t i = 0; i < x.labels.size(); ++i) {
    if (keep.find(x.labels[i]) == std::string::npos) dims.push_back(static_cast<std::int64_t>(i));
    else rest += x.labels[i];
  }
  if (!dims.empty()) x.t = sum(x.t, dims, false);
  x.labels = rest;
  return x;
}

Tensor permuted(const Labelled& x, const std::string& order) {
  std::vector<std::int64_t> p;
  for (char c : order) p.push_back(static_cast<std::int64_t>(x.labels.find(c)));
  return x.t.permute(p);
}

Labelled contract(Labelled a, Labelled b, const std::string& needed) {
  std::string both_a, only_a, only_b;
  for (char c : a.labels) (b.labels.find(c) != std::string::npos ? both_a : only_a) += c;
  for (char c : b.labels)
    if (a.labels.find(c) == std::string::npos) only_b += c;
  a = sum_away(a, both_a + needed);
  b = sum_away(b, both_a + needed);
  std::string batch, kept_a, kept_b, inner;
  for (char c : both_a) (needed.find(c) != std::string::npos ? batch : inner) += c;
  for (char c : a.labels)
    if (both_a.find(c) == std::string::npos) kept_a += c;
  for (char c : b.labels)
    if (both_a.find(c) == std::string::npos) kept_b += c;
  auto size_of = [](const Labelled& x, char c) { return x.t.size(static_cast<std::int64_t>(x.labels.find(c))); };
  auto prod = [&](const Labelled& x, const std::string& ls) {
    std::int64_t n = 1;
    for (char c : ls) n *= size_of(x, c);
    return n;
  };
  Shape out_shape;
  for (char c : batch) {
    if (size_of(a, c) != size_of(b, c))
      fail("Einsum", "label '{}' has sizes {} and {}", c, size_of(a, c), size_of(b, c));
    out_shape.push_back(size_of(a, c));
  }
  for (char c : kept_a) out_shape.push_back(size_of(a, c));
  for (char c : kept_b) out_shape.push_back(size_of(b, c));
  for (char c : inner)
    if (size_of(a, c) != size_of(b, c))
      fail("Einsum", "label '{}' has sizes {} and {}", c, size_of(a, c), size_of(b, c));
  const std::int64_t nb = prod(a, batch), na = prod(a, kept_a), nk = prod(a, inner), nbr = prod(b, kept_b);
  Tensor ta = permuted(a, batch + kept_a + inner).reshape({nb, na, nk});
  Tensor tb = permuted(b, batch + inner + kept_b).reshape({nb, nk, nbr});
  return {matmul(ta, tb).reshape(out_shape), batch + kept_a + kept_b};
}

void einsum_node(Builder& b) {
  std::string eq;
  for (char c : b.attrs().s("equation", "")) {
    if (c != ' ') eq += c;
  }
  const auto arrow = eq.find("->");
  std::string lhs = eq.substr(0, arrow), out;
  std::vector<std::string> terms;
  for (std::size_t start = 0;;) {
    const auto comma = lhs.find(',', start);
    terms.push_back(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (arrow != std::string::npos) {
    out = eq.substr(arrow + 2);
  } else {  // implicit: the letters seen once, sorted
    std::string all;
    for (const auto& t : terms) all += t;
    for (char c = 'A'; c <= 'z'; ++c)
      if (std::isalpha(static_cast<unsigned char>(c)) && std::count(all.begin(), all.end(), c) == 1) out += c;
    if (all.find("...") != std::string::npos) out = "..." + out;
  }
  if (static_cast<int>(terms.size()) != b.node().input_size())
    node_fail(b.node(), "equation '{}' has {} operands for {} inputs", eq, terms.size(), b.node().input_size());
  b.function([terms, out, eq](nn::Module*, const Tensors& in) {
    // "..." becomes digits standing for the same leading dims of every operand
    std::int64_t ell = -1;
    std::vector<Labelled> ops;
    auto expand_ellipsis = [&](std::string t, std::int64_t rank) {
      const auto e = t.find("...");
      if (e == std::string::npos) return t;
      const std::int64_t n = rank - static_cast<std::int64_t>(t.size() - 3);
      if (ell >= 0 && n != ell) fail("Einsum", "'...' stands for {} and {} dims in '{}'", ell, n, eq);
      ell = n;
      std::string digits;
      for (std::int64_t k = 0; k < n; ++k) digits += static_cast<char>('0' + k);
      return t.replace(e, 3, digits);
    };
    for (std::size_t i = 0; i < terms.size(); ++i) {
      Labelled l{in[i], expand_ellipsis(terms[i], in[i].dim())};
      if (static_cast<std::int64_t>(l.labels.size()) != in[i].dim())
        fail("Einsum", "operand {} is {} but '{}' names {} dims", i, shape_str(in[i].shape()), terms[i],
             l.labels.size());
      for (std::size_t p = 0; p < l.labels.size(); ++p) {  // a repeated label: the diagonal
        const auto q = l.labels.find(l.labels[p], p + 1);
        if (q == std::string::npos) continue;
        const auto pi = static_cast<std::int64_t>(p), qi = static_cast<std::int64_t>(q);
        const std::int64_t n = l.t.size(pi);
        if (l.t.size(qi) != n)
          fail("Einsum", "label '{}' has sizes {} and {} in operand {}", l.labels[p], n, l.t.size(qi), i);
        std::vector<double> eye(static_cast<std::size_t>(n * n), 0.0);
        for (std::int64_t k = 0; k < n; ++k) eye[static_cast<std::size_t>(k * n + k)] = 1.0;
        Shape es(static_cast<std::size_t>(l.t.dim()), 1);
        es[p] = n;
        es[q] = n;
        const Tensor mask = from_vector(eye, es, {.dtype = DType::f64}).to(l.t.dtype()).to(l.t.device());
        l.t = sum(l.t * mask, {qi}, false);
        l.labels.erase(q, 1);
        --p;  // the same label may repeat once more
      }
      ops.push_back(l);
    }
    const std::string result = expand_ellipsis(
        out, ell < 0 ? static_cast<std::int64_t>(out.size()) : ell + static_cast<std::int64_t>(out.size()) - 3);
    Labelled acc = ops[0];
    for (std::size_t i = 1; i < ops.size(); ++i) {
      std::string needed = result;
      for (std::size_t j = i + 1; j < ops.size(); ++j) needed += ops[j].labels;
      acc = contract(acc, ops[i], needed);
    }
    acc = sum_away(acc, result);
    for (char c : result)
      if (acc.labels.find(c) == std::string::npos) fail("Einsum", "output label '{}' is in no operand of '{}'", c, eq);
    return Tensors{permuted(acc, result)};
  });
}

// ---- layout ---------------------------------------------------------------------------------

// DepthToSpace (N, C b^2, H, W) -> (N, C, H b, W b); DCR: depth is (b, b, C), CRD: (C, b, b)
void depth_to_space(Builder& b) {
  const std::int64_t bs = b.attrs().i("blocksize", 0);
  if (bs < 1) node_fail(b.node(), "blocksize must be >= 1, got {}", bs);
  const bool crd = b.attrs().s("mode", "DCR") == "CRD";
  b.op_module(
      [bs, crd](const Tensor& x) {
        if (x.dim() != 4 || x.size(1) % (bs * bs) != 0)
          fail("DepthToSpace", "expected (N, C*{}, H, W), got {}", bs * bs, shape_str(x.shape()));
        const std::int64_t N = x.size(0), C = x.size(1) / (bs * bs), H = x.size(2), W = x.size(3);
        Tensor t = crd ? x.reshape({N, C, bs, bs, H, W}).permute({0, 1, 4, 2, 5, 3})
                       : x.reshape({N, bs, bs, C, H, W}).permute({0, 3, 4, 1, 5, 2});
        return t.reshape({N, C, H * bs, W * bs});
      },
      fmt::format("blocksize={}, mode={}", bs, crd ? "CRD" : "DCR"));
}

// SpaceToDepth (N, C, H b, W b) -> (N, C b^2, H, W), depth ordered (b, b, C)
void space_to_depth(Builder& b) {
  const std::int64_t bs = b.attrs().i("blocksize", 0);
  if (bs < 1) node_fail(b.node(), "blocksize must be >= 1, got {}", bs);
  b.op_module(
      [bs](const Tensor& x) {
        if (x.dim() != 4 || x.size(2) % bs != 0 || x.size(3) % bs != 0)
          fail("SpaceToDepth", "expected (N, C, H, W) with H and W multiples of {}, got {}", bs, shape_str(x.shape()));
        const std::int64_t N = x.size(0), C = x.size(1), H = x.size(2) / bs, W = x.size(3) / bs;
        return x.reshape({N, C, H, bs, W, bs}).permute({0, 3, 5, 1, 2, 4}).reshape({N, C * bs * bs, H, W});
      },
      fmt::format("blocksize={}", bs));
}

// Tile: repeats[i] copies along axis i (concatenation, differentiable)
void tile(Builder& b) {
  b.function([](nn::Module*, const Tensors& in) {
    const auto reps = to_ints(in.at(1));
    Tensor x = in[0];
    if (static_cast<std::int64_t>(reps.size()) != x.dim())
      fail("Tile", "{} repeats for a {}-D input", reps.size(), x.dim());
    for (std::size_t a = 0; a < reps.size(); ++a) {
      if (reps[a] < 0) fail("Tile", "negative repeats {}", reps[a]);
      if (reps[a] == 1) continue;
      const auto ax = static_cast<std::int64_t>(a);
      x = reps[a] == 0 ? x.slice(ax, 0, 0) : cat(Tensors(static_cast<std::size_t>(reps[a]), x), ax);
    }
    return Tensors{x};
  });
}

// Expand: NumPy broadcasting of the input and the shape (either may be larger along an axis)
void expand_node(Builder& b) {
  b.function([](nn::Module*, const Tensors& in) {
    const auto v = to_ints(in.at(1));
    const Tensor& x = in[0];
    const std::size_t r = std::max(v.size(), static_cast<std::size_t>(x.dim()));
    Shape xs(r - static_cast<std::size_t>(x.dim()), 1), target(r);
    xs.insert(xs.end(), x.shape().begin(), x.shape().end());
    for (std::size_t i = 0; i < r; ++i) {
      const std::int64_t want = i + v.size() >= r ? v[i + v.size() - r] : 1;
      if (xs[i] != 1 && want != 1 && xs[i] != want)
        fail("Expand", "cannot broadcast {} to ({})", shape_str(x.shape()), fmt::join(v, ","));
      target[i] = xs[i] == 1 ? want : xs[i];
    }
    return Tensors{x.reshape(xs).expand(target)};
  });
}

// Split: sizes from the `split` attribute (before 13) or input 1, or num_outputs (18), or equal parts
void split_node(Builder& b) {
  const std::int64_t axis = b.attrs().i("axis", 0);
  const int outputs = b.node().output_size();
  std::optional<std::vector<std::int64_t>> sizes;
  if (b.opset() < 13 && b.attrs().has("split")) sizes = b.attrs().ints("split");
  if (b.opset() >= 13 && b.has_input(1)) sizes = to_ints(b.const_input(1, "split"));
  const std::int64_t num = b.attrs().i("num_outputs", outputs);
  b.function([axis, outputs, sizes, num](nn::Module*, const Tensors& in) {
    const Tensor& x = in[0];
    const std::int64_t a = norm_axis(axis, x.dim(), "Split"), n = x.size(a);
    std::vector<std::int64_t> s;
    if (sizes) {
      s = *sizes;
    } else {  // ceil(n / num) each, the last one smaller (opset 18); equal parts before
      const std::int64_t part = (n + num - 1) / num;
      for (std::int64_t k = 0, left = n; k < num; ++k, left -= part) s.push_back(std::min(part, left));
    }
    std::int64_t total = 0;
    for (auto v : s) total += v;
    if (total != n || static_cast<int>(s.size()) != outputs)
      fail("Split", "parts ({}) do not split axis {} of size {} into {} outputs", fmt::join(s, ","), a, n, outputs);
    Tensors out;
    std::int64_t start = 0;
    for (auto v : s) {
      out.push_back(x.slice(a, start, start + v));
      start += v;
    }
    return out;
  });
}

void size_node(Builder& b) {
  b.function([](nn::Module*, const Tensors& in) {
    return Tensors{scalar_tensor(static_cast<double>(in[0].numel()), DType::i64)};
  });
}

void range_node(Builder& b) {
  b.function([](nn::Module*, const Tensors& in) {
    const double start = to_doubles(in.at(0)).at(0), limit = to_doubles(in.at(1)).at(0),
                 delta = to_doubles(in.at(2)).at(0);
    if (delta == 0) fail("Range", "delta is 0");
    const auto n = std::max<std::int64_t>(static_cast<std::int64_t>(std::ceil((limit - start) / delta)), 0);
    std::vector<double> v;
    for (std::int64_t i = 0; i < n; ++i) v.push_back(start + static_cast<double>(i) * delta);
    return Tensors{from_vector(v, {n}, {.dtype = DType::f64}).to(in[0].dtype())};
  });
}

}  // namespace

void add_math_converters(Converters& m) {
  m["Neg"] = {unary<neg>, 6};
  m["Abs"] = {unary<abs>, 6};
  m["Sqrt"] = {unary<sqrt>, 6};
  m["Exp"] = {unary<exp>, 6};
  m["Log"] = {unary<log>, 6};
  m["Reciprocal"] = {unary<reciprocal>, 6};
  m["Erf"] = {unary<erf>, 9};
  m["Sign"] = {unary<sign>, 9};
  m["Pow"] = {pow_node, 7};
  m["Max"] = {variadic<0>, 8};
  m["Min"] = {variadic<1>, 8};
  m["Sum"] = {variadic<2>, 8};
  m["Mean"] = {variadic<3>, 8};
  m["Equal"] = {compare<eq>, 7};
  m["Less"] = {compare<lt>, 7};
  m["Greater"] = {compare<gt>, 7};
  m["LessOrEqual"] = {compare<le>, 12};
  m["GreaterOrEqual"] = {compare<ge>, 12};
  m["Where"] = {where_node, 9};
  m["Not"] = {logical<0>, 1};
  m["And"] = {logical<1>, 7};
  m["Or"] = {logical<2>, 7};
  m["Xor"] = {logical<3>, 7};
  m["ReduceMean"] = {reduce_node<Reduce::mean>, 1};
  m["ReduceSum"] = {reduce_node<Reduce::sum>, 1};
  m["ReduceMax"] = {reduce_node<Reduce::max>, 1};
  m["ReduceMin"] = {reduce_node<Reduce::min>, 1};
  m["ReduceL1"] = {reduce_node<Reduce::l1>, 1};
  m["ReduceL2"] = {reduce_node<Reduce::l2>, 1};
  m["ReduceSumSquare"] = {reduce_node<Reduce::sum_square>, 1};
  m["ReduceLogSum"] = {reduce_node<Reduce::log_sum>, 1};
  m["ReduceLogSumExp"] = {reduce_node<Reduce::log_sum_exp>, 1};
  m["ArgMax"] = {arg_node<true>, 1};
  m["ArgMin"] = {arg_node<false>, 1};
  m["LayerNormalization"] = {layer_norm_node, 17};
  m["InstanceNormalization"] = {instance_norm_node, 6};
  m["PRelu"] = {prelu_node, 7};
  m["Softplus"] = {softplus_node, 1};
  m["Softsign"] = {softsign_node, 1};
  m["Selu"] = {selu_node, 6};
  m["Celu"] = {celu_node, 12};
  m["ThresholdedRelu"] = {thresholded_relu_node, 10};
  m["DepthToSpace"] = {depth_to_space, 1};
  m["SpaceToDepth"] = {space_to_depth, 1};
  m["Tile"] = {tile, 6};
  m["Expand"] = {expand_node, 8};
  m["Split"] = {split_node, 2};
  m["Size"] = {size_node, 1};
  m["Range"] = {range_node, 11};
  m["Mod"] = {mod_node, 10};
  m["Einsum"] = {einsum_node, 12};
  m["ScatterND"] = {scatter_nd, 11};
}

}  // namespace fovea::onnx::detail
