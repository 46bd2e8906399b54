// Batch normalisation (f32): inference through oneDNN; training, forward and backward, by
// loops over the plain NCHW planes, where oneDNN 2.6 has only a slow reference kernel for plain
// layouts (docs/backend.md, "Batch norm in training"). Running statistics are the ops layer's
// business.
#include <omp.h>

#include <cmath>

#include "fovea/backend/cpu/cpu_backend.h"
#include "fovea/backend/cpu/dnnl_util.h"
#include "fovea/backend/cpu/loops.h"

namespace fovea::backend::cpu {

using flags = dnnl::normalization_flags;

namespace {

struct BnEntry {
  dnnl::batch_normalization_forward::primitive_desc fwd_pd;
  dnnl::batch_normalization_forward fwd;
  dnnl::memory::desc x_md, c_md;
};

// inference: the running statistics given
std::shared_ptr<BnEntry> bn_entry(const Tensor& x, double eps) {
  std::string key = fmt::format("bn{}e{}", key_of(x), eps);
  return cached<BnEntry>(key, [&] {
    auto e = std::make_shared<BnEntry>();
    e->x_md = plain_desc(x, "batch_norm");
    e->c_md = plain_desc(Shape{x.size(1)}, DType::f32, "batch_norm");
    dnnl::batch_normalization_forward::desc d(dnnl::prop_kind::forward_inference, e->x_md, static_cast<float>(eps),
                                              flags::use_scale | flags::use_shift | flags::use_global_stats);
    e->fwd_pd = dnnl::batch_normalization_forward::primitive_desc(d, engine());
    e->fwd = dnnl::batch_normalization_forward(e->fwd_pd);
    return e;
  });
}

// x: (N,C,S) contiguous (S the spatial size), read as N x C planes of S values. Channels are
// split between threads and each channel's sums run in one thread in a fixed order, so results
// do not depend on the number of threads.
struct Planes {
  std::int64_t N, C, S;
  explicit Planes(const Tensor& x) : N(x.size(0)), C(x.size(1)), S(x.numel() / std::max<std::int64_t>(N * C, 1)) {}
  std::int64_t offset(std::int64_t n, std::int64_t c) const { return (n * C + c) * S; }
};

// The sum of p[0..S) with float lanes, added up in double.
inline double plane_sum(const float* p, std::int64_t S) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (std::int64_t i = 0; i < S; ++i) s += p[i];
  return s;
}

// Training forward: per channel the batch mean and biased variance (two passes: the deviations
// are summed after the mean is known), then y = (x - mean) / sqrt(var + eps) * w + b.
void bn_train_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean, const Tensor& var,
                      const Tensor& y, double eps) {
  const Planes P(x);
  const float* px = x.data<float>();
  float* py = y.data<float>();
  const float *pw = weight.data<float>(), *pb = bias.data<float>();
  float *pm = mean.data<float>(), *pv = var.data<float>();
  const double count = static_cast<double>(P.N * P.S);
#pragma omp parallel for schedule(static) if (P.N * P.C * P.S >= kParallelGrain && P.C > 1)
  for (std::int64_t c = 0; c < P.C; ++c) {
    double sum = 0;
    for (std::int64_t n = 0; n < P.N; ++n) sum += plane_sum(px + P.offset(n, c), P.S);
    const double m = sum / count;
    const auto mf = static_cast<float>(m);
    double sq = 0;
    for (std::int64_t n = 0; n < P.N; ++n) {
      const float* p = px + P.offset(n, c);
      float s = 0;
#pragma omp simd reduction(+ : s)
      for (std::int64_t i = 0; i < P.S; ++i) s += (p[i] - mf) * (p[i] - mf);
      sq += s;
    }
    const double v = sq / count;
    pm[c] = mf;
    pv[c] = static_cast<float>(v);
    // (x - mean) first: x scale + (b - mean scale) would cancel when the mean is large
    const auto scale = static_cast<float>(pw[c] / std::sqrt(v + eps));
    const float shift = pb[c];
    for (std::int64_t n = 0; n < P.N; ++n) {
      const float* p = px + P.offset(n, c);
      float* q = py + P.offset(n, c);
#pragma omp simd
      for (std::int64_t i = 0; i < P.S; ++i) q[i] = (p[i] - mf) * scale + shift;
    }
  }
}

// Training backward, with xhat = (x - mean) / sqrt(var + eps) and M = N S values per channel:
// db = sum(dy), dw = sum(dy xhat), dx = w / sqrt(var + eps) (dy - db / M - xhat dw / M).
void bn_train_backward(const Tensor& gy, const Tensor& x, const Tensor& weight, const Tensor& mean, const Tensor& var,
                       const Tensor& gx, const Tensor& gweight, const Tensor& gbias, double eps) {
  const Planes P(x);
  const float *px = x.data<float>(), *pg = gy.data<float>();
  float* pgx = gx.data<float>();
  const float *pw = weight.data<float>(), *pm = mean.data<float>(), *pv = var.data<float>();
  float *pgw = gweight.data<float>(), *pgb = gbias.data<float>();
  const double count = static_cast<double>(P.N * P.S);
#pragma omp parallel for schedule(static) if (P.N * P.C * P.S >= kParallelGrain && P.C > 1)
  for (std::int64_t c = 0; c < P.C; ++c) {
    const float m = pm[c];
    const double inv_std = 1 / std::sqrt(static_cast<double>(pv[c]) + eps);
    double sum_g = 0, sum_gx = 0;  // sum(dy), sum(dy (x - mean))
    for (std::int64_t n = 0; n < P.N; ++n) {
      const float *p = px + P.offset(n, c), *g = pg + P.offset(n, c);
      float a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
      for (std::int64_t i = 0; i < P.S; ++i) {
        a += g[i];
        b += g[i] * (p[i] - m);
      }
      sum_g += a;
      sum_gx += b;
    }
    pgb[c] = static_cast<float>(sum_g);
    pgw[c] = static_cast<float>(sum_gx * inv_std);
    // dx = k (dy - sum_g / M - (x - mean) sum_gx inv_std^2 / M), k = w inv_std
    const auto k = static_cast<float>(pw[c] * inv_std);
    const auto mean_g = static_cast<float>(sum_g / count);
    const auto slope = static_cast<float>(sum_gx * inv_std * inv_std / count);
    for (std::int64_t n = 0; n < P.N; ++n) {
      const float *p = px + P.offset(n, c), *g = pg + P.offset(n, c);
      float* q = pgx + P.offset(n, c);
#pragma omp simd
      for (std::int64_t i = 0; i < P.S; ++i) q[i] = k * (g[i] - mean_g - (p[i] - m) * slope);
    }
  }
}

}  // namespace

// x: (N,C,...) contiguous; weight, bias, mean, var: (C)
void CpuBackend::batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                                    const Tensor& var, const Tensor& y, double eps, bool training) {
  if (x.dtype() != DType::f32) fail("batch_norm", "the CPU path supports f32, got {}", dtype_name(x.dtype()));
  if (training) return bn_train_forward(x, weight, bias, mean, var, y, eps);
  auto e = bn_entry(x, eps);
  e->fwd.execute(stream(), {{DNNL_ARG_SRC, make_memory(e->x_md, x)},
                            {DNNL_ARG_DST, make_memory(e->x_md, y)},
                            {DNNL_ARG_SCALE, make_memory(e->c_md, weight)},
                            {DNNL_ARG_SHIFT, make_memory(e->c_md, bias)},
                            {DNNL_ARG_MEAN, make_memory(e->c_md, mean)},
                            {DNNL_ARG_VARIANCE, make_memory(e->c_md, var)}});
  stream().wait();
}

// Backward of the training-mode forward (batch statistics).
void CpuBackend::batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& weight, const Tensor& mean,
                                     const Tensor& var, const Tensor& gx, const Tensor& gweight, const Tensor& gbias,
                                     double eps) {
  bn_train_backward(gy, x, weight, mean, var, gx, gweight, gbias, eps);
}

}  // namespace fovea::backend::cpu
