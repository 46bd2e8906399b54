// CUDA activations: argument checks here, kernels in activation.cu.
#include "fovea/backend/cuda/activation_kernels.h"
#include "fovea/backend/cuda/cuda_backend.h"
#include "fovea/backend/cuda/cuda_util.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

void CudaBackend::activation_forward(Act a, const ActParams& p, const Tensor& x, const Tensor& y) {
  require_dtype(x, {DType::f32, DType::f64}, "activation");
  expect(y, x.dtype(), y, "activation", "output");
  expect(x, x.dtype(), y, "activation", "input");
  if (x.numel() == 0) return;
  Strided xs = strided(x, "activation"), ys = strided(y, "activation");
  collapse({&ys, &xs});
  launch_activation_forward(a, p.alpha, p.beta, code(x.dtype()), ptr(x), xs, ptr(y), ys, x.numel(), stream_for(y));
  FOVEA_CUDA_LAUNCHED("activation");
}

void CudaBackend::activation_backward(Act a, const ActParams& p, const Tensor& x, const Tensor& gy, const Tensor& gx) {
  require_dtype(x, {DType::f32, DType::f64}, "activation");
  expect(gx, x.dtype(), gx, "activation", "input gradient");
  expect(x, x.dtype(), gx, "activation", "input");
  expect(gy, x.dtype(), gx, "activation", "output gradient");
  if (x.numel() == 0) return;
  Strided xs = strided(x, "activation"), gs = strided(gy, "activation"), gxs = strided(gx, "activation");
  collapse({&gxs, &xs, &gs});
  launch_activation_backward(a, p.alpha, p.beta, code(x.dtype()), ptr(x), xs, ptr(gy), gs, ptr(gx), gxs, x.numel(),
                             stream_for(gx));
  FOVEA_CUDA_LAUNCHED("activation");
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
