#pragma once
// What a model needs besides its weights to classify an image file: the input it takes, the
// normalisation and the class names. A checkpoint's configuration holds them; `fovea export`
// writes them into an ONNX file's metadata_props and `fovea predict` reads them back
// (docs/onnx.md, "Metadata").
#include <string>
#include <utility>
#include <vector>

#include "fovea/data/transforms.h"
#include "fovea/onnx/import.h"
#include "fovea/train/config.h"

namespace fovea::train {

struct Preprocess {
  Shape input{};                       // (C,H,W) the model takes; {} when unknown
  std::vector<double> mean{}, std{};   // per channel, after pixel / 255; empty: none
  std::vector<std::string> classes{};  // empty: unknown
};

Preprocess preprocess_of(const RunConfig& config);
// The metadata keys fovea.input ("1x28x28"), fovea.mean and fovea.std (JSON arrays),
// fovea.classes (a JSON array of names) and fovea.preprocess (the formula, for people).
std::vector<std::pair<std::string, std::string>> onnx_metadata(const Preprocess& p);
// The keys above from an ONNX file; the input falls back to the shape the file declares for its
// first input. A malformed value is an error naming the file and the key.
Preprocess preprocess_of(const onnx::ModelInfo& info, const std::string& path);
// to_tensor (pixel / 255), resize to p.input when given, normalize when mean is given
data::Transform transform_of(const Preprocess& p);

}  // namespace fovea::train
