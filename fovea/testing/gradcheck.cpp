#include "fovea/testing/gradcheck.h"

#include <cmath>

#include "fovea/autograd/grad_mode.h"
#include "fovea/ops/ops.h"

namespace fovea::testing {

namespace {

double element(const Tensor& t, std::int64_t i) {
  return t.dtype() == DType::f64 ? t.data<double>()[i] : static_cast<double>(t.data<float>()[i]);
}
void set_element(const Tensor& t, std::int64_t i, double v) {
  if (t.dtype() == DType::f64) t.data<double>()[i] = v;
  else t.data<float>()[i] = static_cast<float>(v);
}

}  // namespace

GradcheckResult gradcheck(const GradFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& o) {
  GradcheckResult res;
  std::vector<Tensor> xs;
  for (auto& x : inputs) {
    if (!x.defined() || !x.requires_grad()) {
      xs.push_back(x);
      continue;
    }
    if (x.device() != kCPU || (x.dtype() != DType::f32 && x.dtype() != DType::f64))
      fail("gradcheck", "inputs must be CPU f32/f64 tensors");
    // own contiguous copies, so perturbing them cannot touch the caller's data
    Tensor c = x.detach().clone();
    c.requires_grad_();
    xs.push_back(c);
  }
  Tensor out = f(xs);
  Generator g(o.seed);
  Tensor r = randn(out.shape(), {.dtype = out.dtype()}, g);
  auto scalar = [&]() {
    NoGradGuard ng;
    return sum(mul(f(xs), r).to(DType::f64)).item();
  };
  sum(mul(out, r)).backward();
  for (size_t k = 0; k < xs.size(); ++k) {
    const Tensor& x = xs[k];
    if (!x.defined() || !x.requires_grad()) continue;
    Tensor ga = x.grad().defined() ? x.grad().to(DType::f64).contiguous() : zeros(x.shape(), {.dtype = DType::f64});
    const double* pa = ga.data<double>();
    const double f0 = scalar();
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      const double v = element(x, i);
      set_element(x, i, v + o.eps);
      const double fp = scalar();
      set_element(x, i, v - o.eps);
      const double fm = scalar();
      set_element(x, i, v);
      const double numeric = (fp - fm) / (2 * o.eps);
      if (o.skip_kinks) {
        const double dp = (fp - f0) / o.eps, dm = (f0 - fm) / o.eps;
        if (std::abs(dp - dm) > 10 * (o.atol + o.rtol * std::abs(numeric)) + 0.1 * std::abs(dp + dm)) {
          res.skipped++;
          continue;
        }
      }
      res.checked++;
      const double err = std::abs(pa[i] - numeric);
      res.max_abs_error = std::max(res.max_abs_error, err);
      if (err > o.atol + o.rtol * std::abs(numeric) && res.ok) {
        res.ok = false;
        res.message = fmt::format("input {} element {}: analytic {:.8g}, numeric {:.8g}", k, i, pa[i], numeric);
      }
    }
  }
  return res;
}

}  // namespace fovea::testing
