#pragma once
// The small set of primitives a device must provide. Ops (fovea/ops) allocate outputs and
// call these; autograd formulas are written with ops, so only the primitives below are
// device code. oneDNN and cuDNN types never appear outside backend/.
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>

#include "fovea/backend/activation_math.h"
#include "fovea/backend/optim_math.h"
#include "fovea/backend/pool_window.h"
#include "fovea/core/generator.h"
#include "fovea/core/tensor.h"

namespace fovea::backend {

enum class UnaryOp {
  neg,
  exp,
  log,
  log1p,
  sqrt,
  rsqrt,
  abs,
  sign,
  square,
  reciprocal,
  sin,
  cos,
  erf,
  floor,
  ceil,
  round,
  not_
};
enum class BinaryOp { add, sub, mul, div, pow, maximum, minimum, eq, ne, lt, le, gt, ge };
enum class ReduceOp { sum, prod, max, min, argmax, argmin };
struct ActParams {
  double alpha = 0;  // leaky_relu slope, elu alpha, clamp low
  double beta = 0;   // clamp high
};

struct Conv2dParams {
  std::array<std::int64_t, 2> stride{1, 1};
  std::array<std::int64_t, 4> padding{0, 0, 0, 0};  // top, bottom, left, right
  std::array<std::int64_t, 2> dilation{1, 1};
  std::int64_t groups = 1;
};

enum class PoolKind { max, avg };
struct Pool2dParams {
  PoolKind kind = PoolKind::max;
  std::array<std::int64_t, 2> kernel{2, 2};
  std::array<std::int64_t, 2> stride{2, 2};
  std::array<std::int64_t, 4> padding{0, 0, 0, 0};    // top, bottom (incl. ceil_mode extra), left, right
  std::array<std::int64_t, 2> pad_begin_limit{0, 0};  // the user's symmetric padding (PyTorch's avg divisor bound)
  bool count_include_pad = true;
  // Adaptive pooling: kernel, stride and padding are unused; output i along an axis of size
  // H covers [floor(i H / H'), ceil((i + 1) H / H')) with H' the output size.
  bool adaptive = false;
};

// The plan of a pooling call for x (N,C,H,W) -> y (N,C,OH,OW): planes = N * C.
inline PoolPlan pool_plan(const Pool2dParams& p, std::int64_t planes, std::int64_t H, std::int64_t W, std::int64_t OH,
                          std::int64_t OW) {
  PoolPlan plan;
  plan.max = p.kind == PoolKind::max;
  plan.adaptive = p.adaptive;
  plan.count_include_pad = p.count_include_pad;
  for (int a = 0; a < 2; ++a) {
    plan.kernel[a] = p.kernel[a];
    plan.stride[a] = p.stride[a];
    plan.pad_begin_limit[a] = p.pad_begin_limit[a];
  }
  plan.pad_top = p.padding[0];
  plan.pad_left = p.padding[2];
  plan.planes = planes;
  plan.H = H;
  plan.W = W;
  plan.OH = OH;
  plan.OW = OW;
  return plan;
}

// A contiguous tensor of shape s seen as (outer, n, inner) around `axis`, the lines of n elements
// `inner` apart that Backend::softmax_* normalise.
struct SoftmaxLines {
  std::int64_t outer = 1, n = 1, inner = 1;
};
inline SoftmaxLines softmax_lines(const Shape& s, int axis) {
  if (axis < 0 || axis >= static_cast<int>(s.size()))
    fail("softmax", "axis {} out of range for shape {}", axis, shape_str(s));
  SoftmaxLines l;
  l.n = s[axis];
  for (int i = 0; i < axis; ++i) l.outer *= s[i];
  for (size_t i = axis + 1; i < s.size(); ++i) l.inner *= s[i];
  return l;
}

enum class ResampleMode { nearest, bilinear };
struct Resample2dParams {
  ResampleMode mode = ResampleMode::nearest;
  bool align_corners = false;
  std::array<double, 2> scale{0, 0};  // the user's scale factor per axis (0: none), which sets the source index
};

class Backend {
 public:
  virtual ~Backend() = default;
  // memory for nbytes on device d (cuda:N: that GPU)
  virtual std::shared_ptr<std::byte> allocate(std::size_t nbytes, Device d) = 0;

  // dst and src have the same shape; any strides; dtype conversion allowed
  virtual void copy(const Tensor& src, const Tensor& dst) = 0;
  virtual void fill(const Tensor& dst, double v) = 0;
  virtual void unary(UnaryOp op, const Tensor& x, const Tensor& out) = 0;
  // a, b: views already expanded to out's shape (zero strides where broadcast)
  virtual void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  virtual void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  // x: (M, R) contiguous rows; out: (M) (i64 for argmax/argmin)
  virtual void reduce(ReduceOp op, const Tensor& x, const Tensor& out) = 0;
  // out = a @ b (+ bias), batched with broadcasting over leading dims; any strides on a, b
  virtual void matmul(const Tensor& a, const Tensor& b, const Tensor* bias, const Tensor& out) = 0;

  // x: (N,C,H,W), w: (O,C/g,kH,kW), b: (O) -> y: (N,O,H',W')
  virtual void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* b, const Tensor& y,
                              const Conv2dParams& p) = 0;
  virtual void conv2d_backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx, const Conv2dParams& p) = 0;
  virtual void conv2d_backward_weights(const Tensor& gy, const Tensor& x, const Tensor& gw, const Tensor* gb,
                                       const Conv2dParams& p) = 0;

  // Max pooling in training returns a workspace its backward needs (on CPU: the i64 index
  // h*W+w of each maximum within its plane, as PyTorch returns with return_indices).
  virtual Tensor pool2d_forward(const Tensor& x, const Tensor& y, const Pool2dParams& p, bool training) = 0;
  virtual void pool2d_backward(const Tensor& gy, const Tensor& x, const Tensor& y, const Tensor& workspace,
                               const Tensor& gx, const Pool2dParams& p) = 0;

  // x: (N,C,H,W) -> y: (N,C,H',W'), both contiguous; the sizes come from the tensors
  virtual void resample2d_forward(const Tensor& x, const Tensor& y, const Resample2dParams& p) = 0;
  // gy: (N,C,H',W') -> gx: (N,C,H,W) (overwritten)
  virtual void resample2d_backward(const Tensor& gy, const Tensor& gx, const Resample2dParams& p) = 0;

  // x: (N,C,...) ; weight, bias, mean, var: (C). In training mean/var are outputs (biased var).
  virtual void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                                  const Tensor& var, const Tensor& y, double eps, bool training) = 0;
  virtual void batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& weight, const Tensor& mean,
                                   const Tensor& var, const Tensor& gx, const Tensor& gweight, const Tensor& gbias,
                                   double eps) = 0;

  virtual void activation_forward(Act a, const ActParams& p, const Tensor& x, const Tensor& y) = 0;
  virtual void activation_backward(Act a, const ActParams& p, const Tensor& x, const Tensor& gy, const Tensor& gx) = 0;
  // softmax over `axis`; log selects log_softmax. Backward uses the forward output y.
  virtual void softmax_forward(const Tensor& x, const Tensor& y, int axis, bool log) = 0;
  virtual void softmax_backward(const Tensor& y, const Tensor& gy, const Tensor& gx, int axis, bool log) = 0;

  // out[i, j] = x[i, index[i, j]] for 2-D x (M, K) and index (M, J) (i64)
  virtual void gather_rows(const Tensor& x, const Tensor& index, const Tensor& out) = 0;
  // out[i, index[i, j]] += src[i, j]
  virtual void scatter_add_rows(const Tensor& src, const Tensor& index, const Tensor& out) = 0;

  virtual void uniform(const Tensor& out, double lo, double hi, Generator& g) = 0;
  virtual void normal(const Tensor& out, double mean, double std, Generator& g) = 0;
  virtual void bernoulli(const Tensor& out, double p, Generator& g) = 0;

  // Fused optimizer steps over many parameters (one call per group, device and dtype); entry i of
  // every list belongs to parameter i. All tensors contiguous, f32 or f64 like params[0], on this
  // backend's device, each of its parameter's shape; gradients are only read. Each operation rounds
  // to the dtype as the separate tensor ops of torch.optim (PyTorch 1.13) would (optim_math.h).
  //
  // SGD (https://github.com/pytorch/pytorch/blob/v1.13.0/torch/optim/sgd.py#L213), per parameter p
  // with gradient g and momentum buffer b:
  //   d = g + weight_decay * p                                    (weight_decay != 0)
  //   b = d if buffer_is_new[i], else momentum * b + (1 - dampening) * d   (momentum != 0)
  //   d = nesterov ? d + momentum * b : b                         (momentum != 0)
  //   p = p - lr * d
  // momentum_buffers and buffer_is_new: empty when momentum == 0; a new buffer's content is ignored.
  virtual void sgd_step(std::span<const Tensor> params, std::span<const Tensor> grads,
                        std::span<const Tensor> momentum_buffers, std::span<const std::uint8_t> buffer_is_new,
                        const SgdStepParams& p) = 0;
  // Adam / AdamW (https://github.com/pytorch/pytorch/blob/v1.13.0/torch/optim/adam.py#L319, adamw.py#L237),
  // per parameter p with gradient g, moments m, v (and v_max) at its own step t:
  //   p = p * (1 - lr * weight_decay)                             (decoupled: AdamW)
  //   g = g + weight_decay * p                                    (not decoupled, weight_decay != 0)
  //   m = beta1 * m + (1 - beta1) * g
  //   v = beta2 * v + (1 - beta2) * g * g
  //   v_max = max(v_max, v), then used in place of v              (amsgrad)
  //   p = p - step_size[i] * m / (sqrt(v) / bias_correction2_sqrt[i] + eps)
  // with step_size[i] = lr / (1 - beta1^t) and bias_correction2_sqrt[i] = sqrt(1 - beta2^t).
  // max_exp_avg_sq: empty unless amsgrad.
  virtual void adam_step(std::span<const Tensor> params, std::span<const Tensor> grads, std::span<const Tensor> exp_avg,
                         std::span<const Tensor> exp_avg_sq, std::span<const Tensor> max_exp_avg_sq,
                         std::span<const double> step_size, std::span<const double> bias_correction2_sqrt,
                         const AdamStepParams& p) = 0;

  // Returns once the work queued on device d has run (the CPU's has when its call returns).
  virtual void synchronize(Device d);
  // nbytes of host memory that device transfers read and write directly (page-locked,
  // cudaMallocHost); plain host memory where the backend has no such thing.
  virtual std::shared_ptr<std::byte> allocate_pinned(std::size_t nbytes);

  // CUDA graphs (fovea/backend/graph.h): runs f with this device's work recorded instead of
  // executed and returns the recording; replay_graph runs a recording again. Backends without
  // graphs (the CPU) throw "[graph] ...".
  virtual std::shared_ptr<void> capture_graph(Device d, const std::function<void()>& f);
  virtual void replay_graph(const std::shared_ptr<void>& graph, Device d);
};

// Whether this build has the CUDA backend and the machine a GPU it can use.
bool cuda_available();
// TF32 tensor-core math for f32 work on CUDA: convolutions on by default (as PyTorch's
// torch.backends.cudnn.allow_tf32), matrix products off (as torch.backends.cuda.matmul.allow_tf32).
// TF32 keeps 10 mantissa bits: results differ from full f32 by about 1e-3 relative.
struct CudaMath {
  bool conv_tf32 = true;
  bool matmul_tf32 = false;
};
CudaMath cuda_math();
void set_cuda_math(CudaMath m);

// Bytes of tensor storage the CPU backend holds now, and the most it held since the last reset:
// the tensors alone, not the allocator's free blocks nor oneDNN's own buffers (docs/backend.md,
// "Memory").
struct MemoryStats {
  std::int64_t live_bytes = 0, peak_bytes = 0;
  // tensors of 1 MiB and more come from segments the allocator maps and keeps (cpu/context.cpp)
  std::int64_t cached_bytes = 0;  // of those, free for reuse
  std::int64_t mapped_bytes = 0;  // all the segments' bytes (pages count as memory once touched)
  std::int64_t cache_misses = 0;  // allocations no free block could take (a segment was mapped)
};
MemoryStats cpu_memory_stats();
void reset_cpu_peak_memory();  // the peak starts again from what is live

Backend& backend_for(Device d);
Backend& backend_for(const Tensor& t);
// Registration point for device backends outside the core library (CUDA).
void register_backend(DeviceType type, Backend* b);

}  // namespace fovea::backend
