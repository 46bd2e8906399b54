// Elementwise kernels: conversions, fills, unary and binary math, where, and row gathers /
// scatters. Each mirrors the CPU backend's formula (cpu/elementwise.cpp); integer inputs of
// transcendental functions go through double as there.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "fovea/backend/cuda/device_util.cuh"
#include "fovea/backend/cuda/elementwise_kernels.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

template <class A, class B>
inline constexpr bool kSame = false;
template <class A>
inline constexpr bool kSame<A, A> = true;

// Storage-only element types: f16 and bf16 bits.
struct Half {
  std::uint16_t bits;
};
struct BF16 {
  std::uint16_t bits;
};
template <class T>
inline constexpr bool kHalfLike = kSame<T, Half> || kSame<T, BF16>;

// Calls f(T{}) with T the element type of a dtype code.
template <class F>
void dispatch_any(int code, F&& f) {
  switch (code) {
    case kF16: return f(Half{});
    case kBF16: return f(BF16{});
    default: return dispatch_arith(code, f);
  }
}

__device__ inline float to_float(Half h) { return __half2float(__ushort_as_half(h.bits)); }
__device__ inline float to_float(BF16 b) { return __uint_as_float(static_cast<std::uint32_t>(b.bits) << 16); }
__device__ inline Half to_half(float f) { return {__half_as_ushort(__float2half_rn(f))}; }
__device__ inline BF16 to_bf16(float f) {  // round to nearest even; NaN stays a quiet NaN
  std::uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return {static_cast<std::uint16_t>((u >> 16) | 0x40)};
  u += 0x7fffu + ((u >> 16) & 1u);
  return {static_cast<std::uint16_t>(u >> 16)};
}

// static_cast between element types, with f16 / bf16 converted through f32 as on the CPU.
template <class O, class I>
__device__ O convert(I v) {
  if constexpr (kSame<O, I>) return v;
  else if constexpr (kHalfLike<I>) return convert<O>(to_float(v));
  else if constexpr (kSame<O, Half>) return to_half(static_cast<float>(v));
  else if constexpr (kSame<O, BF16>) return to_bf16(static_cast<float>(v));
  else if constexpr (kSame<O, std::uint8_t> && (kSame<I, float> || kSame<I, double>))
    return static_cast<std::uint8_t>(static_cast<std::int64_t>(v));  // out of range wraps as on x86, not saturates
  else return static_cast<O>(v);
}

template <class T>
inline constexpr bool kFloating = kSame<T, float> || kSame<T, double>;

// The type transcendental functions run in: the float type itself, double for integers.
template <class T>
using MathOf = std::conditional_t<kSame<T, float>, float, double>;

template <class O>
struct Convert {
  template <class I>
  __device__ O operator()(I v) const {
    return convert<O>(v);
  }
};
template <class O>
struct Constant {
  double v;
  __device__ O operator()() const { return convert<O>(v); }
};

template <class T>
__device__ bool negative(T x) {
  if constexpr (kSame<T, std::uint8_t>) return false;
  else return x < T(0);
}

template <int Op>
struct Unary {
  template <class T>
  __device__ T operator()(T x) const {
    using M = MathOf<T>;
    const M v = static_cast<M>(x);
    if constexpr (Op == kNeg) return static_cast<T>(-x);
    else if constexpr (Op == kExp) return static_cast<T>(exp(v));
    else if constexpr (Op == kLog) return static_cast<T>(log(v));
    else if constexpr (Op == kLog1p) return static_cast<T>(log1p(v));
    else if constexpr (Op == kSqrt) return static_cast<T>(sqrt(v));
    else if constexpr (Op == kRsqrt) return static_cast<T>(M(1) / sqrt(v));
    else if constexpr (Op == kAbs) return static_cast<T>(negative(x) ? -x : x);
    else if constexpr (Op == kSign) return static_cast<T>((T(0) < x) - negative(x));
    else if constexpr (Op == kSquare) return static_cast<T>(x * x);
    else if constexpr (Op == kReciprocal) return static_cast<T>(M(1) / v);
    else if constexpr (Op == kSin) return static_cast<T>(sin(v));
    else if constexpr (Op == kCos) return static_cast<T>(cos(v));
    else if constexpr (Op == kErf) return static_cast<T>(erf(v));
    else if constexpr (Op == kFloor) return static_cast<T>(floor(v));
    else if constexpr (Op == kCeil) return static_cast<T>(ceil(v));
    else if constexpr (Op == kRound) return static_cast<T>(rint(v));  // half to even, as nearbyint
    else return static_cast<T>(!x);
  }
};

// Arithmetic results keep T; comparisons give u8 0 / 1.
template <int Op>
struct Binary {
  template <class T>
  __device__ auto operator()(T x, T y) const {
    using M = MathOf<T>;
    using U = std::uint8_t;
    if constexpr (Op == kAdd) return static_cast<T>(x + y);
    else if constexpr (Op == kSub) return static_cast<T>(x - y);
    else if constexpr (Op == kMul) return static_cast<T>(x * y);
    else if constexpr (Op == kDiv && !kFloating<T>) return static_cast<T>(y == 0 ? 0 : x / y);  // reported apart
    else if constexpr (Op == kDiv) return static_cast<T>(x / y);
    else if constexpr (Op == kPow) return static_cast<T>(pow(static_cast<M>(x), static_cast<M>(y)));
    else if constexpr (Op == kMaximum) return (x != x || x > y) ? x : y;  // NaN in either propagates
    else if constexpr (Op == kMinimum) return (x != x || x < y) ? x : y;
    else if constexpr (Op == kEq) return static_cast<U>(x == y);
    else if constexpr (Op == kNe) return static_cast<U>(x != y);
    else if constexpr (Op == kLt) return static_cast<U>(x < y);
    else if constexpr (Op == kLe) return static_cast<U>(x <= y);
    else if constexpr (Op == kGt) return static_cast<U>(x > y);
    else return static_cast<U>(x >= y);
  }
};

struct Where {
  template <class T>
  __device__ T operator()(std::uint8_t c, T a, T b) const {
    return c ? a : b;
  }
};

template <class T>
__global__ void check_nonzero_kernel(std::int64_t n, const T* b, Strided sb, KernelError* error) {
  FOVEA_GRID_LOOP(i, n) if (b[at(sb, i)] == 0) error->code = kDivisionByZero;
}

// Whether k is in [0, K); a bad k is recorded in *error under `code`.
__device__ inline bool index_ok(std::int64_t k, std::int64_t K, KernelError* error, std::int64_t code) {
  if (k >= 0 && k < K) return true;
  error->value = k;
  error->bound = K;
  error->code = code;
  return false;
}

template <class T>
__global__ void gather_kernel(const T* x, Matrix xm, const std::int64_t* index, Matrix im, T* out, std::int64_t os0,
                              std::int64_t os1, std::int64_t K, std::int64_t J, std::int64_t n, KernelError* error) {
  FOVEA_GRID_LOOP(t, n) {
    const std::int64_t i = t / J, j = t % J;
    const std::int64_t k = index[i * im.rows_stride + j * im.cols_stride];
    if (index_ok(k, K, error, kGatherIndex)) out[i * os0 + j * os1] = x[i * xm.rows_stride + k * xm.cols_stride];
  }
}

__device__ inline void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ inline void atomic_add(double* p, double v) { atomicAdd(p, v); }
__device__ inline void atomic_add(std::int64_t* p, std::int64_t v) {  // two's complement: unsigned addition
  atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
}

template <class T>
__global__ void scatter_add_kernel(const T* src, Matrix sm, const std::int64_t* index, Matrix im, T* out,
                                   std::int64_t os0, std::int64_t os1, std::int64_t K, std::int64_t J, std::int64_t n,
                                   KernelError* error) {
  FOVEA_GRID_LOOP(t, n) {
    const std::int64_t i = t / J, j = t % J;
    const std::int64_t k = index[i * im.rows_stride + j * im.cols_stride];
    if (index_ok(k, K, error, kScatterIndex))
      atomic_add(out + i * os0 + k * os1, src[i * sm.rows_stride + j * sm.cols_stride]);
  }
}

}  // namespace

void launch_copy(int src_code, const void* src, Strided ss, int dst_code, void* dst, Strided ds, std::int64_t n,
                 cudaStream_t stream) {
  dispatch_any(dst_code, [&](auto o) {
    using O = decltype(o);
    dispatch_any(src_code, [&](auto i) {
      using I = decltype(i);
      map1<O, I>(Convert<O>{}, n, dst, ds, src, ss, stream);
    });
  });
}

void launch_fill(int code, void* dst, Strided ds, double v, std::int64_t n, cudaStream_t stream) {
  dispatch_any(code, [&](auto o) {
    using O = decltype(o);
    map0<O>(Constant<O>{v}, n, dst, ds, stream);
  });
}

void launch_unary(int op, int code, const void* x, Strided xs, void* out, Strided os, std::int64_t n,
                  cudaStream_t stream) {
  dispatch_arith(code, [&](auto t) {
    using T = decltype(t);
    dispatch_code<0, kUnaryCount>(op,
                                  [&](auto c) { map1<T, T>(Unary<decltype(c)::value>{}, n, out, os, x, xs, stream); });
  });
}

void launch_binary(int op, int code, const void* a, Strided as, const void* b, Strided bs, void* out, Strided os,
                   std::int64_t n, cudaStream_t stream) {
  dispatch_arith(code, [&](auto t) {
    using T = decltype(t);
    dispatch_code<0, kBinaryCount>(op, [&](auto c) {
      using F = Binary<decltype(c)::value>;
      using R = decltype(F{}(T{}, T{}));
      map2<R, T, T>(F{}, n, out, os, a, as, b, bs, stream);
    });
  });
}

void launch_check_nonzero(int code, const void* b, Strided bs, std::int64_t n, KernelError* error,
                          cudaStream_t stream) {
  if (code == kI64)
    launch(check_nonzero_kernel<std::int64_t>, blocks_for(n), kThreads, stream, n, static_cast<const std::int64_t*>(b),
           bs, error);
  else if (code == kU8)
    launch(check_nonzero_kernel<std::uint8_t>, blocks_for(n), kThreads, stream, n, static_cast<const std::uint8_t*>(b),
           bs, error);
}

void launch_where(int code, const void* cond, Strided cs, const void* a, Strided as, const void* b, Strided bs,
                  void* out, Strided os, std::int64_t n, cudaStream_t stream) {
  dispatch_arith(code, [&](auto t) {
    using T = decltype(t);
    launch(map3_kernel<T, std::uint8_t, T, T, Where>, blocks_for(n), kThreads, stream, Where{}, n, static_cast<T*>(out),
           os, static_cast<const std::uint8_t*>(cond), cs, static_cast<const T*>(a), as, static_cast<const T*>(b), bs);
  });
}

void launch_gather_rows(int code, Matrix x, Matrix index, void* out, std::int64_t out_rows_stride,
                        std::int64_t out_cols_stride, std::int64_t M, std::int64_t K, std::int64_t J,
                        KernelError* error, cudaStream_t stream) {
  const std::int64_t n = M * J;
  dispatch_arith(code, [&](auto t) {
    using T = decltype(t);
    launch(gather_kernel<T>, blocks_for(n), kThreads, stream, static_cast<const T*>(x.data), x,
           static_cast<const std::int64_t*>(index.data), index, static_cast<T*>(out), out_rows_stride, out_cols_stride,
           K, J, n, error);
  });
}

void launch_scatter_add_rows(int code, Matrix src, Matrix index, void* out, std::int64_t out_rows_stride,
                             std::int64_t out_cols_stride, std::int64_t M, std::int64_t K, std::int64_t J,
                             KernelError* error, cudaStream_t stream) {
  const std::int64_t n = M * J;
  auto run = [&](auto t) {
    using T = decltype(t);
    launch(scatter_add_kernel<T>, blocks_for(n), kThreads, stream, static_cast<const T*>(src.data), src,
           static_cast<const std::int64_t*>(index.data), index, static_cast<T*>(out), out_rows_stride, out_cols_stride,
           K, J, n, error);
  };
  if (code == kF32) run(float{});
  else if (code == kF64) run(double{});
  else if (code == kI64) run(std::int64_t{});
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
