// Deletion and insertion curves (Petsiuk, Das and Saenko 2018, "RISE", section 4.1) and the
// average drop / increase in confidence (Chattopadhay et al. 2018, section 5.1) (faithfulness.h).
#include "fovea/explain/faithfulness.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "fovea/autograd/grad_mode.h"
#include "fovea/explain/detail.h"
#include "fovea/ops/ops.h"

namespace fovea::explain {

namespace {

constexpr const char* kOp = "faithfulness";

// Rows of perturbed images (each C*H*W floats) go through the model in batches; the class's
// softmax probability of each row lands in its slot.
class Prober {
 public:
  Prober(nn::Module& model, const Tensor& like, std::int64_t batch)
      : model_(model), like_(like), batch_(batch), row_(like.numel() / like.size(0)) {}

  void push(const std::vector<float>& image, std::int64_t cls, float* slot) {
    buf_.insert(buf_.end(), image.begin(), image.end());
    cls_.push_back(cls);
    slots_.push_back(slot);
    if (static_cast<std::int64_t>(slots_.size()) == batch_) flush();
  }

  void flush() {
    if (slots_.empty()) return;
    const auto b = static_cast<std::int64_t>(slots_.size());
    const Tensor in =
        from_vector<float>(buf_, {b, like_.size(1), like_.size(2), like_.size(3)}).to(like_.dtype()).to(like_.device());
    const Tensor p = softmax(model_(in), 1).to(DType::f32).to(kCPU).contiguous();
    if (p.dim() != 2 || p.size(0) != b) fail(kOp, "the model must return logits (N,K), got {}", shape_str(p.shape()));
    const auto v = p.to_vector<float>();
    for (std::int64_t r = 0; r < b; ++r) {
      if (cls_[r] < 0 || cls_[r] >= p.size(1)) fail(kOp, "target class {} is outside [0, {})", cls_[r], p.size(1));
      *slots_[r] = v[static_cast<std::size_t>(r * p.size(1) + cls_[r])];
    }
    buf_.clear();
    cls_.clear();
    slots_.clear();
  }

 private:
  nn::Module& model_;
  Tensor like_;
  std::int64_t batch_, row_;
  std::vector<float> buf_;
  std::vector<std::int64_t> cls_;
  std::vector<float*> slots_;
};

// (Σ arr - arr_0 / 2 - arr_S / 2) / S: the trapezoid area over x in [0, 1]
double auc(const float* curve, std::int64_t steps) {
  double s = 0;
  for (std::int64_t k = 0; k <= steps; ++k) s += curve[k];
  return (s - curve[0] / 2.0 - curve[steps] / 2.0) / static_cast<double>(steps);
}

std::vector<float> cpu_floats(const Tensor& t) {
  return t.detach().to(DType::f32).to(kCPU).contiguous().to_vector<float>();
}

}  // namespace

Tensor pixel_importance(const Tensor& map, Reduce r) {
  if (!map.defined() || map.dim() != 4)
    fail(kOp, "expected a map (N,C,H,W), got {}", map.defined() ? shape_str(map.shape()) : "undefined");
  NoGradGuard ng;
  if (map.size(1) == 1) return map.detach();
  return reduce_channels(map.detach(), r == Reduce::none ? Reduce::max : r);
}

Tensor gaussian_blur(const Tensor& x, std::int64_t kernel, double sigma) {
  if (x.dim() != 4) fail("gaussian_blur", "expected (N,C,H,W), got {}", shape_str(x.shape()));
  if (kernel < 1 || kernel % 2 == 0 || !(sigma > 0))
    fail("gaussian_blur", "kernel must be odd and >= 1 and sigma > 0, got {} and {}", kernel, sigma);
  std::vector<double> g(static_cast<std::size_t>(kernel));
  for (std::int64_t i = 0; i < kernel; ++i) {
    const double d = static_cast<double>(i - kernel / 2);
    g[static_cast<std::size_t>(i)] = std::exp(-d * d / (2 * sigma * sigma));
  }
  const double total = std::accumulate(g.begin(), g.end(), 0.0);
  const std::int64_t c = x.size(1);
  std::vector<float> w;
  for (std::int64_t ch = 0; ch < c; ++ch)
    for (double a : g)
      for (double b : g) w.push_back(static_cast<float>(a * b / (total * total)));
  NoGradGuard ng;
  const Tensor weight = from_vector<float>(w, {c, 1, kernel, kernel}).to(x.dtype()).to(x.device());
  return conv2d(x.detach(), weight, {}, {.padding = kernel / 2, .groups = c});
}

Tensor random_map(const Tensor& x, std::uint64_t seed) {
  if (x.dim() != 4) fail(kOp, "expected an input (N,C,H,W), got {}", shape_str(x.shape()));
  Generator g(seed);
  return rand({x.size(0), 1, x.size(2), x.size(3)}, {}, g);
}

Faithfulness faithfulness(nn::Module& model, const Tensor& x, const Tensor& target, const Tensor& map,
                          const FaithfulnessOptions& o) {
  const Tensor t = detail::check_inputs(x, target, kOp);
  if (o.steps < 1) fail(kOp, "steps must be >= 1, got {}", o.steps);
  if (o.forward_batch < 1) fail(kOp, "forward batch must be >= 1, got {}", o.forward_batch);
  const Tensor imp = pixel_importance(map, o.reduce);
  const std::int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), px = h * w, s = o.steps;
  if (imp.size(0) != n || imp.size(2) != h || imp.size(3) != w)
    fail(kOp, "the map {} does not match the input {}", shape_str(map.shape()), shape_str(x.shape()));
  detail::Scope scope(model);
  NoGradGuard ng;
  const auto xv = cpu_floats(x), bv = cpu_floats(gaussian_blur(x)), iv = cpu_floats(imp);
  const auto mv = cpu_floats(detail::scale01(imp.to(DType::f32)));
  const auto tv = t.to(kCPU).to_vector<std::int64_t>();
  std::vector<float> del(static_cast<std::size_t>(n * (s + 1))), ins(del.size()), prob(static_cast<std::size_t>(n)),
      masked(prob.size());
  Prober probe(model, x, o.forward_batch);
  const auto img = static_cast<std::size_t>(c * px);
  for (std::int64_t i = 0; i < n; ++i) {
    const float* xi = xv.data() + i * c * px;
    const float* mi = mv.data() + i * px;
    std::vector<float> plain(xi, xi + img), cut(img),
        grow(bv.begin() + static_cast<std::ptrdiff_t>(i * c * px),
             bv.begin() + static_cast<std::ptrdiff_t>((i + 1) * c * px));
    probe.push(plain, tv[i], &prob[static_cast<std::size_t>(i)]);
    for (std::size_t j = 0; j < img; ++j) cut[j] = xi[j] * mi[j % static_cast<std::size_t>(px)];
    probe.push(cut, tv[i], &masked[static_cast<std::size_t>(i)]);
    // pixels, most important first (ties in raster order)
    std::vector<std::int64_t> order(static_cast<std::size_t>(px));
    std::iota(order.begin(), order.end(), 0);
    const float* ii = iv.data() + i * px;
    std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return ii[a] > ii[b]; });
    cut = plain;
    std::int64_t done = 0;
    for (std::int64_t k = 0; k <= s; ++k) {
      const std::int64_t upto = (k * px + s / 2) / s;
      for (; done < upto; ++done)
        for (std::int64_t ch = 0; ch < c; ++ch) {
          const auto at = static_cast<std::size_t>(ch * px + order[static_cast<std::size_t>(done)]);
          cut[at] = 0;
          grow[at] = xi[at];
        }
      probe.push(cut, tv[i], &del[static_cast<std::size_t>(i * (s + 1) + k)]);
      probe.push(grow, tv[i], &ins[static_cast<std::size_t>(i * (s + 1) + k)]);
    }
  }
  probe.flush();
  Faithfulness f;
  std::vector<double> da(static_cast<std::size_t>(n)), ia(da.size());
  double drop = 0, increase = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto u = static_cast<std::size_t>(i);
    da[u] = auc(del.data() + i * (s + 1), s);
    ia[u] = auc(ins.data() + i * (s + 1), s);
    drop += prob[u] > 0 ? std::max(0.f, prob[u] - masked[u]) / prob[u] : 0.0;
    increase += masked[u] > prob[u];
  }
  f.deletion = from_vector<float>(del, {n, s + 1});
  f.insertion = from_vector<float>(ins, {n, s + 1});
  f.deletion_auc = from_vector<double>(da, {n});
  f.insertion_auc = from_vector<double>(ia, {n});
  f.probability = from_vector<float>(prob, {n});
  f.masked = from_vector<float>(masked, {n});
  f.mean_deletion_auc = std::accumulate(da.begin(), da.end(), 0.0) / static_cast<double>(n);
  f.mean_insertion_auc = std::accumulate(ia.begin(), ia.end(), 0.0) / static_cast<double>(n);
  f.average_drop = 100 * drop / static_cast<double>(n);
  f.increase = 100 * increase / static_cast<double>(n);
  return f;
}

std::vector<MethodFaithfulness> evaluate(nn::Module& model, const Tensor& x, const Explanation& e,
                                         const std::vector<Method>& methods, const FaithfulnessOptions& o,
                                         bool random_control) {
  std::vector<MethodFaithfulness> out;
  for (Method m : methods) {
    auto it = e.maps.find(m);
    if (it == e.maps.end()) fail(kOp, "the explanation has no {} map", method_name(m));
    out.push_back({method_name(m), faithfulness(model, x, e.target, it->second, o)});
  }
  if (random_control) out.push_back({"random", faithfulness(model, x, e.target, random_map(x), o)});
  return out;
}

nlohmann::ordered_json faithfulness_json(const std::vector<MethodFaithfulness>& scores, const Tensor& target,
                                         const FaithfulnessOptions& o, const std::vector<std::string>& names) {
  using nlohmann::ordered_json;
  ordered_json j;
  j["protocol"] = {
      {"score", "softmax probability of the target class"},
      {"deletion", "pixels set to 0 (all channels), most important first; area under the curve, lower is better"},
      {"insertion", "pixels put back into the blurred input (Gaussian, 11 px, sigma 5); higher is better"},
      {"average_drop",
       "100 mean(max(0, p - p_masked) / p), p_masked on the input times the map scaled to [0, 1]; "
       "lower is better"},
      {"increase", "100 mean(p_masked > p); higher is better"},
      {"steps", o.steps}};
  const auto t = target.to(kCPU).to_vector<std::int64_t>();
  ordered_json methods = ordered_json::array();
  for (const auto& [name, f] : scores) {
    ordered_json m{{"method", name},
                   {"deletion_auc", f.mean_deletion_auc},
                   {"insertion_auc", f.mean_insertion_auc},
                   {"average_drop", f.average_drop},
                   {"increase", f.increase},
                   {"images", f.deletion.size(0)}};
    NoGradGuard ng;
    m["deletion_curve"] = mean(f.deletion, {0}).to_vector<float>();
    m["insertion_curve"] = mean(f.insertion, {0}).to_vector<float>();
    if (!names.empty()) {
      const auto da = f.deletion_auc.to_vector<double>(), ia = f.insertion_auc.to_vector<double>();
      const auto p = f.probability.to_vector<float>(), pm = f.masked.to_vector<float>();
      ordered_json per = ordered_json::array();
      for (std::size_t i = 0; i < da.size(); ++i)
        per.push_back({{"image", i < names.size() ? names[i] : std::to_string(i)},
                       {"target", t.at(i)},
                       {"probability", p[i]},
                       {"masked_probability", pm[i]},
                       {"deletion_auc", da[i]},
                       {"insertion_auc", ia[i]}});
      m["per_image"] = per;
    }
    methods.push_back(m);
  }
  j["methods"] = methods;
  return j;
}

}  // namespace fovea::explain
