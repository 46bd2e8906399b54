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

struct SpecOptions {
  // A spec whose layers hold more parameters is refused before anything is allocated (2^32: 16 GiB
  // of f32). A spec is also refused when its parameters alone, as f32, pass the machine's memory.
  std::int64_t max_parameters = std::int64_t{1} << 32;
};

// `source` names the text in errors (the file path). The network is built on the default device;
// its shapes and size are checked first on the meta device.
Spec parse_spec(const std::string& json_text, const std::string& source, const SpecOptions& o = {});
Spec load_spec(const std::string& path, const SpecOptions& o = {});
bool is_spec_path(const std::string& model);  // ends with .json

}  // namespace fovea::models
