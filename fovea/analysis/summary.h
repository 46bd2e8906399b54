#pragma once
// Network analysis by a shape-only pass: the module tree runs on `meta` tensors (no arithmetic)
// with hooks that record, per module, the output shape, parameters, multiply-adds, activation
// memory and the receptive-field geometry of Araujo, Norris and Sim, "Computing Receptive
// Fields of Convolutional Neural Networks" (Distill, 2019, https://distill.pub/2019/computing-receptive-fields).
#include <cstdint>
#include <string>
#include <vector>

#include "fovea/nn/module.h"

namespace fovea::analysis {

// Receptive field along one axis, in input pixels.
struct Axis {
  double rf = 1;     // receptive field size
  double jump = 1;   // effective stride: input pixels between neighbouring units
  double start = 0;  // centre of the first unit's receptive field (input pixel coordinates)
  double padding() const { return (rf - 1) / 2 - start; }  // Araujo et al.'s effective padding
};

struct Geometry {
  Axis h, w;
  bool global = false;  // after flatten / linear / global pooling: every unit sees the whole input
};

struct LayerRow {
  std::string name;  // "features.0"; "" for the network itself
  std::string type;  // "Conv2d"
  int depth = 0;     // 0 for the network, 1 for its children, ...
  bool leaf = false;
  Shape output{};                          // with the batch dim (1)
  std::int64_t params = 0, trainable = 0;  // this module and its children, shared ones once
  std::int64_t macs = 0;                   // multiply-adds of conv / linear layers (others 0)
  std::int64_t activation_bytes = 0;       // its output
  Geometry geometry{};
};

struct Summary {
  Shape input;                 // (C,H,W)
  std::vector<LayerRow> rows;  // pre-order: a module before its children
  std::int64_t params = 0, trainable = 0, macs = 0, activation_bytes = 0, param_bytes = 0;
  Geometry output_geometry;
  // layers whose window is larger than the map they get (the input is too small for the
  // network: most of what they see is padding), "layer2.0.conv1 (Conv2d, 3x3 window) gets 1x1 maps"
  std::vector<std::string> warnings;
};

// Runs `m` on a meta tensor (1,C,H,W) in eval mode. m may live on any device; on meta nothing
// is computed at all. For a module with several paths (a residual or a concatenation), the
// geometry is the largest receptive field over the paths. A layer that cannot take what reaches
// it is an error naming the layer: "[summary] classifier.0 (Linear) does not fit the input
// 1x8x8: [linear] ...".
Summary summarize(nn::Module& m, const Shape& input_chw);

enum class Format { table, json, markdown };
// max_depth < 0: every row
std::string format_summary(const Summary& s, Format f, int max_depth = -1);
// the receptive-field columns only (leaves), for `fovea rf`
std::string format_receptive_fields(const Summary& s, Format f);

}  // namespace fovea::analysis
