#pragma once
// Option structs for the ops, meant for designated initialisers:
//   conv2d(x, w, b, {.stride = 2, .padding = 3})
#include <array>
#include <cstdint>
#include <initializer_list>

namespace fovea {

// A (height, width) pair that also accepts one number for both.
struct Pair {
  std::int64_t h = 0, w = 0;
  Pair() = default;
  Pair(std::int64_t v) : h(v), w(v) {}  // NOLINT: implicit on purpose
  Pair(std::int64_t hh, std::int64_t ww) : h(hh), w(ww) {}
  bool operator==(const Pair&) const = default;
};

// Convolution padding: a number, (h, w), explicit sides (top, bottom, left, right), or by name.
//   valid: none; same: output = ceil(input / stride), the odd pixel at bottom/right (as TensorFlow);
//   full: dilation * (kernel - 1) on each side.
enum class PadMode { explicit_, valid, same, full };
struct Padding {
  PadMode mode = PadMode::explicit_;
  std::int64_t top = 0, bottom = 0, left = 0, right = 0;
  Padding() = default;
  Padding(std::int64_t v) : top(v), bottom(v), left(v), right(v) {}  // NOLINT
  Padding(std::int64_t h, std::int64_t w) : top(h), bottom(h), left(w), right(w) {}
  Padding(std::int64_t t, std::int64_t b, std::int64_t l, std::int64_t r) : top(t), bottom(b), left(l), right(r) {}
  Padding(PadMode m) : mode(m) {}          // NOLINT
  static Padding parse(const char* name);  // "valid", "same", "full"
};

struct Conv2dOptions {
  Pair stride = 1;
  Padding padding = 0;
  Pair dilation = 1;
  std::int64_t groups = 1;
};

// Transposed convolution (the gradient of conv2d with respect to its input). Padding is
// symmetric per axis, as PyTorch's; output_padding adds rows/columns at the bottom/right only.
struct ConvTranspose2dOptions {
  Pair stride = 1;
  Pair padding = 0;
  Pair output_padding = 0;  // < max(stride, dilation) per axis
  Pair dilation = 1;
  std::int64_t groups = 1;
};

struct Pool2dOptions {
  Pair kernel = 2;
  Pair stride = 0;  // 0: same as kernel
  Pair padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;  // avg pooling only
};

// A (height, width) pair of real factors that also accepts one number for both.
struct Scale {
  double h = 0, w = 0;
  Scale() = default;
  Scale(double v) : h(v), w(v) {}  // NOLINT: implicit on purpose
  Scale(double hh, double ww) : h(hh), w(ww) {}
  bool operator==(const Scale&) const = default;
};

enum class UpsampleMode { nearest, bilinear };

// Resampling as torch.nn.functional.interpolate: give the output size, or a scale factor
// (output = floor(input * scale), and the source index uses 1/scale as PyTorch does).
struct UpsampleOptions {
  Pair size = 0;      // (H', W'); 0: from scale
  Scale scale = 0.0;  // used when size is 0
  UpsampleMode mode = UpsampleMode::nearest;
  bool align_corners = false;  // bilinear only: corner pixels of input and output coincide
};

// Local response normalisation (AlexNet); size is the channel window n (required).
struct LrnOptions {
  std::int64_t size = 0;
  double alpha = 1e-4;
  double beta = 0.75;
  double k = 1.0;
};

struct BatchNormOptions {
  bool training = false;
  double momentum = 0.1;
  double eps = 1e-5;
};

enum class Reduction { none, mean, sum };

struct CrossEntropyOptions {
  Reduction reduction = Reduction::mean;
  std::int64_t ignore_index = -100;
  double label_smoothing = 0.0;
};

struct NllLossOptions {
  Reduction reduction = Reduction::mean;
  std::int64_t ignore_index = -100;
};

}  // namespace fovea
