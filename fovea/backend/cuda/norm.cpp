// Batch normalisation on CUDA (own kernels, norm.cu) with the CPU backend's contract: training
// writes the batch mean and biased variance into mean/var and normalises with them; evaluation
// normalises with the given mean/var. Undefined weight / bias count as 1 / 0, and undefined
// gradients are not computed.
#include "fovea/backend/cuda/cuda_backend.h"
#include "fovea/backend/cuda/cuda_util.h"
#include "fovea/backend/cuda/norm_kernels.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

constexpr const char* kOp = "batch_norm";

// x: (N,C,...) contiguous, f32 or f64
cuda::NormPlan plan_for(const Tensor& x, double eps) {
  if (x.dim() < 2) fail(kOp, "expected input (N,C,...) with at least 2 dims, got {}", shape_str(x.shape()));
  cuda::require_dtype(x, {DType::f32, DType::f64}, kOp);
  if (!x.is_contiguous()) fail(kOp, "expected a contiguous input");
  const std::int64_t N = x.size(0), C = x.size(1);
  return {.N = N, .C = C, .S = N * C > 0 ? x.numel() / (N * C) : 0, .eps = eps};
}

// t: x's shape, dtype and device, contiguous (or undefined when optional)
void check_like_x(const Tensor& t, const Tensor& x, const char* what, bool optional) {
  if (!t.defined()) {
    if (!optional) fail(kOp, "expected a defined {}", what);
    return;
  }
  if (t.shape() != x.shape() || t.dtype() != x.dtype() || t.device() != x.device() || !t.is_contiguous())
    fail(kOp, "{} must be contiguous {} {} like the input, got {} {}", what, dtype_name(x.dtype()),
         shape_str(x.shape()), dtype_name(t.dtype()), shape_str(t.shape()));
}

// t: (C) of x's dtype on x's device, contiguous (or undefined when optional)
void check_channel(const Tensor& t, const Tensor& x, const char* what, bool optional) {
  if (!t.defined()) {
    if (!optional) fail(kOp, "expected a defined {}", what);
    return;
  }
  if (t.dim() != 1 || t.size(0) != x.size(1) || t.dtype() != x.dtype() || t.device() != x.device() ||
      !t.is_contiguous())
    fail(kOp, "{} must be contiguous {} ({}) on the input's device, got {} {}", what, dtype_name(x.dtype()), x.size(1),
         dtype_name(t.dtype()), shape_str(t.shape()));
}

void* ptr_or_null(const Tensor& t) { return t.defined() ? cuda::ptr(t) : nullptr; }

}  // namespace

// x: (N,C,...) ; weight, bias, mean, var: (C) -> y: x's shape
void CudaBackend::batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                                     const Tensor& var, const Tensor& y, double eps, bool training) {
  const cuda::NormPlan plan = plan_for(x, eps);
  check_like_x(y, x, "output", false);
  check_channel(weight, x, "weight", true);
  check_channel(bias, x, "bias", true);
  check_channel(mean, x, "mean", false);
  check_channel(var, x, "var", false);
  const Tensor scratch =
      empty({training ? cuda::norm_forward_scratch(plan) : 1}, {.dtype = DType::f64, .device = x.device()});
  cuda::batch_norm_forward(cuda::code(x.dtype()), cuda::ptr(x), ptr_or_null(weight), ptr_or_null(bias), cuda::ptr(mean),
                           cuda::ptr(var), cuda::ptr(y), plan, training, static_cast<double*>(cuda::ptr(scratch)),
                           cuda::stream_for(x));
  FOVEA_CUDA_LAUNCHED(kOp);
}

// Backward of the training forward, whose batch mean / var are given: gy, x -> gx, gweight, gbias
void CudaBackend::batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& weight, const Tensor& mean,
                                      const Tensor& var, const Tensor& gx, const Tensor& gweight, const Tensor& gbias,
                                      double eps) {
  const cuda::NormPlan plan = plan_for(x, eps);
  check_like_x(gy, x, "gradient", false);
  check_like_x(gx, x, "input gradient", true);
  check_channel(weight, x, "weight", true);
  check_channel(mean, x, "mean", false);
  check_channel(var, x, "var", false);
  check_channel(gweight, x, "weight gradient", true);
  check_channel(gbias, x, "bias gradient", true);
  if (!gx.defined() && !gweight.defined() && !gbias.defined()) return;
  // partial and per-channel sums of gy and gy * xhat, which the input gradient needs whether or not
  // gweight / gbias are wanted
  const Tensor scratch = empty({cuda::norm_backward_scratch(plan)}, {.dtype = DType::f64, .device = x.device()});
  cuda::batch_norm_backward(cuda::code(x.dtype()), cuda::ptr(gy), cuda::ptr(x), ptr_or_null(weight), cuda::ptr(mean),
                            cuda::ptr(var), static_cast<double*>(cuda::ptr(scratch)), ptr_or_null(gx),
                            ptr_or_null(gweight), ptr_or_null(gbias), plan, cuda::stream_for(x));
  FOVEA_CUDA_LAUNCHED(kOp);
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
