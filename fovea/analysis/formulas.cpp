#include "fovea/analysis/formulas.h"

#include "fovea/core/error.h"

namespace fovea::analysis {

std::int64_t conv_output_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t pb, std::int64_t pe,
                              std::int64_t d) {
  if (in < 1 || k < 1 || s < 1 || d < 1 || pb < 0 || pe < 0)
    fail("conv_output_size", "sizes must be positive and padding non-negative (in {}, kernel {}, stride {}, dilation {})",
         in, k, s, d);
  const std::int64_t span = in + pb + pe - d * (k - 1) - 1;
  if (span < 0) fail("conv_output_size", "input {} with padding {}+{} is smaller than the dilated kernel {}", in, pb, pe, d * (k - 1) + 1);
  return span / s + 1;
}

std::int64_t conv_transpose_output_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p, std::int64_t d,
                                        std::int64_t op) {
  if (in < 1 || k < 1 || s < 1 || d < 1 || p < 0 || op < 0)
    fail("conv_transpose_output_size", "sizes must be positive and padding non-negative");
  const std::int64_t out = (in - 1) * s - 2 * p + d * (k - 1) + op + 1;
  if (out < 1) fail("conv_transpose_output_size", "padding {} leaves no output for input {}", p, in);
  return out;
}

std::int64_t pool_output_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p, bool ceil_mode,
                              std::int64_t d) {
  if (in < 1 || k < 1 || s < 1 || d < 1 || p < 0) fail("pool_output_size", "sizes must be positive and padding non-negative");
  const std::int64_t span = in + 2 * p - d * (k - 1) - 1;
  if (span < 0) fail("pool_output_size", "input {} with padding {} is smaller than the kernel {}", in, p, k);
  std::int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

std::int64_t conv2d_params(std::int64_t in, std::int64_t out, std::int64_t kh, std::int64_t kw, std::int64_t g, bool bias) {
  if (g < 1 || in % g || out % g) fail("conv2d_params", "channels {} and {} must divide by groups {}", in, out, g);
  return out * (in / g) * kh * kw + (bias ? out : 0);
}

std::int64_t linear_params(std::int64_t in, std::int64_t out, bool bias) { return in * out + (bias ? out : 0); }

std::int64_t batch_norm_params(std::int64_t c, bool affine) { return affine ? 2 * c : 0; }

}  // namespace fovea::analysis
