#pragma once
// Pictures of explanations: one map as an image, the article's figure (one row per image,
// columns input | vanilla | guided | deconvnet | Grad-CAM | guided Grad-CAM), the raw maps as
// safetensors, and feature maps as tile grids.
#include <string>
#include <vector>

#include "fovea/explain/draw.h"
#include "fovea/explain/explain.h"

namespace fovea::explain {

struct RenderOptions {
  Colormap colormap = Colormap::jet;
  double alpha = 0.5;           // Grad-CAM and occlusion overlays on the input
  Reduce reduce = Reduce::max;  // gradient maps' channels; none: signed, RGB for colour inputs
  int min_cell = 112;           // images smaller than this are enlarged by a whole factor
};

// (N,C,H,W) model input -> u8 (C,H,W) of image i scaled to [0, 255] (for inputs given as
// tensors, with no image file to show)
Tensor display_image(const Tensor& x, std::int64_t i);
// Method m's map of image i as u8 (3,H,W): gradient maps reduced and scaled to [0, 1] then
// coloured; Grad-CAM and occlusion coloured over `image` (u8 (C,H,W), the image as shown).
Tensor render_map(const Explanation& e, Method m, std::int64_t i, const Tensor& image, const RenderOptions& o = {});

struct FigureRow {
  Tensor image;                    // u8 (C,H,W), as shown in the first column
  std::string label;               // printed above the row
  const Explanation* e = nullptr;  // the maps
  std::int64_t index = 0;          // the image's place in e
};
// The figure as u8 (3,H,W): titled columns, input first, then the methods in the order given.
Tensor figure(const std::vector<FigureRow>& rows, const std::vector<Method>& methods, const RenderOptions& o = {});

// Raw maps as safetensors: one tensor per method (its name), plus "logits" and "target".
void save_maps(const std::string& path, const Explanation& e);

}  // namespace fovea::explain
