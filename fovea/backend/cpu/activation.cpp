// Activations and softmax: oneDNN eltwise/softmax primitives for f32, scalar loops otherwise.
#include <cmath>

#include "fovea/backend/cpu/cpu_backend.h"
#include "fovea/backend/cpu/dnnl_util.h"
#include "fovea/backend/cpu/loops.h"

namespace fovea::backend {

using namespace cpu;

namespace {

dnnl::algorithm eltwise_alg(Act a) {
  switch (a) {
    case Act::relu:
    case Act::leaky_relu: return dnnl::algorithm::eltwise_relu;
    case Act::elu: return dnnl::algorithm::eltwise_elu;
    case Act::sigmoid: return dnnl::algorithm::eltwise_logistic;
    case Act::tanh: return dnnl::algorithm::eltwise_tanh;
    case Act::gelu: return dnnl::algorithm::eltwise_gelu_erf;
    case Act::hardswish: return dnnl::algorithm::eltwise_hardswish;
    case Act::clamp: return dnnl::algorithm::eltwise_clip;
  }
  return dnnl::algorithm::eltwise_relu;
}

struct EltEntry {
  dnnl::eltwise_forward::primitive_desc fwd_pd;
  dnnl::eltwise_forward fwd;
  dnnl::eltwise_backward bwd;
  dnnl::memory::desc md;
};

std::shared_ptr<EltEntry> elt_entry(Act a, const ActParams& p, std::int64_t n) {
  std::string key = fmt::format("elt{}a{}b{}n{}", static_cast<int>(a), p.alpha, p.beta, n);
  return cached<EltEntry>(key, [&] {
    auto e = std::make_shared<EltEntry>();
    e->md = plain_desc(Shape{n}, DType::f32, "activation");
    const float alpha = a == Act::relu ? 0.f : static_cast<float>(p.alpha);
    const float beta = static_cast<float>(p.beta);
    dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_training, eltwise_alg(a), e->md, alpha, beta);
    e->fwd_pd = dnnl::eltwise_forward::primitive_desc(d, engine());
    e->fwd = dnnl::eltwise_forward(e->fwd_pd);
    dnnl::eltwise_backward::desc bd(eltwise_alg(a), e->md, e->md, alpha, beta);
    e->bwd = dnnl::eltwise_backward(dnnl::eltwise_backward::primitive_desc(bd, engine(), e->fwd_pd));
    return e;
  });
}

// Scalar forms for the non-f32 paths (f64 gradient checks). Each returns (f(x), f'(x)).
template <typename T>
std::pair<T, T> act_scalar(Act a, const ActParams& p, T x) {
  const T al = static_cast<T>(p.alpha);
  switch (a) {
    case Act::relu: return {x > 0 ? x : T(0), x > 0 ? T(1) : T(0)};
    case Act::leaky_relu: return {x > 0 ? x : al * x, x > 0 ? T(1) : al};
    case Act::elu: {
      T e = std::exp(x);
      return {x > 0 ? x : al * (e - 1), x > 0 ? T(1) : al * e};
    }
    case Act::sigmoid: {
      T s = 1 / (1 + std::exp(-x));
      return {s, s * (1 - s)};
    }
    case Act::tanh: {
      T t = std::tanh(x);
      return {t, 1 - t * t};
    }
    case Act::gelu: {  // x * Phi(x)
      T cdf = T(0.5) * (1 + std::erf(x / std::sqrt(T(2))));
      T pdf = std::exp(T(-0.5) * x * x) / std::sqrt(T(2 * M_PI));
      return {x * cdf, cdf + x * pdf};
    }
    case Act::hardswish: {
      if (x <= -3) return {T(0), T(0)};
      if (x >= 3) return {x, T(1)};
      return {x * (x + 3) / 6, (2 * x + 3) / 6};
    }
    case Act::clamp: {
      const T lo = al, hi = static_cast<T>(p.beta);
      return {x < lo ? lo : (x > hi ? hi : x), (x < lo || x > hi) ? T(0) : T(1)};
    }
  }
  return {x, T(1)};
}

template <typename T>
void softmax_loops(const Tensor& x, const Tensor& y, int axis, bool log) {
  const auto& s = x.shape();
  std::int64_t outer = 1, inner = 1, n = s[axis];
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (size_t i = axis + 1; i < s.size(); ++i) inner *= s[i];
  const T* px = x.data<T>();
  T* py = y.data<T>();
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t in = 0; in < inner; ++in) {
      const T* r = px + o * n * inner + in;
      T* w = py + o * n * inner + in;
      T m = r[0];
      for (std::int64_t k = 1; k < n; ++k) m = std::max(m, r[k * inner]);
      T sum = 0;
      for (std::int64_t k = 0; k < n; ++k) sum += std::exp(r[k * inner] - m);
      for (std::int64_t k = 0; k < n; ++k)
        w[k * inner] = log ? r[k * inner] - m - std::log(sum) : std::exp(r[k * inner] - m) / sum;
    }
}

template <typename T>
void softmax_backward_loops(const Tensor& y, const Tensor& gy, const Tensor& gx, int axis, bool log) {
  const auto& s = y.shape();
  std::int64_t outer = 1, inner = 1, n = s[axis];
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (size_t i = axis + 1; i < s.size(); ++i) inner *= s[i];
  const T* py = y.data<T>();
  const T* pg = gy.data<T>();
  T* px = gx.data<T>();
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t in = 0; in < inner; ++in) {
      std::int64_t b = o * n * inner + in;
      T dot = 0;
      for (std::int64_t k = 0; k < n; ++k) dot += log ? pg[b + k * inner] : pg[b + k * inner] * py[b + k * inner];
      for (std::int64_t k = 0; k < n; ++k) {
        std::int64_t i = b + k * inner;
        px[i] = log ? pg[i] - std::exp(py[i]) * dot : py[i] * (pg[i] - dot);
      }
    }
}

struct SoftmaxEntry {
  dnnl::softmax_v2_forward::primitive_desc fwd_pd;
  dnnl::softmax_v2_forward fwd;
  dnnl::softmax_v2_backward bwd;
  dnnl::memory::desc md;
};

std::shared_ptr<SoftmaxEntry> softmax_entry(const Tensor& x, int axis, bool log) {
  std::string key = fmt::format("softmax{}a{}l{}", key_of(x), axis, log);
  return cached<SoftmaxEntry>(key, [&] {
    auto e = std::make_shared<SoftmaxEntry>();
    e->md = plain_desc(x, "softmax");
    auto alg = log ? dnnl::algorithm::softmax_log : dnnl::algorithm::softmax_accurate;
    dnnl::softmax_v2_forward::desc d(dnnl::prop_kind::forward_training, alg, e->md, e->md, axis);
    e->fwd_pd = dnnl::softmax_v2_forward::primitive_desc(d, engine());
    e->fwd = dnnl::softmax_v2_forward(e->fwd_pd);
    dnnl::softmax_v2_backward::desc bd(alg, e->md, e->md, e->md, axis);
    e->bwd = dnnl::softmax_v2_backward(dnnl::softmax_v2_backward::primitive_desc(bd, engine(), e->fwd_pd));
    return e;
  });
}

}  // namespace

// x, y: contiguous, same shape
void CpuBackend::activation_forward(Act a, const ActParams& p, const Tensor& x, const Tensor& y) {
  if (x.numel() == 0) return;
  if (x.dtype() == DType::f32) {
    auto e = elt_entry(a, p, x.numel());
    e->fwd.execute(stream(), {{DNNL_ARG_SRC, make_memory(e->md, x)}, {DNNL_ARG_DST, make_memory(e->md, y)}});
    stream().wait();
    return;
  }
  FOVEA_DISPATCH_FLOAT(x.dtype(), "activation", [&] {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* py = y.data<scalar_t>();
    for (std::int64_t i = 0, n = x.numel(); i < n; ++i) py[i] = act_scalar(a, p, px[i]).first;
  });
}

void CpuBackend::activation_backward(Act a, const ActParams& p, const Tensor& x, const Tensor& gy, const Tensor& gx) {
  if (x.numel() == 0) return;
  if (x.dtype() == DType::f32) {
    auto e = elt_entry(a, p, x.numel());
    e->bwd.execute(stream(), {{DNNL_ARG_SRC, make_memory(e->md, x)},
                              {DNNL_ARG_DIFF_DST, make_memory(e->md, gy)},
                              {DNNL_ARG_DIFF_SRC, make_memory(e->md, gx)}});
    stream().wait();
    return;
  }
  FOVEA_DISPATCH_FLOAT(x.dtype(), "activation", [&] {
    const scalar_t* px = x.data<scalar_t>();
    const scalar_t* pg = gy.data<scalar_t>();
    scalar_t* po = gx.data<scalar_t>();
    for (std::int64_t i = 0, n = x.numel(); i < n; ++i) po[i] = pg[i] * act_scalar(a, p, px[i]).second;
  });
}

void CpuBackend::softmax_forward(const Tensor& x, const Tensor& y, int axis, bool log) {
  if (x.numel() == 0) return;
  if (x.dtype() == DType::f32) {
    auto e = softmax_entry(x, axis, log);
    e->fwd.execute(stream(), {{DNNL_ARG_SRC, make_memory(e->md, x)}, {DNNL_ARG_DST, make_memory(e->md, y)}});
    stream().wait();
    return;
  }
  FOVEA_DISPATCH_FLOAT(x.dtype(), "softmax", [&] { softmax_loops<scalar_t>(x, y, axis, log); });
}

void CpuBackend::softmax_backward(const Tensor& y, const Tensor& gy, const Tensor& gx, int axis, bool log) {
  if (y.numel() == 0) return;
  if (y.dtype() == DType::f32) {
    auto e = softmax_entry(y, axis, log);
    e->bwd.execute(stream(), {{DNNL_ARG_DST, make_memory(e->md, y)},
                              {DNNL_ARG_DIFF_DST, make_memory(e->md, gy)},
                              {DNNL_ARG_DIFF_SRC, make_memory(e->md, gx)}});
    stream().wait();
    return;
  }
  FOVEA_DISPATCH_FLOAT(y.dtype(), "softmax", [&] { softmax_backward_loops<scalar_t>(y, gy, gx, axis, log); });
}

}  // namespace fovea::backend
