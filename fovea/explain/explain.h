#pragma once
// What a network looks at: gradient maps (vanilla saliency, guided backprop, deconvnet,
// SmoothGrad, integrated gradients), class activation maps (Grad-CAM, guided Grad-CAM,
// Grad-CAM++, Score-CAM, LayerCAM), occlusion sensitivity and feature maps; how faithful a map
// is lives in faithfulness.h. The model runs in eval mode; its parameters' requires_grad flags and .grad are
// left as they were (explain never computes weight gradients).
//
// Shapes: x (N,C,H,W) is the model's input (already normalised), target (N) i64 the class
// explained for each image. Gradient maps come back raw, (N,C,H,W); reduce_channels turns them
// into (N,1,H,W). CAMs are (N,1,H,W) in [0, 1]. Several classes per image: targets (N,T) and
// explain_each.
#include <map>
#include <string>
#include <vector>

#include "fovea/nn/module.h"
#include "fovea/ops/ops.h"

namespace fovea::explain {

enum class Method {
  vanilla,
  guided,
  deconvnet,
  gradcam,
  guided_gradcam,
  smoothgrad,
  occlusion,
  gradcam_pp,
  scorecam,
  layercam,
  integrated_gradients
};
// "vanilla", "guided", "deconv" (or "deconvnet"), "gradcam", "guided-gradcam", "smoothgrad",
// "occlusion", "gradcam++", "scorecam", "layercam", "integrated-gradients" (or "ig"); a
// comma-separated list for parse_methods, where "all" stands for all_methods().
Method parse_method(const std::string& name);
std::vector<Method> parse_methods(const std::string& list);
std::string method_name(Method m);
// the article's five, in its figure's column order
std::vector<Method> default_methods();
// every method, in the figure's column order
std::vector<Method> all_methods();
// gradient maps (N,C,H,W), signed and raw: vanilla, guided, deconvnet, guided Grad-CAM,
// SmoothGrad, integrated gradients; the others are one channel (N,1,H,W)
bool is_gradient_map(Method m);

// Channel reduction of a gradient map: max of |g| (keras-vis), mean of |g|, or none (signed).
enum class Reduce { max, mean, none };
Reduce parse_reduce(const std::string& name);
// g: (N,C,H,W) -> (N,1,H,W) for max / mean; g itself for none
Tensor reduce_channels(const Tensor& g, Reduce r);

// What the gradient is taken of: the class's logit (before softmax, Simonyan et al.), or its
// one-vs-rest probability sigmoid(logit).
enum class Score { logit, sigmoid };

// Integrated gradients' baseline x': zeros (for a normalised input, the data set's mean colour),
// the input blurred (Gaussian, sigma 5 px), or uniform noise over the image's range.
enum class Baseline { zero, blur, uniform };
Baseline parse_baseline(const std::string& name);  // "zero", "blur", "uniform"

struct ExplainOptions {
  std::vector<Method> methods = default_methods();
  // the layer (a module path) of Grad-CAM, guided Grad-CAM, Grad-CAM++, Score-CAM and LayerCAM;
  // empty: default_cam_layer
  std::string layer{};
  // LayerCAM fused over these layers (Jiang et al. 2021, section 3.3); empty: `layer` alone
  std::vector<std::string> layercam_layers{};
  double layercam_gamma = 2;  // the tanh scaling of each layer's map before fusion
  Score score = Score::logit;
  // images per pass: larger batches are split, so memory is bounded by this many images' graph
  std::int64_t batch = 16;
  // perturbed copies per forward pass (occlusion, Score-CAM, integrated gradients)
  std::int64_t forward_batch = 64;
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
  // integrated gradients (Sundararajan et al. 2017): the path integral from the baseline to the
  // input by the trapezoidal rule over `ig_steps` intervals (ig_steps + 1 gradients per image);
  // ig_baseline_input, when defined (N,C,H,W) or (1,C,H,W), replaces ig_baseline
  std::int64_t ig_steps = 50;
  Baseline ig_baseline = Baseline::zero;
  Tensor ig_baseline_input{};
};

struct Explanation {
  Tensor logits;      // (N,K)
  Tensor target;      // (N) i64
  std::string layer;  // the CAM methods' layer, when computed
  // raw maps by method: gradient maps (N,C,H,W); the CAMs (N,1,H,W) in [0, 1]; guided_gradcam
  // (N,C,H,W) = guided * gradcam; occlusion (N,1,H,W) score drops
  std::map<Method, Tensor> maps;
  // integrated gradients' completeness (section 3, axiom): per image (N), the sum of the
  // attributions and score(x) - score(baseline), which it approximates
  Tensor ig_sum, ig_score_gap;
};

// Integrated gradients' completeness error of image i: |sum - gap| / max(|gap|, 1e-12)
double completeness_error(const Explanation& e, std::int64_t i);

// Every method asked for, in as few passes as possible: one forward and one backward per
// gradient rule for each batch of images (vanilla and the gradient CAMs share theirs; guided
// Grad-CAM reuses both); Score-CAM, integrated gradients and occlusion batch their many forward
// passes. target (N): a class per image; images beyond o.batch are done in several passes.
Explanation explain(nn::Module& model, const Tensor& x, const Tensor& target, const ExplainOptions& o = {});
// Several classes per image: targets (N,T) -> T explanations, the t-th of column t.
std::vector<Explanation> explain_each(nn::Module& model, const Tensor& x, const Tensor& targets,
                                      const ExplainOptions& o = {});
// Each image's `top` most likely classes, most likely first -> (N,top) i64 (eval mode, batched by
// `batch` images)
Tensor predicted_classes(nn::Module& model, const Tensor& x, std::int64_t top = 1, std::int64_t batch = 64);
// The same from logits already computed (N,K) -> (N,top) i64; ties keep the lower class first
Tensor top_classes(const Tensor& logits, std::int64_t top = 1);

// The single methods. rule: standard (vanilla), guided, deconvnet.
Tensor gradient_map(nn::Module& model, const Tensor& x, const Tensor& target,
                    ReluGradRule rule = ReluGradRule::standard, Score s = Score::logit);
Tensor grad_cam(nn::Module& model, const Tensor& x, const Tensor& target, const std::string& layer = "",
                Score s = Score::logit);
Tensor smooth_grad(nn::Module& model, const Tensor& x, const Tensor& target, const ExplainOptions& o = {});
Tensor occlusion(nn::Module& model, const Tensor& x, const Tensor& target, const ExplainOptions& o = {});
// Grad-CAM++ (Chattopadhay et al. 2018), Score-CAM (Wang et al. 2020) and LayerCAM (Jiang et al.
// 2021) on o.layer (LayerCAM: fused over o.layercam_layers when given) -> (N,1,H,W) in [0, 1]
Tensor grad_cam_pp(nn::Module& model, const Tensor& x, const Tensor& target, const ExplainOptions& o = {});
Tensor score_cam(nn::Module& model, const Tensor& x, const Tensor& target, const ExplainOptions& o = {});
Tensor layer_cam(nn::Module& model, const Tensor& x, const Tensor& target, const ExplainOptions& o = {});
// Integrated gradients (N,C,H,W); the completeness figures come with explain()
Tensor integrated_gradients(nn::Module& model, const Tensor& x, const Tensor& target, const ExplainOptions& o = {});

// The CAMs from a layer's activations A and the score's gradient dA, both (N,K,h,w), each
// bilinearly up-sampled to `size` and scaled per image to [0, 1] (all zeros when flat) ->
// (N,1,size):
// Grad-CAM: ReLU(sum_k mean_ij(dA_k) A_k)
Tensor cam_from(const Tensor& activations, const Tensor& grads, Pair size);
// Grad-CAM++: ReLU(sum_k w_k A_k), w_k = sum_ij a_kij ReLU(dA_kij) with
// a_kij = dA^2 / (2 dA^2 + sum_ab(A_kab) dA^3) (0 where that denominator is 0), the paper's
// closed form for the exponential of the score
Tensor cam_pp_from(const Tensor& activations, const Tensor& grads, Pair size);
// LayerCAM of one layer: ReLU(sum_k ReLU(dA_k) * A_k). Several layers (activations and
// gradients in the same order, any sizes): each layer's map divided by its maximum, scaled by
// tanh(gamma * .), up-sampled, then fused by the element-wise maximum.
Tensor layer_cam_from(const std::vector<std::pair<Tensor, Tensor>>& layers, Pair size, double gamma = 2);

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
