// CUDA softmax and log softmax: argument checks here, kernels in softmax.cu.
#include "fovea/backend/cuda/cuda_backend.h"
#include "fovea/backend/cuda/cuda_util.h"
#include "fovea/backend/cuda/softmax_kernels.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

// Softmax operands: contiguous, of one shape, dtype and device.
void check_softmax(const Tensor& t, const Tensor& ref, const char* what) {
  if (t.shape() != ref.shape() || t.dtype() != ref.dtype() || t.device() != ref.device() || !t.is_contiguous())
    fail("softmax", "{} must be a contiguous {} tensor of shape {} on {}", what, dtype_name(ref.dtype()),
         shape_str(ref.shape()), ref.device().str());
}

}  // namespace

void CudaBackend::softmax_forward(const Tensor& x, const Tensor& y, int axis, bool log) {
  require_dtype(x, {DType::f32, DType::f64}, "softmax");
  check_softmax(x, x, "input");
  check_softmax(y, x, "output");
  if (x.numel() == 0) return;
  const SoftmaxLines l = softmax_lines(x.shape(), axis);
  launch_softmax_forward(code(x.dtype()), ptr(x), ptr(y), l.outer, l.n, l.inner, log, stream_for(y));
  FOVEA_CUDA_LAUNCHED("softmax");
}

void CudaBackend::softmax_backward(const Tensor& y, const Tensor& gy, const Tensor& gx, int axis, bool log) {
  require_dtype(y, {DType::f32, DType::f64}, "softmax");
  check_softmax(y, y, "output");
  check_softmax(gy, y, "output gradient");
  check_softmax(gx, y, "input gradient");
  if (y.numel() == 0) return;
  const SoftmaxLines l = softmax_lines(y.shape(), axis);
  launch_softmax_backward(code(y.dtype()), ptr(y), ptr(gy), ptr(gx), l.outer, l.n, l.inner, log, stream_for(gx));
  FOVEA_CUDA_LAUNCHED("softmax");
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
