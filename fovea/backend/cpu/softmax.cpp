// Softmax and log softmax along one axis: oneDNN softmax_v2 for f32, the formulas of
// activation_math.h (which the CUDA kernels share) for f64.
#include <algorithm>
#include <cmath>

#include "fovea/backend/activation_math.h"
#include "fovea/backend/cpu/cpu_backend.h"
#include "fovea/backend/cpu/dnnl_util.h"

namespace fovea::backend::cpu {

namespace {

namespace math = activation_math;

template <typename T>
void softmax_loops(const Tensor& x, const Tensor& y, int axis, bool log) {
  const auto [outer, n, inner] = softmax_lines(x.shape(), axis);
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
      const T log_sum = std::log(sum);
      for (std::int64_t k = 0; k < n; ++k) w[k * inner] = math::softmax_value(r[k * inner], m, sum, log_sum, log);
    }
}

template <typename T>
void softmax_backward_loops(const Tensor& y, const Tensor& gy, const Tensor& gx, int axis, bool log) {
  const auto [outer, n, inner] = softmax_lines(y.shape(), axis);
  const T* py = y.data<T>();
  const T* pg = gy.data<T>();
  T* px = gx.data<T>();
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t in = 0; in < inner; ++in) {
      const std::int64_t b = o * n * inner + in;
      T dot = 0;
      for (std::int64_t k = 0; k < n; ++k) dot += math::softmax_dot_term(py[b + k * inner], pg[b + k * inner], log);
      for (std::int64_t k = 0; k < n; ++k) {
        const std::int64_t i = b + k * inner;
        px[i] = math::softmax_grad(py[i], pg[i], dot, log);
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

}  // namespace fovea::backend::cpu
