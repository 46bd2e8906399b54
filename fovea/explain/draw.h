#pragma once
// Drawing for figures: an RGB canvas with a 5x9 bitmap font, colormaps, overlays and tile grids.
// Images are u8 tensors (C,H,W), C = 1 (grey) or 3 (RGB), as io/image.h reads and writes them.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fovea/core/tensor.h"

namespace fovea::explain {

struct Rgb {
  std::uint8_t r, g, b;
};

// The font's metrics at scale 1: glyph cell 5x9, capitals 7 rows tall, 6 px per character.
inline constexpr int kGlyphW = 5, kGlyphRows = 9, kCapH = 7, kAdvance = 6;

bool is_utf8_continuation(char c);
// Printed width in characters: one per UTF-8 code point.
std::size_t text_width(std::string_view s);
// Pixel width of text at a scale.
int text_px(std::string_view s, int scale);

// An RGB raster stored planar, as the (3,H,W) tensor it becomes; drawing is clipped to it.
class Canvas {
 public:
  Canvas(int w, int h, Rgb background = {255, 255, 255});
  int width() const { return w_; }
  int height() const { return h_; }

  void fill(int x, int y, int w, int h, Rgb c);
  // Horizontal text has its top-left corner at (x, y). Upward text reads bottom to top (turned a
  // quarter counterclockwise) and starts at its bottom-left corner (x, y). Characters outside
  // printable ASCII print as '?'.
  void text(int x, int y, std::string_view s, int scale, Rgb c, bool upward = false);
  // Copies an image (u8 (C,H,W), C 1 or 3) with its top-left corner at (x, y), each pixel
  // drawn as a scale x scale square.
  void blit(int x, int y, const Tensor& img, int scale = 1);

  Tensor tensor() const;  // u8 (3,H,W)

 private:
  int w_, h_;
  std::vector<std::uint8_t> px_;
};

enum class Colormap { jet, viridis, grey };
// "jet", "viridis", "grey" (or "gray"); anything else throws naming the choices.
Colormap parse_colormap(const std::string& name);
std::string colormap_name(Colormap c);
// v in [0, 1] (clamped): jet as MATLAB's, viridis as matplotlib's (interpolated from 9 stops).
Rgb colormap(Colormap c, double v);

// m: (H,W) or (1,H,W), values in [0, 1] -> u8 (3,H,W)
Tensor apply_colormap(const Tensor& m, Colormap c);
// (1 - alpha) image + alpha colormap(m); image: u8 (C,H,W), m: (H,W) or (1,H,W) of the same
// size, in [0, 1] -> u8 (3,H,W)
Tensor overlay(const Tensor& image, const Tensor& m, Colormap c, double alpha);
// (C,H,W) -> u8 (1,H',W'): the channels as a grid of tiles `pad` pixels apart, each scaled
// on its own from its minimum (black) to its maximum (white); cols 0 chooses a near-square grid.
Tensor tile_grid(const Tensor& maps, int cols = 0, int pad = 1);
// The same tiles, each `scale` times larger under its channel number (0..C-1), with `title`
// (the layer and its shape) above the grid -> u8 (1,H',W')
Tensor labelled_tile_grid(const Tensor& maps, const std::string& title, int scale);
// u8 (C,H,W) enlarged by a whole factor, each pixel a factor x factor square
Tensor enlarge(const Tensor& img, int factor);
// Maps any real tensor to [0, 1]: (v - min) / (max - min), all zeros when max == min.
Tensor normalize01(const Tensor& m);
// Signed maps (gradients) to [0, 1] around grey: 0.5 + v / (2 max |v|).
Tensor normalize_signed(const Tensor& m);

}  // namespace fovea::explain
