// Activations: oneDNN eltwise primitives for f32, the scalar formulas of activation_math.h (which
// the CUDA kernels share) for f64 and for what oneDNN lacks (erf, softplus).
#include <optional>

#include "fovea/backend/activation_math.h"
#include "fovea/backend/cpu/cpu_backend.h"
#include "fovea/backend/cpu/dnnl_util.h"

namespace fovea::backend::cpu {

namespace {

// oneDNN's algorithm for a; none for erf and softplus, which run the scalar formulas
std::optional<dnnl::algorithm> eltwise_alg(Act a) {
  switch (a) {
    case Act::relu:
    case Act::leaky_relu: return dnnl::algorithm::eltwise_relu;
    case Act::elu: return dnnl::algorithm::eltwise_elu;
    case Act::sigmoid: return dnnl::algorithm::eltwise_logistic;
    case Act::tanh: return dnnl::algorithm::eltwise_tanh;
    case Act::gelu: return dnnl::algorithm::eltwise_gelu_erf;
    case Act::hardswish: return dnnl::algorithm::eltwise_hardswish;
    case Act::clamp: return dnnl::algorithm::eltwise_clip;
    case Act::erf:
    case Act::softplus: return std::nullopt;
  }
  return std::nullopt;
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
    dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_training, *eltwise_alg(a), e->md, alpha, beta);
    e->fwd_pd = dnnl::eltwise_forward::primitive_desc(d, engine());
    e->fwd = dnnl::eltwise_forward(e->fwd_pd);
    dnnl::eltwise_backward::desc bd(*eltwise_alg(a), e->md, e->md, alpha, beta);
    e->bwd = dnnl::eltwise_backward(dnnl::eltwise_backward::primitive_desc(bd, engine(), e->fwd_pd));
    return e;
  });
}

}  // namespace

// x, y: contiguous, same shape
void CpuBackend::activation_forward(Act a, const ActParams& p, const Tensor& x, const Tensor& y) {
  if (x.numel() == 0) return;
  if (x.dtype() == DType::f32 && eltwise_alg(a)) {
    auto e = elt_entry(a, p, x.numel());
    e->fwd.execute(stream(), {{DNNL_ARG_SRC, make_memory(e->md, x)}, {DNNL_ARG_DST, make_memory(e->md, y)}});
    stream().wait();
    return;
  }
  FOVEA_DISPATCH_FLOAT(x.dtype(), "activation", [&] {
    const auto alpha = static_cast<scalar_t>(p.alpha), beta = static_cast<scalar_t>(p.beta);
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* py = y.data<scalar_t>();
    for (std::int64_t i = 0, n = x.numel(); i < n; ++i) py[i] = activation_math::value_slope(a, px[i], alpha, beta).f;
  });
}

void CpuBackend::activation_backward(Act a, const ActParams& p, const Tensor& x, const Tensor& gy, const Tensor& gx) {
  if (x.numel() == 0) return;
  if (x.dtype() == DType::f32 && eltwise_alg(a)) {
    auto e = elt_entry(a, p, x.numel());
    e->bwd.execute(stream(), {{DNNL_ARG_SRC, make_memory(e->md, x)},
                              {DNNL_ARG_DIFF_DST, make_memory(e->md, gy)},
                              {DNNL_ARG_DIFF_SRC, make_memory(e->md, gx)}});
    stream().wait();
    return;
  }
  FOVEA_DISPATCH_FLOAT(x.dtype(), "activation", [&] {
    const auto alpha = static_cast<scalar_t>(p.alpha), beta = static_cast<scalar_t>(p.beta);
    const scalar_t* px = x.data<scalar_t>();
    const scalar_t* pg = gy.data<scalar_t>();
    scalar_t* po = gx.data<scalar_t>();
    for (std::int64_t i = 0, n = x.numel(); i < n; ++i)
      po[i] = pg[i] * activation_math::value_slope(a, px[i], alpha, beta).df;
  });
}

}  // namespace fovea::backend::cpu
