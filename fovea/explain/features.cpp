// Feature maps, the default Grad-CAM layer, method names and channel reduction.
#include <algorithm>
#include <sstream>

#include "fovea/autograd/grad_mode.h"
#include "fovea/explain/detail.h"
#include "fovea/ops/ops.h"

namespace fovea::explain {

namespace {

constexpr std::pair<Method, const char*> kNames[] = {{Method::vanilla, "vanilla"},
                                                     {Method::guided, "guided"},
                                                     {Method::deconvnet, "deconv"},
                                                     {Method::gradcam, "gradcam"},
                                                     {Method::guided_gradcam, "guided-gradcam"},
                                                     {Method::smoothgrad, "smoothgrad"},
                                                     {Method::occlusion, "occlusion"},
                                                     {Method::gradcam_pp, "gradcam++"},
                                                     {Method::scorecam, "scorecam"},
                                                     {Method::layercam, "layercam"},
                                                     {Method::integrated_gradients, "integrated-gradients"}};

}  // namespace

Method parse_method(const std::string& name) {
  if (name == "deconvnet") return Method::deconvnet;
  if (name == "ig") return Method::integrated_gradients;
  for (auto& [m, n] : kNames)
    if (name == n) return m;
  std::string known;
  for (auto& [m, n] : kNames) known += (known.empty() ? "" : ", ") + std::string(n);
  fail("explain", "unknown method '{}' ({}, or all)", name, known);
}

std::vector<Method> parse_methods(const std::string& list) {
  std::vector<Method> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty())
      for (Method m : item == "all" ? all_methods() : std::vector<Method>{parse_method(item)})
        if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
  if (out.empty()) fail("explain", "no methods in '{}'", list);
  return out;
}

std::string method_name(Method m) {
  for (auto& [k, n] : kNames)
    if (k == m) return n;
  return "?";
}

std::vector<Method> default_methods() {
  return {Method::vanilla, Method::guided, Method::deconvnet, Method::gradcam, Method::guided_gradcam};
}

std::vector<Method> all_methods() {
  return {Method::vanilla,    Method::guided,   Method::deconvnet, Method::gradcam,    Method::guided_gradcam,
          Method::gradcam_pp, Method::scorecam, Method::layercam,  Method::smoothgrad, Method::integrated_gradients,
          Method::occlusion};
}

bool is_gradient_map(Method m) {
  return m == Method::vanilla || m == Method::guided || m == Method::deconvnet || m == Method::guided_gradcam ||
         m == Method::smoothgrad || m == Method::integrated_gradients;
}

Reduce parse_reduce(const std::string& name) {
  if (name == "max") return Reduce::max;
  if (name == "mean") return Reduce::mean;
  if (name == "none") return Reduce::none;
  fail("explain", "unknown channel reduction '{}' (max, mean, none)", name);
}

Tensor reduce_channels(const Tensor& g, Reduce r) {
  if (g.dim() != 4) fail("reduce_channels", "expected a map (N,C,H,W), got {}", shape_str(g.shape()));
  NoGradGuard ng;
  switch (r) {
    case Reduce::max: return max(abs(g), 1, true);
    case Reduce::mean: return mean(abs(g), {1}, true);
    case Reduce::none: return g;
  }
  return g;
}

std::string default_cam_layer(nn::Module& model, const Tensor& x) {
  detail::Scope scope(model);
  detail::LayerCapture capture(model, "");
  NoGradGuard ng;
  model(x);
  return capture.result("grad_cam").first;
}

std::map<std::string, Tensor> feature_maps(nn::Module& model, const Tensor& x, const std::vector<std::string>& layers) {
  if (layers.empty()) fail("features", "no layers named");
  detail::Scope scope(model);
  std::map<std::string, Tensor> out;
  {
    nn::ScopedHooks hooks;
    for (const auto& name : layers)
      hooks.post(model.submodule(name), [&out, name](nn::Module&, const Tensor&, const Tensor& y) {
        out[name] = y.detach();
        return Tensor();
      });
    NoGradGuard ng;
    model(x);
  }
  for (const auto& name : layers)
    if (!out.count(name)) fail("features", "layer '{}' did not run in the forward pass", name);
  return out;
}

}  // namespace fovea::explain
