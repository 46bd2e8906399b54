#pragma once
// Pretrained weights for transfer learning: read from a fovea checkpoint, a state dict in
// safetensors (torchvision's converted with tools/torch2safetensors.py) or an ONNX file, and
// loaded into a model by name, the layers whose shape differs (a head for other classes) left
// as they are; a new head for num_classes.
#include <string>
#include <vector>

#include "fovea/nn/module.h"

namespace fovea::train {

// The weights a file holds, under the model's state-dict names: a checkpoint's "model.*"
// tensors without the prefix, a safetensors state dict as it is, an ONNX model's initialisers
// under its imported module's names.
NamedTensors read_pretrained(const std::string& path);

struct PretrainedReport {
  std::string source;                   // where in the file the weights were ("" for a plain state dict)
  std::vector<std::string> loaded;      // copied
  std::vector<std::string> mismatched;  // same name, other shape: left as initialised
  std::vector<std::string> missing;     // in the model, not in the file
  std::vector<std::string> unused;      // in the file, not in the model
  std::vector<std::string> skipped;     // under the skipped path (a new head)
  std::string str() const;              // one line of counts, and the names of what was not loaded
};
// Copies every tensor whose name and shape match, except those under the module path `skip`
// (a new head); throws when none does (the wrong file or model) or when a tensor is not
// floating-point where the model's is.
PretrainedReport load_pretrained(nn::Module& model, const std::string& path, const std::string& skip = "");

// The classifier: the last Linear layer, or for networks without one (SqueezeNet) the last
// 1x1 convolution.
std::string find_head(nn::Module& model);
// Replaces that layer (a path, or "auto" for find_head) by a freshly initialised one of the
// same kind with num_classes outputs; returns the path.
std::string new_head(nn::Module& model, const std::string& path, std::int64_t num_classes);

}  // namespace fovea::train
