#pragma once
// Network spec files: a sequential network described in JSON, for users who do not write C++.
//   {"input": [1, 30, 30], "layers": [{"type": "conv2d", "out": 10, "kernel": 5},
//    {"type": "maxpool2d", "kernel": 2}, {"type": "flatten"}, {"type": "linear", "out": 200}]}
// Input channels and features are inferred from the shapes; errors name the layer and field.
#include <string>

#include "fovea/nn/nn.h"

namespace fovea::models {

struct Spec {
  Shape input;  // (C,H,W)
  std::shared_ptr<nn::Sequential> net;
  Shape output;  // per-sample output shape
};

// `source` names the text in errors (the file path).
Spec parse_spec(const std::string& json_text, const std::string& source);
Spec load_spec(const std::string& path);
bool is_spec_path(const std::string& model);  // ends with .json

}  // namespace fovea::models
