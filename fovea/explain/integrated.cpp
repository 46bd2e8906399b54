// Integrated gradients (Sundararajan, Taly and Yan 2017, "Axiomatic Attribution for Deep
// Networks"): (x - x') times the mean gradient along the straight path from a baseline x' to x,
// by the trapezoidal rule; the path's points of all images go through the model in batches.
#include <algorithm>

#include "fovea/autograd/grad_mode.h"
#include "fovea/explain/detail.h"
#include "fovea/explain/faithfulness.h"
#include "fovea/ops/ops.h"

namespace fovea::explain {

Baseline parse_baseline(const std::string& name) {
  if (name == "zero") return Baseline::zero;
  if (name == "blur") return Baseline::blur;
  if (name == "uniform") return Baseline::uniform;
  fail("integrated_gradients", "unknown baseline '{}' (zero, blur, uniform)", name);
}

namespace detail {

namespace {

// x' (N,C,H,W)
Tensor baseline(const Tensor& x, const ExplainOptions& o, std::int64_t first) {
  NoGradGuard ng;
  const Tensor xd = x.detach();
  if (o.ig_baseline_input.defined()) {  // checked by explain() against all the images
    const Tensor& b = o.ig_baseline_input;
    const Tensor mine = b.size(0) == 1 ? b : b.slice(0, first, first + x.size(0));
    return mine.to(x.dtype()).to(x.device()).expand(x.shape()).contiguous();
  }
  switch (o.ig_baseline) {
    case Baseline::zero: return zeros_like(xd);
    case Baseline::blur: return gaussian_blur(xd);
    case Baseline::uniform: {
      Generator g(o.seed);
      const Tensor flat = xd.flatten(1);
      const Tensor lo = min(flat, 1, true).view({x.size(0), 1, 1, 1}),
                   hi = max(flat, 1, true).view({x.size(0), 1, 1, 1});
      return lo + rand(x.shape(), {.dtype = x.dtype(), .device = x.device()}, g) * (hi - lo);
    }
  }
  return zeros_like(xd);
}

}  // namespace

Integrated integrated(nn::Module& model, const Tensor& x, const Tensor& target, const ExplainOptions& o,
                      std::int64_t first) {
  const Tensor xd = x.detach(), base = baseline(x, o, first);
  const std::int64_t n = x.size(0), m = o.ig_steps, points = m + 1, rows = n * points;
  const auto t = target.to(kCPU).to_vector<std::int64_t>();
  std::vector<Tensor> acc(static_cast<std::size_t>(n));  // the weighted gradient sum per image (C,H,W)
  std::vector<double> at_base(static_cast<std::size_t>(n)), at_x(static_cast<std::size_t>(n));  // score(x'), score(x)
  for (std::int64_t r0 = 0; r0 < rows; r0 += o.forward_batch) {
    const std::int64_t r1 = std::min(rows, r0 + o.forward_batch);
    std::vector<Tensor> in;
    std::vector<std::int64_t> tt;
    {
      NoGradGuard ng;
      for (std::int64_t r = r0; r < r1; ++r) {
        const std::int64_t i = r / points, k = r % points;
        const Tensor b = base.select(0, i);
        in.push_back(b + (xd.select(0, i) - b) * (static_cast<double>(k) / static_cast<double>(m)));
        tt.push_back(t[static_cast<std::size_t>(i)]);
      }
    }
    Pass p(model, stack(in, 0), from_vector<std::int64_t>(tt, {r1 - r0}).to(x.device()), o.score);
    const Tensor g = p.input_grad(ReluGradRule::standard, true);
    const auto s = p.scores().to(DType::f64).to(kCPU).to_vector<double>();
    NoGradGuard ng;
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::int64_t i = r / points, k = r % points;
      const double w = (k == 0 || k == m ? 0.5 : 1.0) / static_cast<double>(m);
      const Tensor gw = g.select(0, r - r0) * w;
      auto& a = acc[static_cast<std::size_t>(i)];
      a = a.defined() ? add(a, gw) : gw;
      if (k == 0) at_base[static_cast<std::size_t>(i)] = s[static_cast<std::size_t>(r - r0)];
      if (k == m) at_x[static_cast<std::size_t>(i)] = s[static_cast<std::size_t>(r - r0)];
    }
  }
  NoGradGuard ng;
  Integrated out;
  out.attributions = mul(sub(xd, base), stack(acc, 0));
  out.sum = sum(out.attributions.flatten(1).to(DType::f64), {1});
  std::vector<double> gap(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < gap.size(); ++i) gap[i] = at_x[i] - at_base[i];
  out.gap = from_vector<double>(gap, {n});
  out.sum = out.sum.to(kCPU);
  return out;
}

}  // namespace detail

}  // namespace fovea::explain
