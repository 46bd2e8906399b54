// Max and average pooling on CUDA (own kernels, pool.cu) with the CPU backend's semantics: the
// same windows, and in training the same workspace for max pooling, the i64 index h*W+w of
// each maximum within its plane.
#include "fovea/backend/cuda/cuda_backend.h"
#include "fovea/backend/cuda/cuda_util.h"
#include "fovea/backend/cuda/pool_kernels.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

const char* op_name(const Pool2dParams& p) { return p.kind == PoolKind::max ? "max_pool2d" : "avg_pool2d"; }

// x: (N,C,H,W), y: (N,C,OH,OW), both contiguous, of one floating dtype on x's device
cuda::PoolPlan plan_for(const Tensor& x, const Tensor& y, const Pool2dParams& p, const char* op) {
  if (x.dim() != 4 || y.dim() != 4 || x.size(0) != y.size(0) || x.size(1) != y.size(1))
    fail(op, "expected x (N,C,H,W) and y (N,C,H',W'), got {} and {}", shape_str(x.shape()), shape_str(y.shape()));
  cuda::require_dtype(x, {DType::f32, DType::f64}, op);
  if (y.dtype() != x.dtype()) fail(op, "expected {} and {} of one dtype", dtype_name(x.dtype()), dtype_name(y.dtype()));
  if (!x.is_contiguous() || !y.is_contiguous()) fail(op, "expected contiguous tensors");
  if (y.device() != x.device()) fail(op, "expected tensors on one device");
  return pool_plan(p, x.size(0) * x.size(1), x.size(2), x.size(3), y.size(2), y.size(3));
}

}  // namespace

Tensor CudaBackend::pool2d_forward(const Tensor& x, const Tensor& y, const Pool2dParams& p, bool training) {
  const char* op = op_name(p);
  const cuda::PoolPlan plan = plan_for(x, y, p, op);
  Tensor ind;
  if (training && p.kind == PoolKind::max) ind = empty(y.shape(), {.dtype = DType::i64, .device = x.device()});
  auto* pi = ind.defined() ? static_cast<std::int64_t*>(cuda::ptr(ind)) : nullptr;
  cuda::pool2d_forward(cuda::code(x.dtype()), cuda::ptr(x), cuda::ptr(y), pi, plan, cuda::stream_for(x));
  FOVEA_CUDA_LAUNCHED(op);
  return ind;
}

// gy: (N,C,OH,OW) -> gx: (N,C,H,W) (overwritten); x and y are unused, as on the CPU
void CudaBackend::pool2d_backward(const Tensor& gy, const Tensor& x, const Tensor& y, const Tensor& workspace,
                                  const Tensor& gx, const Pool2dParams& p) {
  (void)x;
  (void)y;
  const char* op = op_name(p);
  const cuda::PoolPlan plan = plan_for(gx, gy, p, op);
  if (p.kind == PoolKind::max) {
    if (!workspace.defined()) fail(op, "backward needs the forward pass to run in training mode");
    if (workspace.dtype() != DType::i64 || workspace.shape() != gy.shape() || !workspace.is_contiguous() ||
        workspace.device() != gy.device())
      fail(op, "expected the forward's i64 workspace of shape {}, got {} {}", shape_str(gy.shape()),
           dtype_name(workspace.dtype()), shape_str(workspace.shape()));
  }
  const cudaStream_t s = cuda::stream_for(gx);
  const auto nbytes = static_cast<std::size_t>(gx.numel()) * dtype_size(gx.dtype());
  FOVEA_CUDA_CHECK(cudaMemsetAsync(cuda::ptr(gx), 0, nbytes, s), op);
  const auto* pi = p.kind == PoolKind::max ? static_cast<const std::int64_t*>(cuda::ptr(workspace)) : nullptr;
  cuda::pool2d_backward(cuda::code(gx.dtype()), cuda::ptr(gy), pi, cuda::ptr(gx), plan, s);
  FOVEA_CUDA_LAUNCHED(op);
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
