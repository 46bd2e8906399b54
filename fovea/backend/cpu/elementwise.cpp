// Elementwise math, fills, copies with dtype conversion, and row gathers / scatters.
#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>

#include "fovea/backend/cpu/cpu_backend.h"
#include "fovea/backend/cpu/loops.h"

namespace fovea::backend::cpu {

namespace {

// Half-precision storage conversions (round to nearest even): the compiler's _Float16 where it
// has one (GCC 12), else in integer arithmetic (clang 14 on x86, the fuzz build): exact for
// half -> float; float -> half with subnormals, infinities and NaN, checked equal to _Float16's
// for every half, every float midpoint between halves and 37 million other floats.
#if defined(__FLT16_MANT_DIG__)
float half_to_float(std::uint16_t h) { return static_cast<float>(std::bit_cast<_Float16>(h)); }
std::uint16_t float_to_half(float f) { return std::bit_cast<std::uint16_t>(static_cast<_Float16>(f)); }
#else
float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000) << 16;
  std::uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000 | (man << 13));  // inf, NaN
  if (exp == 0) {
    if (man == 0) return std::bit_cast<float>(sign);
    exp = 127 - 15 + 1;  // subnormal: normalise
    while (!(man & 0x400)) {
      man <<= 1;
      --exp;
    }
    return std::bit_cast<float>(sign | (exp << 23) | ((man & 0x3ff) << 13));
  }
  return std::bit_cast<float>(sign | ((exp + 127 - 15) << 23) | (man << 13));
}
std::uint16_t float_to_half(float f) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000);
  const std::uint32_t abs = u & 0x7fffffff;
  if (abs > 0x7f800000) return static_cast<std::uint16_t>(sign | 0x7e00 | ((abs >> 13) & 0x3ff));  // NaN
  if (abs >= 0x477ff000) return static_cast<std::uint16_t>(sign | 0x7c00);                         // rounds to inf
  if (abs < 0x38800000) {               // below the smallest normal half: a subnormal (or zero)
    if (abs < 0x33000000) return sign;  // below half the smallest subnormal: zero
    const std::uint32_t exp = abs >> 23, man = (abs & 0x7fffff) | 0x800000;
    const std::uint32_t shift = 126 - exp;  // man >> shift is the subnormal half
    const std::uint32_t q = man >> (shift), rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
    return static_cast<std::uint16_t>(sign | (q + (rem > half || (rem == half && (q & 1)))));
  }
  const std::uint32_t r = abs + 0xfff + ((abs >> 13) & 1);  // round to nearest even at bit 13
  return static_cast<std::uint16_t>(sign | ((r - 0x38000000) >> 13));
}
#endif
float bf16_to_float(std::uint16_t b) { return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16); }
std::uint16_t float_to_bf16(float f) {
  std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  if ((u & 0x7fffffff) > 0x7f800000) return static_cast<std::uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fff + ((u >> 16) & 1);
  return static_cast<std::uint16_t>(u >> 16);
}

template <typename T>
T* base_ptr(const Tensor& t) {
  return reinterpret_cast<T*>(t.storage()->data.get()) + t.offset();
}

// dst[i] = f(src[i]) over any strides (also dtype conversion when Out != In)
template <typename Out, typename In, typename F>
void map_loop(const Tensor& src, const Tensor& dst, F f) {
  auto l = make_loop<2>(dst.shape(), {&dst.strides(), &src.strides()});
  Out* o = base_ptr<Out>(dst);
  const In* i = base_ptr<In>(src);
  run_loop(l, [&](auto off, std::int64_t n, auto s) {
    Out* po = o + off[0];
    const In* pi = i + off[1];
    if (s[0] == 1 && s[1] == 1)
      for (std::int64_t k = 0; k < n; ++k) po[k] = f(pi[k]);
    else
      for (std::int64_t k = 0; k < n; ++k) po[k * s[0]] = f(pi[k * s[1]]);
  });
}

template <typename T>
T apply_unary(UnaryOp op, T x) {
  switch (op) {
    case UnaryOp::neg: return static_cast<T>(-x);
    case UnaryOp::exp: return static_cast<T>(std::exp(x));
    case UnaryOp::log: return static_cast<T>(std::log(x));
    case UnaryOp::log1p: return static_cast<T>(std::log1p(x));
    case UnaryOp::sqrt: return static_cast<T>(std::sqrt(x));
    case UnaryOp::rsqrt: return static_cast<T>(1 / std::sqrt(x));
    case UnaryOp::abs: return static_cast<T>(x < 0 ? -x : x);
    case UnaryOp::sign: return static_cast<T>((T(0) < x) - (x < T(0)));
    case UnaryOp::square: return static_cast<T>(x * x);
    case UnaryOp::reciprocal: return static_cast<T>(1 / static_cast<double>(x));
    case UnaryOp::sin: return static_cast<T>(std::sin(x));
    case UnaryOp::cos: return static_cast<T>(std::cos(x));
    case UnaryOp::erf: return static_cast<T>(std::erf(x));
    case UnaryOp::floor: return static_cast<T>(std::floor(x));
    case UnaryOp::ceil: return static_cast<T>(std::ceil(x));
    case UnaryOp::round: return static_cast<T>(std::nearbyint(x));
    case UnaryOp::not_: return static_cast<T>(!x);
  }
  return x;
}

template <typename T, typename R, typename F>
void binary_loop(const Tensor& a, const Tensor& b, const Tensor& out, F f) {
  auto l = make_loop<3>(out.shape(), {&out.strides(), &a.strides(), &b.strides()});
  R* o = base_ptr<R>(out);
  const T* pa = base_ptr<T>(a);
  const T* pb = base_ptr<T>(b);
  run_loop(l, [&](auto off, std::int64_t n, auto s) {
    R* po = o + off[0];
    const T* x = pa + off[1];
    const T* y = pb + off[2];
    if (s[0] == 1 && s[1] == 1 && s[2] == 1)
      for (std::int64_t k = 0; k < n; ++k) po[k] = f(x[k], y[k]);
    else if (s[0] == 1 && s[1] == 1 && s[2] == 0) {
      const T yv = *y;
      for (std::int64_t k = 0; k < n; ++k) po[k] = f(x[k], yv);
    } else if (s[0] == 1 && s[1] == 0 && s[2] == 1) {
      const T xv = *x;
      for (std::int64_t k = 0; k < n; ++k) po[k] = f(xv, y[k]);
    } else
      for (std::int64_t k = 0; k < n; ++k) po[k * s[0]] = f(x[k * s[1]], y[k * s[2]]);
  });
}

template <typename T>
void binary_typed(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  using U = std::uint8_t;
  switch (op) {
    case BinaryOp::add: return binary_loop<T, T>(a, b, out, [](T x, T y) { return static_cast<T>(x + y); });
    case BinaryOp::sub: return binary_loop<T, T>(a, b, out, [](T x, T y) { return static_cast<T>(x - y); });
    case BinaryOp::mul: return binary_loop<T, T>(a, b, out, [](T x, T y) { return static_cast<T>(x * y); });
    case BinaryOp::div:
      if constexpr (std::is_integral_v<T>) {
        // checked first: an exception cannot leave the parallel loop
        std::atomic<bool> zero{false};
        binary_loop<T, std::uint8_t>(b, b, empty(out.shape(), {.dtype = DType::u8}), [&zero](T, T y) {
          if (y == 0) zero.store(true, std::memory_order_relaxed);
          return std::uint8_t{0};
        });
        if (zero) fail("div", "integer division by zero");
        return binary_loop<T, T>(a, b, out, [](T x, T y) { return static_cast<T>(x / y); });
      } else return binary_loop<T, T>(a, b, out, [](T x, T y) { return static_cast<T>(x / y); });
    case BinaryOp::pow: return binary_loop<T, T>(a, b, out, [](T x, T y) { return static_cast<T>(std::pow(x, y)); });
    case BinaryOp::maximum: return binary_loop<T, T>(a, b, out, [](T x, T y) { return (x != x || x > y) ? x : y; });
    case BinaryOp::minimum: return binary_loop<T, T>(a, b, out, [](T x, T y) { return (x != x || x < y) ? x : y; });
    case BinaryOp::eq: return binary_loop<T, U>(a, b, out, [](T x, T y) { return static_cast<U>(x == y); });
    case BinaryOp::ne: return binary_loop<T, U>(a, b, out, [](T x, T y) { return static_cast<U>(x != y); });
    case BinaryOp::lt: return binary_loop<T, U>(a, b, out, [](T x, T y) { return static_cast<U>(x < y); });
    case BinaryOp::le: return binary_loop<T, U>(a, b, out, [](T x, T y) { return static_cast<U>(x <= y); });
    case BinaryOp::gt: return binary_loop<T, U>(a, b, out, [](T x, T y) { return static_cast<U>(x > y); });
    case BinaryOp::ge: return binary_loop<T, U>(a, b, out, [](T x, T y) { return static_cast<U>(x >= y); });
  }
}

}  // namespace

void CpuBackend::copy(const Tensor& src, const Tensor& dst) {
  if (src.shape() != dst.shape())
    fail("copy", "shape mismatch: {} into {}", shape_str(src.shape()), shape_str(dst.shape()));
  if (src.numel() == 0) return;
  if (src.is_meta()) fail("copy", "a meta tensor has no data to copy");
  if (src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous()) {
    std::memcpy(dst.raw_data(), src.raw_data(), static_cast<size_t>(src.numel()) * dtype_size(src.dtype()));
    return;
  }
  const DType s = src.dtype(), d = dst.dtype();
  using u16 = std::uint16_t;
  if (s == d && (s == DType::f16 || s == DType::bf16)) return map_loop<u16, u16>(src, dst, [](u16 v) { return v; });
  if (s == DType::f16 || s == DType::bf16) {
    Tensor tmp = empty(src.shape(), {.dtype = DType::f32});
    if (s == DType::f16) map_loop<float, u16>(src, tmp, half_to_float);
    else map_loop<float, u16>(src, tmp, bf16_to_float);
    return copy(tmp, dst);
  }
  if (d == DType::f16 || d == DType::bf16) {
    Tensor tmp = empty(src.shape(), {.dtype = DType::f32});
    copy(src, tmp);
    if (d == DType::f16) map_loop<u16, float>(tmp, dst, float_to_half);
    else map_loop<u16, float>(tmp, dst, float_to_bf16);
    return;
  }
  FOVEA_DISPATCH(d, "copy", [&] {
    using O = scalar_t;
    FOVEA_DISPATCH(s, "copy", [&] { map_loop<O, scalar_t>(src, dst, [](scalar_t v) { return static_cast<O>(v); }); });
  });
}

void CpuBackend::fill(const Tensor& dst, double v) {
  if (dst.dtype() == DType::f16 || dst.dtype() == DType::bf16) {
    std::uint16_t h =
        dst.dtype() == DType::f16 ? float_to_half(static_cast<float>(v)) : float_to_bf16(static_cast<float>(v));
    return map_loop<std::uint16_t, std::uint16_t>(dst, dst, [h](std::uint16_t) { return h; });
  }
  FOVEA_DISPATCH(dst.dtype(), "fill", [&] {
    const auto c = static_cast<scalar_t>(v);
    map_loop<scalar_t, scalar_t>(dst, dst, [c](scalar_t) { return c; });
  });
}

void CpuBackend::unary(UnaryOp op, const Tensor& x, const Tensor& out) {
  FOVEA_DISPATCH(x.dtype(), "unary", [&] {
    switch (op) {  // the common cases get their own loops so they vectorise
      case UnaryOp::neg:
        return map_loop<scalar_t, scalar_t>(x, out, [](scalar_t v) { return static_cast<scalar_t>(-v); });
      case UnaryOp::square:
        return map_loop<scalar_t, scalar_t>(x, out, [](scalar_t v) { return static_cast<scalar_t>(v * v); });
      case UnaryOp::sqrt:
        return map_loop<scalar_t, scalar_t>(x, out, [](scalar_t v) { return static_cast<scalar_t>(std::sqrt(v)); });
      case UnaryOp::exp:
        return map_loop<scalar_t, scalar_t>(x, out, [](scalar_t v) { return static_cast<scalar_t>(std::exp(v)); });
      default: return map_loop<scalar_t, scalar_t>(x, out, [op](scalar_t v) { return apply_unary(op, v); });
    }
  });
}

void CpuBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  FOVEA_DISPATCH(a.dtype(), "binary", [&] { binary_typed<scalar_t>(op, a, b, out); });
}

void CpuBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  FOVEA_DISPATCH(a.dtype(), "where", [&] {
    using T = scalar_t;
    auto l = make_loop<4>(out.shape(), {&out.strides(), &cond.strides(), &a.strides(), &b.strides()});
    T* o = base_ptr<T>(out);
    const auto* c = base_ptr<std::uint8_t>(cond);
    const T* pa = base_ptr<T>(a);
    const T* pb = base_ptr<T>(b);
    run_loop(l, [&](auto off, std::int64_t n, auto s) {
      for (std::int64_t k = 0; k < n; ++k)
        o[off[0] + k * s[0]] = c[off[1] + k * s[1]] ? pa[off[2] + k * s[2]] : pb[off[3] + k * s[3]];
    });
  });
}

void CpuBackend::gather_rows(const Tensor& x, const Tensor& index, const Tensor& out) {
  const std::int64_t M = x.size(0), K = x.size(1), J = index.size(1);
  const auto* idx = index.data<std::int64_t>();
  FOVEA_DISPATCH(x.dtype(), "gather", [&] {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    for (std::int64_t i = 0; i < M; ++i)
      for (std::int64_t j = 0; j < J; ++j) {
        std::int64_t k = idx[i * J + j];
        if (k < 0 || k >= K) fail("gather", "index {} out of range for size {}", k, K);
        po[i * J + j] = px[i * K + k];
      }
  });
}

void CpuBackend::scatter_add_rows(const Tensor& src, const Tensor& index, const Tensor& out) {
  const std::int64_t M = out.size(0), K = out.size(1), J = index.size(1);
  const auto* idx = index.data<std::int64_t>();
  FOVEA_DISPATCH(out.dtype(), "scatter_add", [&] {
    const scalar_t* ps = src.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    for (std::int64_t i = 0; i < M; ++i)
      for (std::int64_t j = 0; j < J; ++j) {
        std::int64_t k = idx[i * J + j];
        if (k < 0 || k >= K) fail("scatter_add", "index {} out of range for size {}", k, K);
        po[i * K + k] += ps[i * J + j];
      }
  });
}

}  // namespace fovea::backend::cpu
