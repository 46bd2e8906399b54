#pragma once
// Output sizes and parameter counts of the layer types, per spatial axis. The formulas are the
// ones PyTorch documents (https://pytorch.org/docs/stable/nn.html); docs/analysis.md derives them.
#include <cstdint>

namespace fovea::analysis {

// Convolution: floor((in + pad_begin + pad_end - dilation (kernel - 1) - 1) / stride) + 1
std::int64_t conv_output_size(std::int64_t in, std::int64_t kernel, std::int64_t stride = 1,
                              std::int64_t pad_begin = 0, std::int64_t pad_end = 0, std::int64_t dilation = 1);
// Transposed convolution: (in - 1) stride - 2 pad + dilation (kernel - 1) + output_padding + 1
std::int64_t conv_transpose_output_size(std::int64_t in, std::int64_t kernel, std::int64_t stride = 1,
                                        std::int64_t pad = 0, std::int64_t dilation = 1, std::int64_t output_padding = 0);
// Pooling: the convolution formula with symmetric padding, rounded up with ceil_mode, where the
// last window must start inside the input or its left padding.
std::int64_t pool_output_size(std::int64_t in, std::int64_t kernel, std::int64_t stride, std::int64_t pad = 0,
                              bool ceil_mode = false, std::int64_t dilation = 1);

// Parameters: weights out * in / groups * kH * kW, plus out biases
std::int64_t conv2d_params(std::int64_t in, std::int64_t out, std::int64_t kh, std::int64_t kw, std::int64_t groups = 1,
                           bool bias = true);
// in * out weights plus out biases
std::int64_t linear_params(std::int64_t in, std::int64_t out, bool bias = true);
// weight and bias per channel (the running statistics are buffers, not parameters)
std::int64_t batch_norm_params(std::int64_t channels, bool affine = true);

}  // namespace fovea::analysis
