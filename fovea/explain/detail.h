#pragma once
// Pieces shared by the explain files (not part of the public API).
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
// logits (N,K) -> the sum over images of each one's score for its target class
Tensor class_score(const Tensor& logits, const Tensor& target, Score s, const char* op);

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

}  // namespace fovea::explain::detail
