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

GradcheckResult gradcheck_leaves(const std::function<Tensor()>& f, const std::vector<Tensor>& leaves,
                                 const GradcheckOptions& o) {
  GradcheckResult res;
  for (auto& x : leaves)
    if (x.device() != kCPU || (x.dtype() != DType::f32 && x.dtype() != DType::f64) || !x.is_contiguous())
      fail("gradcheck", "checked tensors must be contiguous CPU f32/f64 tensors");
  for (auto& x : leaves) x.set_grad(Tensor());
  Tensor out = f();
  Generator g(o.seed);
  Tensor r = randn(out.shape(), {.dtype = out.dtype()}, g);
  auto scalar = [&]() {
    NoGradGuard ng;
    return sum(mul(f(), r).to(DType::f64)).item();
  };
  sum(mul(out, r)).backward();
  for (size_t k = 0; k < leaves.size(); ++k) {
    const Tensor& x = leaves[k];
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
        res.message = fmt::format("tensor {} element {}: analytic {:.8g}, numeric {:.8g}", k, i, pa[i], numeric);
      }
    }
  }
  return res;
}

GradcheckResult gradcheck(const GradFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& o) {
  std::vector<Tensor> xs, leaves;
  for (auto& x : inputs) {
    if (!x.defined() || !x.requires_grad()) {
      xs.push_back(x);
      continue;
    }
    // own contiguous copies, so perturbing them cannot touch the caller's data
    Tensor c = x.detach().clone();
    c.requires_grad_();
    xs.push_back(c);
    leaves.push_back(c);
  }
  return gradcheck_leaves([&] { return f(xs); }, leaves, o);
}

GradcheckResult gradcheck_module(nn::Module& m, const Tensor& input, const GradcheckOptions& o) {
  Tensor x = input.detach().clone();
  x.requires_grad_();
  std::vector<Tensor> leaves{x};
  for (auto& p : m.parameters())
    if (p.requires_grad()) leaves.push_back(p);
  return gradcheck_leaves([&] { return m(x); }, leaves, o);
}

}  // namespace fovea::testing
