// CUDA row reductions: argument checks here, kernels in reduce.cu.
#include "fovea/backend/cuda/cuda_backend.h"
#include "fovea/backend/cuda/cuda_util.h"
#include "fovea/backend/cuda/reduce_kernels.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

static_assert(int(ReduceOp::sum) == kSum && int(ReduceOp::prod) == kProd && int(ReduceOp::max) == kMax &&
              int(ReduceOp::min) == kMin && int(ReduceOp::argmax) == kArgmax && int(ReduceOp::argmin) == kArgmin &&
              kArgmin + 1 == kReduceCount);

}  // namespace

// x (M, R) -> out (M), i64 for argmax / argmin
void CudaBackend::reduce(ReduceOp op, const Tensor& x, const Tensor& out) {
  require_dtype(x, {DType::f32, DType::f64, DType::i64, DType::u8}, "reduce");
  const bool arg = op == ReduceOp::argmax || op == ReduceOp::argmin;
  if (x.dim() != 2 || out.shape() != Shape{x.size(0)})
    fail("reduce", "expected x (M, R) and out (M), got {} and {}", shape_str(x.shape()), shape_str(out.shape()));
  if (out.dtype() != (arg ? DType::i64 : x.dtype()) || out.device() != x.device())
    fail("reduce", "output is {} on {}, expected {} on {}", dtype_name(out.dtype()), out.device().str(),
         dtype_name(arg ? DType::i64 : x.dtype()), x.device().str());
  const std::int64_t M = x.size(0), R = x.size(1);
  if (R == 0) {
    if (op == ReduceOp::sum || op == ReduceOp::prod) return fill(out, op == ReduceOp::sum ? 0.0 : 1.0);
    fail("reduce", "cannot take max/min/argmax of an empty dimension");
  }
  if (M == 0) return;
  launch_reduce(static_cast<int>(op), code(x.dtype()), ptr(x), M, R, x.strides()[0], x.strides()[1], ptr(out),
                out.strides()[0], stream_for(out));
  FOVEA_CUDA_LAUNCHED("reduce");
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
