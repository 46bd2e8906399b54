// Gradient maps (vanilla saliency, guided backprop, deconvnet, SmoothGrad), the gradient CAMs
// (Grad-CAM, Grad-CAM++, LayerCAM) and the combined explain() that shares passes between them.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>

#include "fovea/autograd/grad_mode.h"
#include "fovea/explain/detail.h"
#include "fovea/ops/ops.h"

namespace fovea::explain {

namespace detail {

Scope::Scope(nn::Module& m) : eval_(m) {
  for (auto& p : m.parameters()) {
    params_.emplace_back(p, p.requires_grad());
    p.requires_grad_(false);
  }
}

Scope::~Scope() {
  for (auto& [p, on] : params_) p.requires_grad_(on);
}

Tensor check_inputs(const Tensor& x, const Tensor& target, const char* op) {
  if (!x.defined() || x.dim() != 4)
    fail(op, "expected an input (N,C,H,W), got {}", x.defined() ? shape_str(x.shape()) : "undefined");
  if (!is_floating(x.dtype())) fail(op, "expected a floating input, got {}", dtype_name(x.dtype()));
  if (!target.defined() || target.dim() != 1 || target.size(0) != x.size(0))
    fail(op, "expected one target class per image ({}), got {}", x.size(0),
         target.defined() ? shape_str(target.shape()) : "undefined");
  if (is_floating(target.dtype())) fail(op, "target classes must be integers, got {}", dtype_name(target.dtype()));
  return target.to(DType::i64).to(x.device());
}

Tensor target_scores(const Tensor& logits, const Tensor& target, Score s, const char* op) {
  if (logits.dim() != 2 || logits.size(0) != target.size(0))
    fail(op, "the model must return logits (N,K) with N = {}, got {}", target.size(0), shape_str(logits.shape()));
  const std::int64_t n = logits.size(0), k = logits.size(1);
  const auto t = target.to(kCPU).to_vector<std::int64_t>();
  std::vector<float> onehot(static_cast<std::size_t>(n * k), 0.f);
  for (std::int64_t i = 0; i < n; ++i) {
    if (t[i] < 0 || t[i] >= k) fail(op, "target class {} of image {} is outside [0, {})", t[i], i, k);
    onehot[static_cast<std::size_t>(i * k + t[i])] = 1.f;
  }
  const Tensor mask = from_vector<float>(onehot, {n, k}).to(logits.dtype()).to(logits.device());
  return sum(mul(s == Score::sigmoid ? sigmoid(logits) : logits, mask), {1});
}

Tensor class_score(const Tensor& logits, const Tensor& target, Score s, const char* op) {
  return sum(target_scores(logits, target, s, op));
}

void check_options(const ExplainOptions& o, const char* op) {
  if (o.batch < 1) fail(op, "batch must be >= 1 image, got {}", o.batch);
  if (o.forward_batch < 1) fail(op, "forward batch must be >= 1, got {}", o.forward_batch);
  if (o.smoothgrad_samples < 1) fail(op, "SmoothGrad's samples must be >= 1, got {}", o.smoothgrad_samples);
  if (!(o.smoothgrad_sigma >= 0)) fail(op, "SmoothGrad's sigma must be >= 0, got {}", o.smoothgrad_sigma);
  if (o.ig_steps < 1) fail(op, "integrated gradients' steps must be >= 1, got {}", o.ig_steps);
  if (!(o.layercam_gamma > 0)) fail(op, "LayerCAM's gamma must be > 0, got {}", o.layercam_gamma);
}

Tensor scale01(const Tensor& up) {
  NoGradGuard ng;
  const Tensor lo = min(min(up, 3, true), 2, true), hi = max(max(up, 3, true), 2, true);  // (N,1,1,1)
  const Tensor range = hi - lo;
  // flat maps (range 0) become all zeros rather than 0/0
  return where(gt(range, scalar_like(0, range)), div(up - lo, maximum(range, scalar_like(1e-30, range))),
               zeros_like(up));
}

Tensor image_noise(const Shape& shape, std::uint64_t seed, std::int64_t first, bool normal, const Tensor& like) {
  NoGradGuard ng;
  const Shape one(shape.begin() + 1, shape.end());
  std::vector<Tensor> parts;
  for (std::int64_t i = 0; i < shape[0]; ++i) {
    Generator g(seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(first + i));
    parts.push_back(normal ? randn(one, {}, g) : rand(one, {}, g));
  }
  return stack(parts, 0).to(like.dtype()).to(like.device());
}

Tensor smooth_grad(nn::Module& model, const Tensor& x, const Tensor& t, const ExplainOptions& o, std::int64_t first) {
  Tensor sigma;  // (N,1,1,1): sigma * (max - min) of each image
  {
    NoGradGuard ng;
    const Tensor flat = x.detach().flatten(1);
    sigma = ((max(flat, 1, true) - min(flat, 1, true)) * o.smoothgrad_sigma).view({x.size(0), 1, 1, 1});
  }
  // sample s of image i: noise from image i's generator, drawn in sample order
  Shape all = x.shape();
  all.insert(all.begin() + 1, o.smoothgrad_samples);
  const Tensor noise = image_noise(all, o.seed, first, true, x);  // (N,S,C,H,W)
  Tensor total;
  for (int i = 0; i < o.smoothgrad_samples; ++i) {
    Tensor noisy;
    {
      NoGradGuard ng;
      noisy = x.detach() + noise.select(1, i) * sigma;
    }
    Tensor g = Pass(model, noisy, t, o.score).input_grad(ReluGradRule::standard, true);
    total = total.defined() ? add(total, g) : g;
  }
  return total / static_cast<double>(o.smoothgrad_samples);
}

Tensor finish_cam(const Tensor& cam, Pair size) {
  NoGradGuard ng;
  return scale01(upsample(cam, {.size = size, .mode = UpsampleMode::bilinear, .align_corners = false}));
}

LayerCapture::LayerCapture(nn::Module& model, const std::string& layer) : requested_(layer) {
  if (!layer.empty()) {
    hooks_.post(model.submodule(layer), [this, layer](nn::Module&, const Tensor&, const Tensor& out) {
      name_ = layer;
      out_ = out;
      return Tensor();
    });
    return;
  }
  for (auto& [name, m] : model.named_modules()) {
    if (name.empty()) continue;
    hooks_.post(*m, [this, name = name](nn::Module&, const Tensor&, const Tensor& out) {
      if (out.dim() == 4 && out.size(2) * out.size(3) > 1) {
        name_ = name;
        out_ = out;
      }
      return Tensor();
    });
  }
}

std::pair<std::string, Tensor> LayerCapture::result(const char* op) const {
  if (!out_.defined()) {
    if (!requested_.empty()) fail(op, "layer '{}' did not run in the forward pass", requested_);
    fail(op, "no module gives a spatial output (4-D with more than one position); name a layer");
  }
  if (out_.dim() != 4)
    fail(op, "layer '{}' gives {}, Grad-CAM needs a spatial output (N,K,h,w)", name_, shape_str(out_.shape()));
  return {name_, out_};
}

Pass::Pass(nn::Module& model, const Tensor& x, const Tensor& target, Score s,
           const std::vector<const LayerCapture*>& layers)
    : x_(x.detach().clone().requires_grad_(true)), target_(target), s_(s) {
  EnableGradGuard eg;
  logits_ = model(x_);
  score_ = class_score(logits_, target, s, "explain");
  for (const auto* capture : layers) {
    auto c = std::make_unique<Caught>();
    std::tie(c->name, c->act) = capture->result("explain");
    Caught* raw = c.get();
    c->hook = c->act.register_hook([raw](const Tensor& g) {
      if (!raw->grad.defined()) raw->grad = g.clone();
      return Tensor();
    });
    layers_.push_back(std::move(c));
  }
}

Pass::~Pass() {
  for (auto& c : layers_)
    if (c->hook >= 0) c->act.remove_hook(c->hook);
}

Tensor Pass::input_grad(ReluGradRule rule, bool last) {
  ReluGradRuleGuard guard(rule);
  x_.set_grad(Tensor());
  score_.backward(Tensor(), !last);
  Tensor g = x_.grad();
  if (!g.defined()) fail("explain", "the score does not depend on the input");
  return g;
}

std::pair<Tensor, Tensor> Pass::layer(std::size_t i, const char* op) const {
  const Caught& c = *layers_.at(i);
  if (!c.grad.defined()) fail(op, "layer '{}' received no gradient", c.name);
  return {c.act.detach(), c.grad};
}

Tensor Pass::scores() const {
  NoGradGuard ng;
  return target_scores(logits_.detach(), target_, s_, "explain");
}

}  // namespace detail

namespace {

constexpr const char* kOp = "explain";

// The CAM that every gradient CAM method shares: activations A and gradients dA (N,K,h,w).
void check_cam_inputs(const Tensor& a, const Tensor& g, const char* op) {
  if (a.dim() != 4 || a.shape() != g.shape())
    fail(op, "activations {} and gradients {} must be the same (N,K,h,w)", shape_str(a.shape()), shape_str(g.shape()));
}

bool has(const std::vector<Method>& ms, Method m) { return std::find(ms.begin(), ms.end(), m) != ms.end(); }

// The methods that read the CAM layer's activations and gradient from the standard pass.
bool wants_gradient_cam(const std::vector<Method>& ms, const ExplainOptions& o) {
  return has(ms, Method::gradcam) || has(ms, Method::guided_gradcam) || has(ms, Method::gradcam_pp) ||
         (has(ms, Method::layercam) && o.layercam_layers.empty());
}

// explain() on one batch of at most o.batch images; t checked.
Explanation explain_batch(nn::Module& model, const Tensor& x, const Tensor& t, const ExplainOptions& o,
                          std::int64_t first) {
  const auto& ms = o.methods;
  const bool cam = wants_gradient_cam(ms, o);
  const bool fuse = has(ms, Method::layercam) && !o.layercam_layers.empty();
  const bool standard = has(ms, Method::vanilla) || cam || fuse;
  const bool guided = has(ms, Method::guided) || has(ms, Method::guided_gradcam);
  const bool deconv = has(ms, Method::deconvnet);
  const Pair size{x.size(2), x.size(3)};

  Explanation e;
  e.target = t;
  detail::Scope scope(model);
  Tensor score_cam_act;  // the CAM layer's activations, when a pass caught them
  if (standard || guided || deconv) {
    // captures: [the CAM layer], then LayerCAM's layers
    std::vector<std::unique_ptr<detail::LayerCapture>> captures;
    if (cam) captures.push_back(std::make_unique<detail::LayerCapture>(model, o.layer));
    if (fuse)
      for (const auto& l : o.layercam_layers) captures.push_back(std::make_unique<detail::LayerCapture>(model, l));
    std::vector<const detail::LayerCapture*> caught;
    for (auto& c : captures) caught.push_back(c.get());
    detail::Pass p(model, x, t, o.score, caught);
    e.logits = p.logits().detach();
    const int passes = standard + guided + deconv;
    int done = 0;
    auto run = [&](ReluGradRule r) { return p.input_grad(r, ++done == passes); };
    Tensor vanilla, guided_map;
    if (standard) vanilla = run(ReluGradRule::standard);
    if (guided) guided_map = run(ReluGradRule::guided);
    if (deconv) e.maps[Method::deconvnet] = run(ReluGradRule::deconvnet);
    if (has(ms, Method::vanilla)) e.maps[Method::vanilla] = vanilla;
    if (has(ms, Method::guided)) e.maps[Method::guided] = guided_map;
    if (cam) {
      const auto [a, g] = p.layer(0, kOp);
      e.layer = p.layer_name(0);
      score_cam_act = a;
      const Tensor c = cam_from(a, g, size);
      if (has(ms, Method::gradcam)) e.maps[Method::gradcam] = c;
      if (has(ms, Method::guided_gradcam)) {
        NoGradGuard ng;
        e.maps[Method::guided_gradcam] = mul(guided_map, c);
      }
      if (has(ms, Method::gradcam_pp)) e.maps[Method::gradcam_pp] = cam_pp_from(a, g, size);
      if (has(ms, Method::layercam) && !fuse) e.maps[Method::layercam] = layer_cam_from({{a, g}}, size);
    }
    if (fuse) {
      std::vector<std::pair<Tensor, Tensor>> layers;
      for (std::size_t i = cam ? 1 : 0; i < caught.size(); ++i) layers.push_back(p.layer(i, kOp));
      e.maps[Method::layercam] = layer_cam_from(layers, size, o.layercam_gamma);
    }
  }
  if (has(ms, Method::scorecam)) {
    if (!score_cam_act.defined()) {
      detail::LayerCapture capture(model, o.layer);
      NoGradGuard ng;
      const Tensor logits = model(x.detach());
      if (!e.logits.defined()) e.logits = logits;
      std::tie(e.layer, score_cam_act) = capture.result(kOp);
    }
    e.maps[Method::scorecam] = detail::score_cam_from(model, x, t, score_cam_act, o);
  }
  if (has(ms, Method::integrated_gradients)) {
    auto ig = detail::integrated(model, x, t, o, first);
    e.maps[Method::integrated_gradients] = ig.attributions;
    e.ig_sum = ig.sum;
    e.ig_score_gap = ig.gap;
  }
  if (has(ms, Method::smoothgrad)) e.maps[Method::smoothgrad] = detail::smooth_grad(model, x, t, o, first);
  if (has(ms, Method::occlusion)) e.maps[Method::occlusion] = occlusion(model, x, t, o);
  if (!e.logits.defined()) {
    NoGradGuard ng;
    e.logits = model(x.detach());
  }
  return e;
}

Tensor cat_defined(const std::vector<Tensor>& parts) {
  return parts.empty() || !parts.front().defined() ? Tensor() : cat(parts, 0);
}

}  // namespace

Tensor cam_from(const Tensor& a, const Tensor& g, Pair size) {
  check_cam_inputs(a, g, "grad_cam");
  NoGradGuard ng;
  const Tensor w = mean(g, {2, 3}, true);                            // (N,K,1,1)
  return detail::finish_cam(relu(sum(mul(w, a), {1}, true)), size);  // (N,1,h,w) -> (N,1,size)
}

Tensor cam_pp_from(const Tensor& a, const Tensor& g, Pair size) {
  check_cam_inputs(a, g, "grad_cam_pp");
  NoGradGuard ng;
  const Tensor g2 = square(g), g3 = mul(g2, g);
  const Tensor denom = add(g2 * 2.0, mul(sum(a, {2, 3}, true), g3));  // (N,K,h,w)
  const Tensor nonzero = ne(denom, scalar_like(0, denom));
  const Tensor alpha = where(nonzero, div(g2, where(nonzero, denom, ones_like(denom))), zeros_like(denom));
  const Tensor w = sum(mul(alpha, relu(g)), {2, 3}, true);  // (N,K,1,1)
  return detail::finish_cam(relu(sum(mul(w, a), {1}, true)), size);
}

Tensor layer_cam_from(const std::vector<std::pair<Tensor, Tensor>>& layers, Pair size, double gamma) {
  if (layers.empty()) fail("layer_cam", "no layers");
  NoGradGuard ng;
  std::vector<Tensor> maps;  // (N,1,h,w) each
  for (const auto& [a, g] : layers) {
    check_cam_inputs(a, g, "layer_cam");
    maps.push_back(relu(sum(mul(relu(g), a), {1}, true)));
  }
  if (maps.size() == 1) return detail::finish_cam(maps.front(), size);
  Tensor fused;
  for (const Tensor& m : maps) {
    const Tensor hi = max(max(m, 3, true), 2, true);  // (N,1,1,1)
    const Tensor scaled = tanh(div(m, maximum(hi, scalar_like(1e-30, hi))) * gamma);
    const Tensor up = upsample(scaled, {.size = size, .mode = UpsampleMode::bilinear, .align_corners = false});
    fused = fused.defined() ? maximum(fused, up) : up;
  }
  return detail::scale01(fused);
}

Tensor gradient_map(nn::Module& model, const Tensor& x, const Tensor& target, ReluGradRule rule, Score s) {
  const Tensor t = detail::check_inputs(x, target, "saliency");
  detail::Scope scope(model);
  return detail::Pass(model, x, t, s).input_grad(rule, true);
}

namespace {

// One CAM method alone, through explain().
Tensor single(nn::Module& model, const Tensor& x, const Tensor& target, ExplainOptions o, Method m) {
  o.methods = {m};
  return explain(model, x, target, o).maps.at(m);
}

}  // namespace

Tensor grad_cam(nn::Module& model, const Tensor& x, const Tensor& target, const std::string& layer, Score s) {
  ExplainOptions o;
  o.layer = layer;
  o.score = s;
  return single(model, x, target, o, Method::gradcam);
}

Tensor grad_cam_pp(nn::Module& model, const Tensor& x, const Tensor& target, const ExplainOptions& o) {
  return single(model, x, target, o, Method::gradcam_pp);
}

Tensor layer_cam(nn::Module& model, const Tensor& x, const Tensor& target, const ExplainOptions& o) {
  return single(model, x, target, o, Method::layercam);
}

Tensor score_cam(nn::Module& model, const Tensor& x, const Tensor& target, const ExplainOptions& o) {
  return single(model, x, target, o, Method::scorecam);
}

Tensor integrated_gradients(nn::Module& model, const Tensor& x, const Tensor& target, const ExplainOptions& o) {
  return single(model, x, target, o, Method::integrated_gradients);
}

Tensor smooth_grad(nn::Module& model, const Tensor& x, const Tensor& target, const ExplainOptions& o) {
  return single(model, x, target, o, Method::smoothgrad);
}

Explanation explain(nn::Module& model, const Tensor& x, const Tensor& target, const ExplainOptions& o) {
  const Tensor t = detail::check_inputs(x, target, kOp);
  if (o.methods.empty()) fail(kOp, "no methods asked for");
  detail::check_options(o, kOp);
  const std::int64_t n = x.size(0);
  if (const Tensor& b = o.ig_baseline_input; b.defined())
    if (b.dim() != 4 || (b.size(0) != 1 && b.size(0) != n) || b.size(1) != x.size(1) || b.size(2) != x.size(2) ||
        b.size(3) != x.size(3))
      fail("integrated_gradients", "the baseline must be (N,C,H,W) or (1,C,H,W) like the input {}, got {}",
           shape_str(x.shape()), shape_str(b.shape()));
  if (n <= o.batch) return explain_batch(model, x, t, o, 0);
  std::vector<Explanation> parts;
  for (std::int64_t b = 0; b < n; b += o.batch) {
    const std::int64_t e = std::min(n, b + o.batch);
    parts.push_back(explain_batch(model, x.slice(0, b, e), t.slice(0, b, e), o, b));
  }
  auto gather = [&](auto get) {
    std::vector<Tensor> v;
    for (auto& p : parts) v.push_back(get(p));
    return cat_defined(v);
  };
  Explanation out;
  out.layer = parts.front().layer;
  out.target = t;
  out.logits = gather([](const Explanation& p) { return p.logits; });
  out.ig_sum = gather([](const Explanation& p) { return p.ig_sum; });
  out.ig_score_gap = gather([](const Explanation& p) { return p.ig_score_gap; });
  for (const auto& [m, _] : parts.front().maps)
    out.maps[m] = gather([m = m](const Explanation& p) { return p.maps.at(m); });
  return out;
}

std::vector<Explanation> explain_each(nn::Module& model, const Tensor& x, const Tensor& targets,
                                      const ExplainOptions& o) {
  if (!targets.defined() || targets.dim() != 2)
    fail(kOp, "expected targets (N,T), several classes per image, got {}",
         targets.defined() ? shape_str(targets.shape()) : "undefined");
  std::vector<Explanation> out;
  for (std::int64_t c = 0; c < targets.size(1); ++c)
    out.push_back(explain(model, x, targets.select(1, c).contiguous(), o));
  return out;
}

Tensor predicted_classes(nn::Module& model, const Tensor& x, std::int64_t top, std::int64_t batch) {
  if (x.dim() != 4) fail(kOp, "expected an input (N,C,H,W), got {}", shape_str(x.shape()));
  if (top < 1 || batch < 1) fail(kOp, "top ({}) and batch ({}) must be >= 1", top, batch);
  nn::EvalGuard eval(model);
  NoGradGuard ng;
  std::vector<Tensor> logits;
  for (std::int64_t b = 0; b < x.size(0); b += batch)
    logits.push_back(model(x.slice(0, b, std::min(x.size(0), b + batch))));
  return top_classes(cat(logits, 0), top);
}

Tensor top_classes(const Tensor& logits, std::int64_t top) {
  if (logits.dim() != 2) fail(kOp, "the model must return logits (N,K), got {}", shape_str(logits.shape()));
  if (top < 1) fail(kOp, "top ({}) must be >= 1", top);
  if (top > logits.size(1)) fail(kOp, "top {} is more than the model's {} classes", top, logits.size(1));
  const auto v = logits.detach().to(DType::f32).to(kCPU).contiguous().to_vector<float>();
  const std::int64_t n = logits.size(0), k = logits.size(1);
  std::vector<std::int64_t> out;
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<std::int64_t> order(static_cast<std::size_t>(k));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](auto p, auto q) { return v[i * k + p] > v[i * k + q]; });
    out.insert(out.end(), order.begin(), order.begin() + top);
  }
  return from_vector<std::int64_t>(out, {n, top});
}

double completeness_error(const Explanation& e, std::int64_t i) {
  if (!e.ig_sum.defined()) fail(kOp, "the explanation has no integrated gradients");
  const double s = e.ig_sum.select(0, i).item(), gap = e.ig_score_gap.select(0, i).item();
  return std::abs(s - gap) / std::max(std::abs(gap), 1e-12);
}

}  // namespace fovea::explain
