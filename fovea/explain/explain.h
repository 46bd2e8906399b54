#pragma once
// What a network looks at: gradient maps (vanilla saliency, guided backprop, deconvnet,
// SmoothGrad), class activation maps (Grad-CAM, guided Grad-CAM), occlusion sensitivity and
// feature maps. The model runs in eval mode; its parameters' requires_grad flags and .grad are
// left as they were (explain never computes weight gradients).
//
// Shapes: x (N,C,H,W) is the model's input (already normalised), target (N) i64 the class
// explained for each image. Gradient maps come back raw, (N,C,H,W); reduce_channels turns them
// into (N,1,H,W). CAMs are (N,1,H,W) in [0, 1].
#include <map>
#include <string>
#include <vector>

#include "fovea/nn/module.h"
#include "fovea/ops/ops.h"

namespace fovea::explain {

enum class Method { vanilla, guided, deconvnet, gradcam, guided_gradcam, smoothgrad, occlusion };
// "vanilla", "guided", "deconv" (or "deconvnet"), "gradcam", "guided-gradcam", "smoothgrad",
// "occlusion"; a comma-separated list for parse_methods.
Method parse_method(const std::string& name);
std::vector<Method> parse_methods(const std::string& list);
std::string method_name(Method m);
// the article's five, in its figure's column order
std::vector<Method> default_methods();

// Channel reduction of a gradient map: max of |g| (keras-vis), mean of |g|, or none (signed).
enum class Reduce { max, mean, none };
Reduce parse_reduce(const std::string& name);
// g: (N,C,H,W) -> (N,1,H,W) for max / mean; g itself for none
Tensor reduce_channels(const Tensor& g, Reduce r);

// What the gradient is taken of: the class's logit (before softmax, Simonyan et al.), or its
// one-vs-rest probability sigmoid(logit).
enum class Score { logit, sigmoid };

struct ExplainOptions {
  std::vector<Method> methods = default_methods();
  std::string layer{};  // Grad-CAM's layer (a module path); empty: default_cam_layer
  Score score = Score::logit;
  // SmoothGrad (Smilkov et al. 2017): the mean gradient over `samples` copies of the input with
  // Gaussian noise of std sigma * (max - min) of each image
  int smoothgrad_samples = 25;
  double smoothgrad_sigma = 0.15;
  std::uint64_t seed = 0;
  // occlusion (Zeiler and Fergus 2013): a square of `fill` slid over the input; the map is the
  // score's drop, averaged over the windows covering each pixel. 0: about 1/7 of the side, half
  // the window.
  std::int64_t occlusion_window = 0;
  std::int64_t occlusion_stride = 0;
  double occlusion_fill = 0;
  std::int64_t occlusion_batch = 64;  // occluded copies per forward pass
};

struct Explanation {
  Tensor logits;      // (N,K)
  Tensor target;      // (N) i64
  std::string layer;  // Grad-CAM's layer, when computed
  // raw maps by method: gradient maps (N,C,H,W); gradcam (N,1,H,W) in [0, 1]; guided_gradcam
  // (N,C,H,W) = guided * gradcam; occlusion (N,1,H,W) score drops
  std::map<Method, Tensor> maps;
};

// Every method asked for, in as few passes as possible: one forward and one backward per
// gradient rule (vanilla and Grad-CAM share theirs; guided Grad-CAM reuses both).
Explanation explain(nn::Module& model, const Tensor& x, const Tensor& target, const ExplainOptions& o = {});

// The single methods. rule: standard (vanilla), guided, deconvnet.
Tensor gradient_map(nn::Module& model, const Tensor& x, const Tensor& target,
                    ReluGradRule rule = ReluGradRule::standard, Score s = Score::logit);
Tensor grad_cam(nn::Module& model, const Tensor& x, const Tensor& target, const std::string& layer = "",
                Score s = Score::logit);
Tensor smooth_grad(nn::Module& model, const Tensor& x, const Tensor& target, const ExplainOptions& o = {});
Tensor occlusion(nn::Module& model, const Tensor& x, const Tensor& target, const ExplainOptions& o = {});

// Grad-CAM from a layer's activations A and the score's gradient dA, both (N,K,h,w): weights
// the spatial mean of dA, ReLU of the weighted sum of A, bilinear up-sampling to `size`,
// each map scaled to [0, 1] (all zeros when flat) -> (N,1,size)
Tensor cam_from(const Tensor& activations, const Tensor& grads, Pair size);

// The last module, in the order modules finish, whose output is 4-D with more than one spatial
// position: the last convolutional stage, never the global pool (keras-vis's blank-map bug).
std::string default_cam_layer(nn::Module& model, const Tensor& x);

// Activations of the named modules (the last call's output where a module runs more than once).
std::map<std::string, Tensor> feature_maps(nn::Module& model, const Tensor& x, const std::vector<std::string>& layers);

// The sanity check of Adebayo et al. 2018 (cascading randomisation): re-initialise the given
// modules one after another, from the top of the network down, recomputing the maps after each
// step; the result is the Spearman rank correlation of |map| before and after, averaged over
// the images, per method and step. The model's weights are restored afterwards.
struct SanityStep {
  std::string layer;                   // the module re-initialised at this step (and all before it)
  std::map<Method, double> rank_corr;  // mean over images
};
std::vector<SanityStep> cascading_randomization(nn::Module& model, const Tensor& x, const Tensor& target,
                                                const std::vector<std::string>& layers_top_down,
                                                const ExplainOptions& o = {});
// Spearman's rank correlation of two equally sized tensors (ties get their mean rank).
double rank_correlation(const Tensor& a, const Tensor& b);

}  // namespace fovea::explain
