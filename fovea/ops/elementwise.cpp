// Elementwise ops with NumPy broadcasting; backward formulas written with ops.
#include "fovea/ops/detail.h"
#include "fovea/ops/trace.h"

namespace fovea {

using backend::BinaryOp;
using backend::UnaryOp;
using detail::be;

namespace detail {

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  if (a.device() != b.device()) fail(op, "tensors on different devices: {} and {}", a.device().str(), b.device().str());
}
void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  if (a.dtype() != b.dtype()) fail(op, "dtype mismatch: {} and {}", dtype_name(a.dtype()), dtype_name(b.dtype()));
}
void check_floating(const Tensor& t, const char* op) {
  if (t.dtype() != DType::f32 && t.dtype() != DType::f64)
    fail(op, "expected a floating tensor (f32 or f64), got {}", dtype_name(t.dtype()));
}

Tensor expand_raw(const Tensor& t, const Shape& s) {
  if (t.shape() == s) return t;
  const auto nd = static_cast<std::int64_t>(s.size()), td = t.dim();
  Shape st(s.size(), 0);
  for (std::int64_t i = 0; i < td; ++i) {
    std::int64_t j = nd - td + i;
    st[j] = t.shape()[i] == 1 && s[j] != 1 ? 0 : t.strides()[i];
  }
  return make_view(t, s, st, t.offset());
}

Tensor new_empty(const Tensor& like, const Shape& s, std::optional<DType> dt) {
  return empty(s, {.dtype = dt.value_or(like.dtype()), .device = like.device()});
}

}  // namespace detail

Tensor scalar_like(double v, const Tensor& like) { return scalar_tensor(v, like.dtype(), like.device()); }

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  const auto lead = g.dim() - static_cast<std::int64_t>(shape.size());
  std::vector<std::int64_t> dims;
  for (std::int64_t i = 0; i < g.dim(); ++i)
    if (i < lead || (shape[i - lead] == 1 && g.shape()[i] != 1)) dims.push_back(i);
  Tensor r = dims.empty() ? g : sum(g, dims, true);
  return r.reshape(shape);
}

namespace {

bool is_comparison(BinaryOp op) { return op >= BinaryOp::eq; }

Tensor binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, const char* name) {
  detail::check_defined(a, name, "first operand");
  detail::check_defined(b, name, "second operand");
  detail::check_same_device(a, b, name);
  detail::check_same_dtype(a, b, name);
  Shape s = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = detail::new_empty(a, s, is_comparison(op) ? std::optional(DType::u8) : std::nullopt);
  be(a).binary(op, detail::expand_raw(a, s), detail::expand_raw(b, s), out);
  return out;
}

Tensor unary_forward(UnaryOp op, const Tensor& x, const char* name) {
  detail::check_defined(x, name, "input");
  Tensor out = detail::new_empty(x, x.shape());
  be(x).unary(op, x, out);
  return out;
}

}  // namespace

static Tensor add_untraced(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::add, a, b, "add");
  return autograd::record("add", out, {a, b}, [as = a.shape(), bs = b.shape()](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g, as), sum_to(g, bs)};
  });
}

Tensor add(const Tensor& a, const Tensor& b) { return trace::traced(add_untraced(a, b), "Add", {a, b}); }

static Tensor sub_untraced(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::sub, a, b, "sub");
  return autograd::record("sub", out, {a, b}, [as = a.shape(), bs = b.shape()](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g, as), sum_to(neg(g), bs)};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) { return trace::traced(sub_untraced(a, b), "Sub", {a, b}); }

static Tensor mul_untraced(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::mul, a, b, "mul");
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return autograd::record("mul", out, {a, b}, [ad = a.detach(), bd = b.detach(), ga, gb](const Tensor& g) {
    return std::vector<Tensor>{ga ? sum_to(mul(g, bd), ad.shape()) : Tensor(),
                               gb ? sum_to(mul(g, ad), bd.shape()) : Tensor()};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) { return trace::traced(mul_untraced(a, b), "Mul", {a, b}); }

static Tensor div_untraced(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::div, a, b, "div");
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return autograd::record("div", out, {a, b}, [ad = a.detach(), bd = b.detach(), ga, gb](const Tensor& g) {
    // d(a/b)/db = -a / b^2
    return std::vector<Tensor>{ga ? sum_to(div(g, bd), ad.shape()) : Tensor(),
                               gb ? sum_to(neg(div(mul(g, ad), mul(bd, bd))), bd.shape()) : Tensor()};
  });
}

Tensor div(const Tensor& a, const Tensor& b) { return trace::traced(div_untraced(a, b), "Div", {a, b}); }

Tensor pow(const Tensor& a, const Tensor& b) {
  detail::check_floating(a, "pow");
  Tensor out = binary_forward(BinaryOp::pow, a, b, "pow");
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return autograd::record(
      "pow", out, {a, b}, [ad = a.detach(), bd = b.detach(), od = out.detach(), ga, gb](const Tensor& g) {
        Tensor gra, grb;
        if (ga) gra = sum_to(mul(g, mul(bd, pow(ad, sub(bd, scalar_like(1, bd))))), ad.shape());
        // d(a^b)/db = a^b log a, taken as 0 where a == 0 (PyTorch's convention)
        if (gb)
          grb = sum_to(where(eq(ad, scalar_like(0, ad)), scalar_like(0, g), mul(g, mul(od, log(ad)))), bd.shape());
        return std::vector<Tensor>{gra, grb};
      });
}

Tensor pow(const Tensor& a, double e) {
  detail::check_floating(a, "pow");
  if (e == 2.0) return square(a);
  Tensor out = binary_forward(BinaryOp::pow, a, scalar_like(e, a), "pow");
  return autograd::record("pow", out, {a}, [ad = a.detach(), e](const Tensor& g) {
    return std::vector<Tensor>{mul(g, mul(pow(ad, e - 1), scalar_like(e, ad)))};
  });
}

static Tensor extremum(BinaryOp op, const Tensor& a, const Tensor& b, const char* name) {
  Tensor out = binary_forward(op, a, b, name);
  return autograd::record(name, out, {a, b}, [ad = a.detach(), bd = b.detach(), op](const Tensor& g) {
    // the winner takes the gradient; ties share it equally
    Tensor win_a = op == BinaryOp::maximum ? gt(ad, bd) : lt(ad, bd);
    Tensor tie = eq(ad, bd);
    Tensor half = mul(g, scalar_like(0.5, g));
    Tensor z = scalar_like(0, g);
    Tensor gra = where(tie, half, where(win_a, g, z));
    Tensor grb = where(tie, half, where(win_a, z, g));
    return std::vector<Tensor>{sum_to(gra, ad.shape()), sum_to(grb, bd.shape())};
  });
}
Tensor maximum(const Tensor& a, const Tensor& b) { return extremum(BinaryOp::maximum, a, b, "maximum"); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum(BinaryOp::minimum, a, b, "minimum"); }

Tensor neg(const Tensor& x) {
  Tensor out = unary_forward(UnaryOp::neg, x, "neg");
  return autograd::record("neg", out, {x}, [](const Tensor& g) { return std::vector<Tensor>{neg(g)}; });
}

Tensor exp(const Tensor& x) {
  detail::check_floating(x, "exp");
  Tensor out = unary_forward(UnaryOp::exp, x, "exp");
  return autograd::record("exp", out, {x},
                          [od = out.detach()](const Tensor& g) { return std::vector<Tensor>{mul(g, od)}; });
}

Tensor log(const Tensor& x) {
  detail::check_floating(x, "log");
  Tensor out = unary_forward(UnaryOp::log, x, "log");
  return autograd::record("log", out, {x},
                          [xd = x.detach()](const Tensor& g) { return std::vector<Tensor>{div(g, xd)}; });
}

Tensor log1p(const Tensor& x) {
  detail::check_floating(x, "log1p");
  Tensor out = unary_forward(UnaryOp::log1p, x, "log1p");
  return autograd::record("log1p", out, {x},
                          [xd = x.detach()](const Tensor& g) { return std::vector<Tensor>{div(g, xd + 1.0)}; });
}

Tensor sqrt(const Tensor& x) {
  detail::check_floating(x, "sqrt");
  Tensor out = unary_forward(UnaryOp::sqrt, x, "sqrt");
  return autograd::record("sqrt", out, {x}, [od = out.detach()](const Tensor& g) {
    return std::vector<Tensor>{div(g, mul(od, scalar_like(2, od)))};
  });
}

Tensor rsqrt(const Tensor& x) {
  detail::check_floating(x, "rsqrt");
  Tensor out = unary_forward(UnaryOp::rsqrt, x, "rsqrt");
  return autograd::record("rsqrt", out, {x}, [od = out.detach()](const Tensor& g) {
    // d(x^-1/2)/dx = -1/2 x^-3/2
    return std::vector<Tensor>{mul(g, mul(pow(od, 3.0), scalar_like(-0.5, od)))};
  });
}

Tensor abs(const Tensor& x) {
  Tensor out = unary_forward(UnaryOp::abs, x, "abs");
  return autograd::record("abs", out, {x},
                          [xd = x.detach()](const Tensor& g) { return std::vector<Tensor>{mul(g, sign(xd))}; });
}

Tensor sign(const Tensor& x) { return unary_forward(UnaryOp::sign, x, "sign"); }

Tensor square(const Tensor& x) {
  Tensor out = unary_forward(UnaryOp::square, x, "square");
  return autograd::record("square", out, {x}, [xd = x.detach()](const Tensor& g) {
    return std::vector<Tensor>{mul(g, mul(xd, scalar_like(2, xd)))};
  });
}

static Tensor clamp_untraced(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  if (!lo && !hi) fail("clamp", "at least one of min and max must be given");
  Tensor out = x;
  if (lo) out = binary_forward(BinaryOp::maximum, out, scalar_like(*lo, x), "clamp");
  if (hi) out = binary_forward(BinaryOp::minimum, out, scalar_like(*hi, x), "clamp");
  return autograd::record("clamp", out, {x}, [xd = x.detach(), lo, hi](const Tensor& g) {
    // gradient passes where lo <= x <= hi (bounds included, as PyTorch)
    Tensor pass;
    if (lo) pass = ge(xd, scalar_like(*lo, xd));
    if (hi) pass = pass.defined() ? mul(pass, le(xd, scalar_like(*hi, xd))) : le(xd, scalar_like(*hi, xd));
    return std::vector<Tensor>{where(pass, g, scalar_like(0, g))};
  });
}

Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  trace::Attrs a;
  if (lo) a.emplace_back("min", *lo);
  if (hi) a.emplace_back("max", *hi);
  return trace::traced(clamp_untraced(x, lo, hi), "Clip", {x}, std::move(a));
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  detail::check_same_dtype(a, b, "where");
  if (cond.dtype() != DType::u8) fail("where", "condition must be a u8 mask, got {}", dtype_name(cond.dtype()));
  Shape s = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = detail::new_empty(a, s);
  be(a).where(detail::expand_raw(cond, s), detail::expand_raw(a, s), detail::expand_raw(b, s), out);
  return autograd::record("where", out, {a, b}, [cd = cond.detach(), as = a.shape(), bs = b.shape()](const Tensor& g) {
    Tensor z = scalar_like(0, g);
    return std::vector<Tensor>{sum_to(where(cd, g, z), as), sum_to(where(cd, z, g), bs)};
  });
}

Tensor eq(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::eq, a, b, "eq"); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::ne, a, b, "ne"); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::lt, a, b, "lt"); }
Tensor le(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::le, a, b, "le"); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::gt, a, b, "gt"); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::ge, a, b, "ge"); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(b, a)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(b, a)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(b, a)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(b, a)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(a, b), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(a, b), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(a, b), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(a, b), b); }
Tensor operator-(const Tensor& x) { return neg(x); }

}  // namespace fovea
