#pragma once
// Pieces shared by the explain files (not part of the public API).
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fovea/explain/explain.h"

namespace fovea::explain::detail {

// For the life of the scope: eval mode, and no parameter requires grad (so no weight gradient
// is computed and no .grad changes); both restored afterwards.
class Scope {
 public:
  explicit Scope(nn::Module& m);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  nn::EvalGuard eval_;
  std::vector<std::pair<Tensor, bool>> params_;
};

// x: (N,C,H,W) floating; target: (N) integer -> target as i64 on x's device
Tensor check_inputs(const Tensor& x, const Tensor& target, const char* op);
// logits (N,K) -> (N) each image's score for its target class
Tensor target_scores(const Tensor& logits, const Tensor& target, Score s, const char* op);
// logits (N,K) -> the sum over images of each one's score for its target class
Tensor class_score(const Tensor& logits, const Tensor& target, Score s, const char* op);
// The options every method reads, checked once.
void check_options(const ExplainOptions& o, const char* op);

// maps (N,1,H,W) -> each image's map scaled to [0, 1]; a flat map becomes all zeros
Tensor scale01(const Tensor& m);
// a CAM (N,1,h,w) -> bilinearly up-sampled to `size` (align_corners false), then scale01
Tensor finish_cam(const Tensor& cam, Pair size);

// Captures a module's output during a forward pass: the named module's, or for an empty name
// the default CAM layer's (default_cam_layer). The hooks are removed with the object.
class LayerCapture {
 public:
  LayerCapture(nn::Module& model, const std::string& layer);
  LayerCapture(const LayerCapture&) = delete;
  LayerCapture& operator=(const LayerCapture&) = delete;
  // after the forward pass: the module's name and output; throws when nothing qualified
  std::pair<std::string, Tensor> result(const char* op) const;

 private:
  nn::ScopedHooks hooks_;
  std::string requested_;
  std::string name_;
  Tensor out_;
};

// One forward pass with the input as a leaf; backward passes then give its gradient under any
// ReLU rule (the graph is kept until the last). The captured layers' activations get the
// gradient of the first backward pass.
class Pass {
 public:
  Pass(nn::Module& model, const Tensor& x, const Tensor& target, Score s,
       const std::vector<const LayerCapture*>& layers = {});
  ~Pass();
  Pass(const Pass&) = delete;
  Pass& operator=(const Pass&) = delete;

  Tensor input_grad(ReluGradRule rule, bool last);
  // layer i's name, activations and their gradient (N,K,h,w), after a backward pass
  const std::string& layer_name(std::size_t i) const { return layers_.at(i)->name; }
  std::pair<Tensor, Tensor> layer(std::size_t i, const char* op) const;
  const Tensor& logits() const { return logits_; }
  // (N) each image's score for its class
  Tensor scores() const;

 private:
  struct Caught {
    std::string name;
    Tensor act, grad;
    int hook = -1;
  };
  Tensor x_, target_, logits_, score_;
  Score s_;
  std::vector<std::unique_ptr<Caught>> layers_;  // stable addresses for the hooks
};

// Noise for images first..first+N of a call, each image from its own generator (seeded by `seed`
// and its index), so the noise does not depend on how the images are batched: (N, shape...)
Tensor image_noise(const Shape& shape, std::uint64_t seed, std::int64_t first, bool normal, const Tensor& like);

// SmoothGrad of images first..first+N of a call.
Tensor smooth_grad(nn::Module& model, const Tensor& x, const Tensor& target, const ExplainOptions& o,
                   std::int64_t first);

// Score-CAM's maps (N,1,size) from the layer's activations act (N,K,h,w) of x.
Tensor score_cam_from(nn::Module& model, const Tensor& x, const Tensor& target, const Tensor& act,
                      const ExplainOptions& o);

// Integrated gradients with its completeness figures: attributions (N,C,H,W), sum (N), gap (N).
struct Integrated {
  Tensor attributions, sum, gap;
};
Integrated integrated(nn::Module& model, const Tensor& x, const Tensor& target, const ExplainOptions& o,
                      std::int64_t first);

}  // namespace fovea::explain::detail
