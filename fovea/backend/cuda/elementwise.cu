// Elementwise kernels: conversions, fills, unary and binary math, where, activations, and row
// gathers / scatters. Each mirrors the CPU backend's formula (cpu/elementwise.cpp,
// cpu/activation.cpp); integer inputs of transcendental functions go through double as there.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "fovea/backend/cuda/device_util.cuh"
#include "fovea/backend/cuda/elementwise_kernels.h"

namespace fovea::backend::cuda {

namespace {

template <class A, class B>
inline constexpr bool kSame = false;
template <class A>
inline constexpr bool kSame<A, A> = true;

template <int V>
struct Code {
  static constexpr int value = V;
};

// Calls f(Code<v>{}) for a run-time v in [I, N).
template <int I, int N, class F>
void dispatch_code(int v, F&& f) {
  if constexpr (I < N) {
    if (v == I) f(Code<I>{});
    else dispatch_code<I + 1, N>(v, f);
  }
}

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

// The type transcendental functions run in: the float type itself, double for integers.
template <class T>
struct MathOf {
  using type = double;
};
template <>
struct MathOf<float> {
  using type = float;
};

// Offset of the i-th element; contiguous operands arrive collapsed to one dimension.
__device__ inline std::int64_t at(const Strided& s, std::int64_t i) {
  return s.dims == 1 ? i * s.strides[0] : s.offset(i);
}

template <class O, class F>
__global__ void map0_kernel(F f, std::int64_t n, O* out, Strided so) {
  FOVEA_GRID_LOOP(i, n) out[at(so, i)] = f();
}
template <class O, class A, class F>
__global__ void map1_kernel(F f, std::int64_t n, O* out, Strided so, const A* a, Strided sa) {
  FOVEA_GRID_LOOP(i, n) out[at(so, i)] = f(a[at(sa, i)]);
}
template <class O, class A, class B, class F>
__global__ void map2_kernel(F f, std::int64_t n, O* out, Strided so, const A* a, Strided sa, const B* b, Strided sb) {
  FOVEA_GRID_LOOP(i, n) out[at(so, i)] = f(a[at(sa, i)], b[at(sb, i)]);
}

template <class O, class A, class B, class C, class F>
__global__ void map3_kernel(F f, std::int64_t n, O* out, Strided so, const A* a, Strided sa, const B* b, Strided sb,
                            const C* c, Strided sc) {
  FOVEA_GRID_LOOP(i, n) out[at(so, i)] = f(a[at(sa, i)], b[at(sb, i)], c[at(sc, i)]);
}

template <class O, class F>
void map0(F f, std::int64_t n, void* out, Strided so, cudaStream_t st) {
  map0_kernel<<<blocks_for(n), kThreads, 0, st>>>(f, n, static_cast<O*>(out), so);
}
template <class O, class A, class F>
void map1(F f, std::int64_t n, void* out, Strided so, const void* a, Strided sa, cudaStream_t st) {
  map1_kernel<<<blocks_for(n), kThreads, 0, st>>>(f, n, static_cast<O*>(out), so, static_cast<const A*>(a), sa);
}
template <class O, class A, class B, class F>
void map2(F f, std::int64_t n, void* out, Strided so, const void* a, Strided sa, const void* b, Strided sb,
          cudaStream_t st) {
  map2_kernel<<<blocks_for(n), kThreads, 0, st>>>(f, n, static_cast<O*>(out), so, static_cast<const A*>(a), sa,
                                                  static_cast<const B*>(b), sb);
}

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
    using M = typename MathOf<T>::type;
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
    using M = typename MathOf<T>::type;
    using U = std::uint8_t;
    if constexpr (Op == kAdd) return static_cast<T>(x + y);
    else if constexpr (Op == kSub) return static_cast<T>(x - y);
    else if constexpr (Op == kMul) return static_cast<T>(x * y);
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

// f(x) and f'(x) of activation A (cpu/activation.cpp's act_scalar and oneDNN's eltwise formulas).
template <class T>
struct ValueSlope {
  T f, df;
};
template <int A, class T>
__device__ ValueSlope<T> activation(T x, T alpha, T beta) {
  if constexpr (A == kRelu || A == kLeakyRelu) {  // relu: slope 0 whatever alpha; NaN propagates as in oneDNN
    const T slope = A == kRelu ? T(0) : alpha;
    return {x > 0 ? x : slope * x, x > 0 ? T(1) : slope};
  } else if constexpr (A == kElu) {
    return {x > 0 ? x : alpha * expm1(x), x > 0 ? T(1) : alpha * exp(x)};
  } else if constexpr (A == kSigmoid) {
    const T s = T(1) / (T(1) + exp(-x));
    return {s, s * (T(1) - s)};
  } else if constexpr (A == kTanh) {
    const T t = tanh(x);
    return {t, T(1) - t * t};
  } else if constexpr (A == kGelu) {  // x * Phi(x)
    const T cdf = T(0.5) * (T(1) + erf(x / T(1.4142135623730951)));
    const T pdf = exp(T(-0.5) * x * x) / T(2.5066282746310002);  // sqrt(2 pi)
    return {x * cdf, cdf + x * pdf};
  } else if constexpr (A == kHardswish) {
    if (x <= T(-3)) return {T(0), T(0)};
    if (x >= T(3)) return {x, T(1)};
    return {x * (x + T(3)) / T(6), (T(2) * x + T(3)) / T(6)};
  } else {  // clamp to [alpha, beta]; slope 1 on the closed interval
    return {x < alpha ? alpha : (x > beta ? beta : x), (x < alpha || x > beta) ? T(0) : T(1)};
  }
}
template <int A, class T>
struct ActForward {
  T alpha, beta;
  __device__ T operator()(T x) const { return activation<A>(x, alpha, beta).f; }
};
template <int A, class T>
struct ActBackward {
  T alpha, beta;
  __device__ T operator()(T x, T g) const { return g * activation<A>(x, alpha, beta).df; }
};

template <class T>
__global__ void any_zero_kernel(std::int64_t n, const T* b, Strided sb, std::int64_t* found) {
  FOVEA_GRID_LOOP(i, n) if (b[at(sb, i)] == 0) *found = 1;
}

// Runs launch(flags) on two zeroed device int64s, then copies them to `host` and waits.
template <class L>
cudaError_t with_flags(cudaStream_t st, std::int64_t host[2], L launch) {
  std::int64_t* flags = nullptr;
  cudaError_t e = cudaMallocAsync(&flags, 2 * sizeof(std::int64_t), st);
  if (e != cudaSuccess) return e;
  e = cudaMemsetAsync(flags, 0, 2 * sizeof(std::int64_t), st);
  if (e == cudaSuccess) {
    launch(flags);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess) e = cudaMemcpyAsync(host, flags, 2 * sizeof(std::int64_t), cudaMemcpyDeviceToHost, st);
  const cudaError_t freed = cudaFreeAsync(flags, st);
  if (e == cudaSuccess) e = freed;
  if (e == cudaSuccess) e = cudaStreamSynchronize(st);
  return e;
}

// A bad index k sets flags to {1, k}; among several bad ones, any is reported.
__device__ inline bool index_ok(std::int64_t k, std::int64_t K, std::int64_t* flags) {
  if (k >= 0 && k < K) return true;
  flags[1] = k;
  flags[0] = 1;
  return false;
}

template <class T>
__global__ void gather_kernel(const T* x, Matrix xm, const std::int64_t* index, Matrix im, T* out, std::int64_t os0,
                              std::int64_t os1, std::int64_t K, std::int64_t J, std::int64_t n,
                              std::int64_t* flags) {
  FOVEA_GRID_LOOP(t, n) {
    const std::int64_t i = t / J, j = t % J;
    const std::int64_t k = index[i * im.rows_stride + j * im.cols_stride];
    if (index_ok(k, K, flags)) out[i * os0 + j * os1] = x[i * xm.rows_stride + k * xm.cols_stride];
  }
}

__device__ inline void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ inline void atomic_add(double* p, double v) { atomicAdd(p, v); }
__device__ inline void atomic_add(std::int64_t* p, std::int64_t v) {  // two's complement: unsigned addition
  atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
}

template <class T>
__global__ void scatter_add_kernel(const T* src, Matrix sm, const std::int64_t* index, Matrix im, T* out,
                                   std::int64_t os0, std::int64_t os1, std::int64_t K, std::int64_t J,
                                   std::int64_t n, std::int64_t* flags) {
  FOVEA_GRID_LOOP(t, n) {
    const std::int64_t i = t / J, j = t % J;
    const std::int64_t k = index[i * im.rows_stride + j * im.cols_stride];
    if (index_ok(k, K, flags)) atomic_add(out + i * os0 + k * os1, src[i * sm.rows_stride + j * sm.cols_stride]);
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
    dispatch_code<0, kUnaryCount>(op, [&](auto c) { map1<T, T>(Unary<decltype(c)::value>{}, n, out, os, x, xs, stream); });
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

cudaError_t launch_any_zero(int code, const void* b, Strided bs, std::int64_t n, bool* found, cudaStream_t stream) {
  std::int64_t flags[2] = {0, 0};
  const cudaError_t e = with_flags(stream, flags, [&](std::int64_t* f) {
    if (code == kI64)
      any_zero_kernel<<<blocks_for(n), kThreads, 0, stream>>>(n, static_cast<const std::int64_t*>(b), bs, f);
    else if (code == kU8)
      any_zero_kernel<<<blocks_for(n), kThreads, 0, stream>>>(n, static_cast<const std::uint8_t*>(b), bs, f);
  });
  *found = flags[0] != 0;
  return e;
}

void launch_where(int code, const void* cond, Strided cs, const void* a, Strided as, const void* b, Strided bs,
                  void* out, Strided os, std::int64_t n, cudaStream_t stream) {
  dispatch_arith(code, [&](auto t) {
    using T = decltype(t);
    map3_kernel<<<blocks_for(n), kThreads, 0, stream>>>(Where{}, n, static_cast<T*>(out), os,
                                                        static_cast<const std::uint8_t*>(cond), cs,
                                                        static_cast<const T*>(a), as, static_cast<const T*>(b), bs);
  });
}

void launch_activation_forward(int act, double alpha, double beta, int code, const void* x, Strided xs, void* y,
                               Strided ys, std::int64_t n, cudaStream_t stream) {
  dispatch_float(code, [&](auto t) {
    using T = decltype(t);
    dispatch_code<0, kActCount>(act, [&](auto c) {
      map1<T, T>(ActForward<decltype(c)::value, T>{static_cast<T>(alpha), static_cast<T>(beta)}, n, y, ys, x, xs,
                 stream);
    });
  });
}

void launch_activation_backward(int act, double alpha, double beta, int code, const void* x, Strided xs,
                                const void* gy, Strided gs, void* gx, Strided gxs, std::int64_t n,
                                cudaStream_t stream) {
  dispatch_float(code, [&](auto t) {
    using T = decltype(t);
    dispatch_code<0, kActCount>(act, [&](auto c) {
      map2<T, T, T>(ActBackward<decltype(c)::value, T>{static_cast<T>(alpha), static_cast<T>(beta)}, n, gx, gxs, x,
                    xs, gy, gs, stream);
    });
  });
}

cudaError_t launch_gather_rows(int code, Matrix x, Matrix index, void* out, std::int64_t out_rows_stride,
                               std::int64_t out_cols_stride, std::int64_t M, std::int64_t K, std::int64_t J,
                               IndexReport* report, cudaStream_t stream) {
  const std::int64_t n = M * J;
  std::int64_t flags[2] = {0, 0};
  const cudaError_t e = with_flags(stream, flags, [&](std::int64_t* f) {
    dispatch_arith(code, [&](auto t) {
      using T = decltype(t);
      gather_kernel<<<blocks_for(n), kThreads, 0, stream>>>(static_cast<const T*>(x.data), x,
                                                            static_cast<const std::int64_t*>(index.data), index,
                                                            static_cast<T*>(out), out_rows_stride, out_cols_stride,
                                                            K, J, n, f);
    });
  });
  *report = {flags[0] != 0, flags[1]};
  return e;
}

cudaError_t launch_scatter_add_rows(int code, Matrix src, Matrix index, void* out, std::int64_t out_rows_stride,
                                    std::int64_t out_cols_stride, std::int64_t M, std::int64_t K, std::int64_t J,
                                    IndexReport* report, cudaStream_t stream) {
  const std::int64_t n = M * J;
  std::int64_t flags[2] = {0, 0};
  const cudaError_t e = with_flags(stream, flags, [&](std::int64_t* f) {
    auto launch = [&](auto t) {
      using T = decltype(t);
      scatter_add_kernel<<<blocks_for(n), kThreads, 0, stream>>>(
          static_cast<const T*>(src.data), src, static_cast<const std::int64_t*>(index.data), index,
          static_cast<T*>(out), out_rows_stride, out_cols_stride, K, J, n, f);
    };
    if (code == kF32) launch(float{});
    else if (code == kF64) launch(double{});
    else if (code == kI64) launch(std::int64_t{});
  });
  *report = {flags[0] != 0, flags[1]};
  return e;
}

}  // namespace fovea::backend::cuda
