// The model-randomisation sanity check of Adebayo et al. 2018 ("Sanity Checks for Saliency
// Maps", section 3.1): a map that does not change when the top layers' weights are replaced by
// random ones does not explain what the model learned.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "fovea/autograd/grad_mode.h"
#include "fovea/explain/detail.h"
#include "fovea/nn/init.h"
#include "fovea/ops/ops.h"

namespace fovea::explain {

namespace {

constexpr const char* kOp = "sanity_check";

std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double mean_rank = (static_cast<double>(i) + static_cast<double>(j)) / 2;
    for (std::size_t k = i; k <= j; ++k) r[order[k]] = mean_rank;
    i = j + 1;
  }
  return r;
}

// New random weights for every parameter below `m`: a module's >= 2-D "weight" and its "bias"
// by PyTorch's default layer initialisation, any other parameter U(-1, 1).
void reinitialise(nn::Module& m, Generator& g) {
  NoGradGuard ng;
  for (auto& [name, sub] : m.named_modules()) {
    const NamedTensors own = sub->named_parameters(false);
    auto find = [&](const std::string& key) {
      for (auto& [k, t] : own)
        if (k == key) return t;
      return Tensor();
    };
    const Tensor w = find("weight"), b = find("bias");
    const bool layer = w.defined() && w.dim() >= 2;
    if (layer) nn::init::default_layer_init_(w, b, g);
    for (auto& [k, t] : own)
      if (!(layer && (t.same(w) || (b.defined() && t.same(b))))) nn::init::uniform_(t, -1, 1, g);
  }
}

}  // namespace

double rank_correlation(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined() || a.numel() != b.numel() || a.numel() < 2)
    fail("rank_correlation", "expected two tensors with the same number (>= 2) of elements");
  NoGradGuard ng;
  const auto ra = ranks(a.to(DType::f64).to(kCPU).contiguous().to_vector<double>());
  const auto rb = ranks(b.to(DType::f64).to(kCPU).contiguous().to_vector<double>());
  const double n = static_cast<double>(ra.size()), mean_rank = (n - 1) / 2;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < ra.size(); ++i) {
    const double da = ra[i] - mean_rank, db = rb[i] - mean_rank;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  // a constant map (all ties) has no ordering to agree with: no correlation
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

std::vector<SanityStep> cascading_randomization(nn::Module& model, const Tensor& x, const Tensor& target,
                                                const std::vector<std::string>& layers, const ExplainOptions& o) {
  const Tensor t = detail::check_inputs(x, target, kOp);
  if (layers.empty()) fail(kOp, "no layers to re-initialise");
  for (auto& l : layers) model.submodule(l);  // every name checked before anything changes
  NamedTensors saved;
  {
    NoGradGuard ng;
    for (auto& [k, p] : model.named_parameters()) saved.emplace_back(k, p.detach().clone());
  }
  auto restore = [&] {
    NoGradGuard ng;
    auto params = model.named_parameters();
    for (std::size_t i = 0; i < params.size(); ++i) params[i].second.detach().copy_(saved[i].second);
  };
  std::vector<SanityStep> steps;
  try {
    const Explanation ref = explain(model, x, t, o);
    Generator g(o.seed + 1);
    for (const auto& layer : layers) {
      reinitialise(model.submodule(layer), g);
      const Explanation now = explain(model, x, t, o);
      SanityStep s{layer, {}};
      for (const auto& [m, map] : ref.maps) {
        NoGradGuard ng;
        double total = 0;
        for (std::int64_t i = 0; i < x.size(0); ++i)
          total += rank_correlation(abs(map.select(0, i)), abs(now.maps.at(m).select(0, i)));
        s.rank_corr[m] = total / static_cast<double>(x.size(0));
      }
      steps.push_back(std::move(s));
    }
  } catch (...) {
    restore();
    throw;
  }
  restore();
  return steps;
}

}  // namespace fovea::explain
