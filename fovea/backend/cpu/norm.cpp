// Batch normalisation through oneDNN (f32). Running statistics are the ops layer's business.
#include "fovea/backend/cpu/cpu_backend.h"
#include "fovea/backend/cpu/dnnl_util.h"

namespace fovea::backend::cpu {

using flags = dnnl::normalization_flags;

namespace {

struct BnEntry {
  dnnl::batch_normalization_forward::primitive_desc fwd_pd;
  dnnl::batch_normalization_forward fwd;
  dnnl::batch_normalization_backward::primitive_desc bwd_pd;
  dnnl::batch_normalization_backward bwd;
  bool has_bwd = false;
  dnnl::memory::desc x_md, c_md;
};

std::shared_ptr<BnEntry> bn_entry(const Tensor& x, double eps, bool training) {
  std::string key = fmt::format("bn{}e{}t{}", key_of(x), eps, training);
  return cached<BnEntry>(key, [&] {
    auto e = std::make_shared<BnEntry>();
    e->x_md = plain_desc(x, "batch_norm");
    e->c_md = plain_desc(Shape{x.size(1)}, DType::f32, "batch_norm");
    auto fl = flags::use_scale | flags::use_shift;
    if (!training) fl = fl | flags::use_global_stats;
    dnnl::batch_normalization_forward::desc d(
        training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference, e->x_md,
        static_cast<float>(eps), fl);
    e->fwd_pd = dnnl::batch_normalization_forward::primitive_desc(d, engine());
    e->fwd = dnnl::batch_normalization_forward(e->fwd_pd);
    if (training) {
      dnnl::batch_normalization_backward::desc bd(dnnl::prop_kind::backward, e->x_md, e->x_md, static_cast<float>(eps),
                                                  flags::use_scale | flags::use_shift);
      e->bwd_pd = dnnl::batch_normalization_backward::primitive_desc(bd, engine(), e->fwd_pd);
      e->bwd = dnnl::batch_normalization_backward(e->bwd_pd);
      e->has_bwd = true;
    }
    return e;
  });
}

}  // namespace

// x: (N,C,...) contiguous; weight, bias, mean, var: (C)
void CpuBackend::batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                                    const Tensor& var, const Tensor& y, double eps, bool training) {
  if (x.dtype() != DType::f32) fail("batch_norm", "the CPU path supports f32, got {}", dtype_name(x.dtype()));
  auto e = bn_entry(x, eps, training);
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
  auto e = bn_entry(x, eps, true);
  // oneDNN 2.6 validates a shift argument on backward although the result does not depend on it
  Tensor shift = zeros({x.size(1)});
  e->bwd.execute(stream(), {{DNNL_ARG_SRC, make_memory(e->x_md, x)},
                            {DNNL_ARG_SHIFT, make_memory(e->c_md, shift)},
                            {DNNL_ARG_DIFF_DST, make_memory(e->x_md, gy)},
                            {DNNL_ARG_SCALE, make_memory(e->c_md, weight)},
                            {DNNL_ARG_MEAN, make_memory(e->c_md, mean)},
                            {DNNL_ARG_VARIANCE, make_memory(e->c_md, var)},
                            {DNNL_ARG_DIFF_SRC, make_memory(e->x_md, gx)},
                            {DNNL_ARG_DIFF_SCALE, make_memory(e->c_md, gweight)},
                            {DNNL_ARG_DIFF_SHIFT, make_memory(e->c_md, gbias)}});
  stream().wait();
}

}  // namespace fovea::backend::cpu
