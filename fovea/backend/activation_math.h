#pragma once
// The per-element formulas of Backend::activation_* and Backend::softmax_*, shared by the CPU's
// scalar loops (cpu/activation.cpp, cpu/softmax.cpp: the f64 paths; oneDNN runs f32) and the
// CUDA kernels (cuda/activation.cu, cuda/softmax.cu): plain C++17 that nvcc compiles too.
#include <cmath>

#include "fovea/backend/host_device.h"

namespace fovea::backend {

// Activations with oneDNN-style forward and backward; alpha is the slope / limit where used.
enum class Act { relu, leaky_relu, elu, sigmoid, tanh, gelu, hardswish, erf, softplus, clamp };
inline constexpr int kActCount = static_cast<int>(Act::clamp) + 1;

namespace activation_math {

// f(x) and f'(x) of one element.
template <class T>
struct ValueSlope {
  T f, df;
};

// Activation A with alpha (leaky_relu slope, elu alpha, clamp low) and beta (clamp high), as
// torch.nn.functional defines them (https://pytorch.org/docs/1.13/nn.functional.html). NaN
// propagates through f; relu(-inf) is 0.
template <Act A, class T>
FOVEA_HOST_DEVICE inline ValueSlope<T> value_slope(T x, T alpha, T beta) {
  if constexpr (A == Act::relu) {
    return {x > T(0) || x != x ? x : T(0), x > T(0) ? T(1) : T(0)};
  } else if constexpr (A == Act::leaky_relu) {
    return {x > T(0) ? x : alpha * x, x > T(0) ? T(1) : alpha};
  } else if constexpr (A == Act::elu) {  // alpha (e^x - 1) below 0, as PyTorch 1.13 and oneDNN (not expm1)
    const T e = std::exp(x);
    return {x > T(0) ? x : alpha * (e - T(1)), x > T(0) ? T(1) : alpha * e};
  } else if constexpr (A == Act::sigmoid) {
    const T s = T(1) / (T(1) + std::exp(-x));
    return {s, s * (T(1) - s)};
  } else if constexpr (A == Act::tanh) {
    const T t = std::tanh(x);
    return {t, T(1) - t * t};
  } else if constexpr (A == Act::gelu) {                                  // x Phi(x), the exact (erf) form
    const T cdf = T(0.5) * (T(1) + std::erf(x / T(1.4142135623730951)));  // sqrt(2)
    const T pdf = std::exp(T(-0.5) * x * x) / T(2.5066282746310002);      // sqrt(2 pi)
    return {x * cdf, cdf + x * pdf};
  } else if constexpr (A == Act::hardswish) {  // x relu6(x + 3) / 6
    if (x <= T(-3)) return {T(0), T(0)};
    if (x >= T(3)) return {x, T(1)};
    return {x * (x + T(3)) / T(6), (T(2) * x + T(3)) / T(6)};
  } else if constexpr (A == Act::erf) {
    return {std::erf(x), T(1.1283791670955126) * std::exp(-x * x)};  // 2 / sqrt(pi)
  } else if constexpr (A == Act::softplus) {  // log(1 + e^x), stable for large |x|; slope sigmoid(x)
    const T e = std::exp(-std::abs(x));
    return {(x > T(0) ? x : T(0)) + std::log1p(e), x >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e)};
  } else {  // clamp to [alpha, beta]; slope 1 on the closed interval
    return {x < alpha ? alpha : (x > beta ? beta : x), (x < alpha || x > beta) ? T(0) : T(1)};
  }
}

// The same with A known only at run time (the CPU's scalar loops).
template <class T>
FOVEA_HOST_DEVICE inline ValueSlope<T> value_slope(Act a, T x, T alpha, T beta) {
  switch (a) {
    case Act::relu: return value_slope<Act::relu>(x, alpha, beta);
    case Act::leaky_relu: return value_slope<Act::leaky_relu>(x, alpha, beta);
    case Act::elu: return value_slope<Act::elu>(x, alpha, beta);
    case Act::sigmoid: return value_slope<Act::sigmoid>(x, alpha, beta);
    case Act::tanh: return value_slope<Act::tanh>(x, alpha, beta);
    case Act::gelu: return value_slope<Act::gelu>(x, alpha, beta);
    case Act::hardswish: return value_slope<Act::hardswish>(x, alpha, beta);
    case Act::erf: return value_slope<Act::erf>(x, alpha, beta);
    case Act::softplus: return value_slope<Act::softplus>(x, alpha, beta);
    case Act::clamp: return value_slope<Act::clamp>(x, alpha, beta);
  }
  return {x, T(1)};
}

// Softmax along a line: y = e^(x - max) / sum, or log softmax x - max - log(sum), with max the
// line's largest element, sum = sum of e^(x - max) and log_sum = log(sum).
template <class T>
FOVEA_HOST_DEVICE inline T softmax_value(T x, T max, T sum, T log_sum, bool log_softmax) {
  return log_softmax ? x - max - log_sum : std::exp(x - max) / sum;
}

// Backward from the forward's output y and the gradient g: gx = y (g - dot) with dot the line's
// sum of g y, or for log softmax gx = g - e^y dot with dot the line's sum of g.
template <class T>
FOVEA_HOST_DEVICE inline T softmax_dot_term(T y, T g, bool log_softmax) {
  return log_softmax ? g : g * y;
}
template <class T>
FOVEA_HOST_DEVICE inline T softmax_grad(T y, T g, T dot, bool log_softmax) {
  return log_softmax ? g - std::exp(y) * dot : y * (g - dot);
}

}  // namespace activation_math
}  // namespace fovea::backend
