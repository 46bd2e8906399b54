#include "fovea/analysis/formulas.h"

#include "fovea/core/error.h"

namespace fovea::analysis {

std::int64_t conv2d_params(std::int64_t in, std::int64_t out, std::int64_t kh, std::int64_t kw, std::int64_t g,
                           bool bias) {
  if (g < 1 || in % g || out % g) fail("conv2d_params", "channels {} and {} must divide by groups {}", in, out, g);
  return out * (in / g) * kh * kw + (bias ? out : 0);
}

std::int64_t linear_params(std::int64_t in, std::int64_t out, bool bias) { return in * out + (bias ? out : 0); }

std::int64_t batch_norm_params(std::int64_t c, bool affine) { return affine ? 2 * c : 0; }

}  // namespace fovea::analysis
