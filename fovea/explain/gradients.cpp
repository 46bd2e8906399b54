// Gradient maps (vanilla saliency, guided backprop, deconvnet, SmoothGrad), Grad-CAM and the
// combined explain() that shares passes between them.
#include <algorithm>
#include <optional>
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

Tensor class_score(const Tensor& logits, const Tensor& target, Score s, const char* op) {
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
  return sum(mul(s == Score::sigmoid ? sigmoid(logits) : logits, mask));
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

}  // namespace detail

namespace {

constexpr const char* kOp = "explain";

// One forward pass with the input as a leaf; backward passes then give its gradient under
// any ReLU rule (the graph is kept until the last).
class Pass {
 public:
  Pass(nn::Module& model, const Tensor& x, const Tensor& target, Score s, const detail::LayerCapture* cam)
      : x_(x.detach().clone().requires_grad_(true)) {
    EnableGradGuard eg;
    logits_ = model(x_);
    score_ = detail::class_score(logits_, target, s, kOp);
    if (cam) {
      std::tie(layer_, act_) = cam->result(kOp);
      hook_ = act_.register_hook([this](const Tensor& g) {
        if (!act_grad_.defined()) act_grad_ = g.clone();
        return Tensor();
      });
    }
  }

  ~Pass() {
    if (hook_ >= 0) act_.remove_hook(hook_);
  }
  Pass(const Pass&) = delete;
  Pass& operator=(const Pass&) = delete;

  Tensor input_grad(ReluGradRule rule, bool last) {
    ReluGradRuleGuard guard(rule);
    x_.set_grad(Tensor());
    score_.backward(Tensor(), !last);
    Tensor g = x_.grad();
    if (!g.defined()) fail(kOp, "the score does not depend on the input");
    return g;
  }

  Tensor cam(Pair size) const {
    if (!act_grad_.defined()) fail(kOp, "Grad-CAM's layer '{}' received no gradient", layer_);
    return cam_from(act_.detach(), act_grad_, size);
  }

  const Tensor& logits() const { return logits_; }
  const std::string& layer() const { return layer_; }

 private:
  Tensor x_, logits_, score_, act_, act_grad_;
  std::string layer_;
  int hook_ = -1;
};

}  // namespace

Tensor cam_from(const Tensor& a, const Tensor& g, Pair size) {
  if (a.dim() != 4 || a.shape() != g.shape())
    fail("grad_cam", "activations {} and gradients {} must be the same (N,K,h,w)", shape_str(a.shape()),
         shape_str(g.shape()));
  NoGradGuard ng;
  const Tensor w = mean(g, {2, 3}, true);              // (N,K,1,1)
  const Tensor cam = relu(sum(mul(w, a), {1}, true));  // (N,1,h,w)
  const Tensor up = upsample(cam, {.size = size, .mode = UpsampleMode::bilinear, .align_corners = false});
  const Tensor lo = min(min(up, 3, true), 2, true), hi = max(max(up, 3, true), 2, true);  // (N,1,1,1)
  const Tensor range = hi - lo;
  // flat maps (range 0) become all zeros rather than 0/0
  return where(gt(range, scalar_like(0, range)), div(up - lo, maximum(range, scalar_like(1e-30, range))),
               zeros_like(up));
}

Tensor gradient_map(nn::Module& model, const Tensor& x, const Tensor& target, ReluGradRule rule, Score s) {
  const Tensor t = detail::check_inputs(x, target, "saliency");
  detail::Scope scope(model);
  return Pass(model, x, t, s, nullptr).input_grad(rule, true);
}

Tensor grad_cam(nn::Module& model, const Tensor& x, const Tensor& target, const std::string& layer, Score s) {
  const Tensor t = detail::check_inputs(x, target, "grad_cam");
  detail::Scope scope(model);
  detail::LayerCapture capture(model, layer);
  Pass p(model, x, t, s, &capture);
  p.input_grad(ReluGradRule::standard, true);
  return p.cam({x.size(2), x.size(3)});
}

Tensor smooth_grad(nn::Module& model, const Tensor& x, const Tensor& target, const ExplainOptions& o) {
  const Tensor t = detail::check_inputs(x, target, "smoothgrad");
  if (o.smoothgrad_samples < 1) fail("smoothgrad", "samples must be >= 1, got {}", o.smoothgrad_samples);
  if (!(o.smoothgrad_sigma >= 0)) fail("smoothgrad", "sigma must be >= 0, got {}", o.smoothgrad_sigma);
  detail::Scope scope(model);
  Generator gen(o.seed);
  Tensor sigma;  // (N,1,1,1): sigma * (max - min) of each image
  {
    NoGradGuard ng;
    const Tensor flat = x.detach().flatten(1);
    sigma = ((max(flat, 1, true) - min(flat, 1, true)) * o.smoothgrad_sigma).view({x.size(0), 1, 1, 1});
  }
  Tensor total;
  for (int i = 0; i < o.smoothgrad_samples; ++i) {
    Tensor noisy;
    {
      NoGradGuard ng;
      noisy = x.detach() + randn(x.shape(), {.dtype = x.dtype(), .device = x.device()}, gen) * sigma;
    }
    Tensor g = Pass(model, noisy, t, o.score, nullptr).input_grad(ReluGradRule::standard, true);
    total = total.defined() ? add(total, g) : g;
  }
  return total / static_cast<double>(o.smoothgrad_samples);
}

Explanation explain(nn::Module& model, const Tensor& x, const Tensor& target, const ExplainOptions& o) {
  const Tensor t = detail::check_inputs(x, target, kOp);
  if (o.methods.empty()) fail(kOp, "no methods asked for");
  auto wants = [&](Method m) { return std::find(o.methods.begin(), o.methods.end(), m) != o.methods.end(); };
  const bool cam = wants(Method::gradcam) || wants(Method::guided_gradcam);
  const bool standard = wants(Method::vanilla) || cam;
  const bool guided = wants(Method::guided) || wants(Method::guided_gradcam);
  const bool deconv = wants(Method::deconvnet);
  const Pair size{x.size(2), x.size(3)};

  Explanation e;
  e.target = t;
  {
    detail::Scope scope(model);
    std::optional<detail::LayerCapture> capture;
    if (cam) capture.emplace(model, o.layer);
    Pass p(model, x, t, o.score, cam ? &*capture : nullptr);
    e.logits = p.logits().detach();
    e.layer = p.layer();
    const int passes = standard + guided + deconv;
    int done = 0;
    auto run = [&](ReluGradRule r) { return p.input_grad(r, ++done == passes); };
    Tensor vanilla, guided_map;
    if (standard) vanilla = run(ReluGradRule::standard);
    if (guided) guided_map = run(ReluGradRule::guided);
    if (deconv) e.maps[Method::deconvnet] = run(ReluGradRule::deconvnet);
    if (wants(Method::vanilla)) e.maps[Method::vanilla] = vanilla;
    if (wants(Method::guided)) e.maps[Method::guided] = guided_map;
    if (cam) {
      const Tensor c = p.cam(size);
      if (wants(Method::gradcam)) e.maps[Method::gradcam] = c;
      if (wants(Method::guided_gradcam)) {
        NoGradGuard ng;
        e.maps[Method::guided_gradcam] = mul(guided_map, c);
      }
    }
  }
  if (wants(Method::smoothgrad)) e.maps[Method::smoothgrad] = smooth_grad(model, x, t, o);
  if (wants(Method::occlusion)) e.maps[Method::occlusion] = occlusion(model, x, t, o);
  return e;
}

}  // namespace fovea::explain
