#pragma once
// Parameter counts of the layer types. The output-size formulas belong to the ops that use them
// (fovea::conv_output_size, conv_transpose_output_size, pool_output_size in ops/ops.h);
// docs/analysis.md derives both.
#include <cstdint>

namespace fovea::analysis {

// Parameters: weights out * in / groups * kH * kW, plus out biases
std::int64_t conv2d_params(std::int64_t in, std::int64_t out, std::int64_t kh, std::int64_t kw, std::int64_t groups = 1,
                           bool bias = true);
// in * out weights plus out biases
std::int64_t linear_params(std::int64_t in, std::int64_t out, bool bias = true);
// weight and bias per channel (the running statistics are buffers, not parameters)
std::int64_t batch_norm_params(std::int64_t channels, bool affine = true);

}  // namespace fovea::analysis
