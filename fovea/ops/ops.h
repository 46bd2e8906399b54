#pragma once
// The differentiable functional API. Every op works on any device the backend provides;
// errors name the op: "[conv2d] expected 4-D input (N,C,H,W), got (3,224,224)".
#include <optional>
#include <vector>

#include "fovea/core/generator.h"
#include "fovea/core/tensor.h"
#include "fovea/ops/options.h"

namespace fovea {

// elementwise (elementwise.cpp): NumPy broadcasting; a double operand takes the tensor's dtype
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, double e);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);  // log(1 + x), accurate for small x
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);
Tensor square(const Tensor& x);
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// comparisons give u8 masks (no gradient)
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor scalar_like(double v, const Tensor& like);
// Sums a broadcast gradient back to `shape` (the inverse of broadcasting).
Tensor sum_to(const Tensor& g, const Shape& shape);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator-(const Tensor& x);

// activations (activation.cpp)
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor elu(const Tensor& x, double alpha = 1.0);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor gelu(const Tensor& x);  // exact (erf) form, as PyTorch's default
Tensor hardswish(const Tensor& x);
Tensor erf(const Tensor& x);       // the Gauss error function; gradient 2/sqrt(pi) e^(-x^2)
Tensor softplus(const Tensor& x);  // log(1 + e^x), PyTorch's softplus with beta 1
Tensor softmax(const Tensor& x, std::int64_t dim);
Tensor log_softmax(const Tensor& x, std::int64_t dim);

// The rule relu's backward follows on this thread, read when backward runs (explain.h):
// standard: g (x > 0); guided (Springenberg et al.): max(g, 0) (x > 0); deconvnet (Zeiler and
// Fergus): max(g, 0). It applies to every relu call (modules, reused modules, functional),
// not to ReLU6, leaky_relu or other activations.
enum class ReluGradRule { standard, guided, deconvnet };
ReluGradRule relu_grad_rule();
void set_relu_grad_rule(ReluGradRule r);
class ReluGradRuleGuard {
 public:
  explicit ReluGradRuleGuard(ReluGradRule r) : prev_(relu_grad_rule()) { set_relu_grad_rule(r); }
  ~ReluGradRuleGuard() { set_relu_grad_rule(prev_); }
  ReluGradRuleGuard(const ReluGradRuleGuard&) = delete;
  ReluGradRuleGuard& operator=(const ReluGradRuleGuard&) = delete;

 private:
  ReluGradRule prev_;
};

// Mixed precision (autocast.cpp): under Precision::bf16, conv2d and linear on CUDA tensors of
// f32 compute in bf16 (tensor cores, f32 accumulation) and return f32; their bias is added in
// f32, parameters stay f32 (the master weights) and get f32 gradients. CPU tensors are never
// affected. Thread-local, scoped by AutocastGuard.
enum class Precision { f32, bf16 };
Precision autocast_precision();
class AutocastGuard {
 public:
  explicit AutocastGuard(Precision p);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  Precision prev_;
};

// reductions (reduce.cpp); dims may be negative; empty dims = all
Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim = false);
Tensor max(const Tensor& x);
Tensor max(const Tensor& x, std::int64_t dim, bool keepdim = false);
Tensor min(const Tensor& x);
Tensor min(const Tensor& x, std::int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, std::int64_t dim, bool keepdim = false);
Tensor var(const Tensor& x, const std::vector<std::int64_t>& dims, bool unbiased = true, bool keepdim = false);

// linear algebra (linalg.cpp)
// a: (..., M, K), b: (..., K, N) -> (..., M, N); 1-D operands as in NumPy
Tensor matmul(const Tensor& a, const Tensor& b);
// x: (..., in), w: (out, in), b: (out) -> (..., out)
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = {});

// convolution and pooling (conv.cpp, pool.cpp)
// Output sizes along one spatial axis, the formulas PyTorch documents
// (https://pytorch.org/docs/1.13/nn.html); docs/analysis.md derives them.
// Convolution: floor((in + pad_begin + pad_end - dilation (kernel - 1) - 1) / stride) + 1
std::int64_t conv_output_size(std::int64_t in, std::int64_t kernel, std::int64_t stride = 1, std::int64_t pad_begin = 0,
                              std::int64_t pad_end = 0, std::int64_t dilation = 1);
// Transposed convolution: (in - 1) stride - 2 pad + dilation (kernel - 1) + output_padding + 1
std::int64_t conv_transpose_output_size(std::int64_t in, std::int64_t kernel, std::int64_t stride = 1,
                                        std::int64_t pad = 0, std::int64_t dilation = 1,
                                        std::int64_t output_padding = 0);
// Pooling: the convolution formula with symmetric padding, rounded up with ceil_mode, where the
// last window must start inside the input or its left padding.
std::int64_t pool_output_size(std::int64_t in, std::int64_t kernel, std::int64_t stride, std::int64_t pad = 0,
                              bool ceil_mode = false, std::int64_t dilation = 1);

// x: (N,C,H,W), w: (O,C/g,kH,kW), b: (O) or undefined -> (N,O,H',W')
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b = {}, const Conv2dOptions& o = {});
// Resolves a padding (by name or explicit) for input (H, W), kernel, stride, dilation.
std::array<std::int64_t, 4> resolve_padding(const Padding& p, Pair in, Pair kernel, Pair stride, Pair dilation,
                                            const char* op);
// x: (N,Cin,H,W), w: (Cin,Cout/g,kH,kW), b: (Cout) or undefined -> (N,Cout,H',W') with
// H' = (H - 1) s - 2 p + d (kH - 1) + output_padding + 1
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b = {}, const ConvTranspose2dOptions& o = {});
Tensor max_pool2d(const Tensor& x, const Pool2dOptions& o);
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& o);
// Max pooling that also returns where each maximum came from, as PyTorch's return_indices.
struct PoolWithIndices {
  Tensor values;   // (N,C,H',W')
  Tensor indices;  // (N,C,H',W') i64: h*W + w within each input plane
};
PoolWithIndices max_pool2d_with_indices(const Tensor& x, const Pool2dOptions& o);
// x, indices: (N,C,h,w) -> (N,C,output_size.h,output_size.w): each value at its index, zeros elsewhere
Tensor max_unpool2d(const Tensor& x, const Tensor& indices, Pair output_size);
// x: (N,C,H,W) -> (N,C,out.h,out.w); window i along an axis: [floor(i H / out), ceil((i + 1) H / out))
Tensor adaptive_avg_pool2d(const Tensor& x, Pair out);
Tensor adaptive_max_pool2d(const Tensor& x, Pair out);
// x: (N,C,H,W) -> (N,C,1,1)
Tensor global_avg_pool2d(const Tensor& x);

// resampling (resample.cpp): x: (N,C,H,W) -> (N,C,H',W'), torch.nn.functional.interpolate
Tensor upsample(const Tensor& x, const UpsampleOptions& o);

// normalisation (norm.cpp): x: (N,C,...), running stats and affine params: (C) or undefined.
// In training the running stats are updated in place (unbiased variance, PyTorch's convention).
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, const BatchNormOptions& o = {});
Tensor dropout(const Tensor& x, double p, bool training, Generator& g = default_generator());
// x: (N,C,...): x / (k + alpha/n * sum of x^2 over a window of n channels)^beta
Tensor local_response_norm(const Tensor& x, const LrnOptions& o);
// x: (..., *normalized) -> same: statistics over the last normalized_dims dims (biased variance);
// weight and bias (optional) have the normalised shape. torch.nn.functional.layer_norm.
Tensor layer_norm(const Tensor& x, std::int64_t normalized_dims, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);
// x: (N,C,...) -> same: statistics per sample and channel over the remaining dims; weight and
// bias (optional) are (C). torch.nn.functional.instance_norm without running statistics.
Tensor instance_norm(const Tensor& x, const Tensor& weight = {}, const Tensor& bias = {}, double eps = 1e-5);

// shape (shape.cpp)
Tensor cat(const std::vector<Tensor>& xs, std::int64_t dim);
Tensor stack(const std::vector<Tensor>& xs, std::int64_t dim);
// pads: pairs from the last dim backwards, as torch.nn.functional.pad: (left, right, top, bottom, ...)
Tensor pad(const Tensor& x, const std::vector<std::int64_t>& pads, double value = 0.0);
Tensor flatten(const Tensor& x, std::int64_t start = 0, std::int64_t end = -1);

// losses (loss.cpp). logits: (N,C) or (N,C,d1,...); target: class indices (N) / (N,d1,...) i64
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& o = {});
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const NllLossOptions& o = {});
Tensor mse_loss(const Tensor& x, const Tensor& target, Reduction r = Reduction::mean);
Tensor binary_cross_entropy_with_logits(const Tensor& x, const Tensor& target, Reduction r = Reduction::mean,
                                        const Tensor& pos_weight = {});

// random (random.cpp): draws from g in the row-major order of the elements, on the host for
// every device, so a seed gives the same numbers on every device and thread count; f32, f64
// U[0, 1) and N(0, 1) factories
Tensor rand(const Shape& s, TensorOptions o = {}, Generator& g = default_generator());
Tensor randn(const Shape& s, TensorOptions o = {}, Generator& g = default_generator());
// In-place fills with U[lo, hi) and N(mean, std^2); refused, as every in-place update, on a
// tensor that requires grad while grad mode is on (nn::init fills parameters under NoGradGuard)
const Tensor& fill_uniform_(const Tensor& t, double lo, double hi, Generator& g = default_generator());
const Tensor& fill_normal_(const Tensor& t, double mean, double std, Generator& g = default_generator());

}  // namespace fovea
