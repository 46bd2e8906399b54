// CUDA row reductions and softmax: argument checks here, kernels in reduce.cu.
#include "fovea/backend/cuda/cuda_backend.h"
#include "fovea/backend/cuda/cuda_util.h"
#include "fovea/backend/cuda/reduce_kernels.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

static_assert(int(ReduceOp::sum) == kSum && int(ReduceOp::prod) == kProd && int(ReduceOp::max) == kMax &&
              int(ReduceOp::min) == kMin && int(ReduceOp::argmax) == kArgmax && int(ReduceOp::argmin) == kArgmin &&
              kArgmin + 1 == kReduceCount);

// A contiguous tensor as (outer, n, inner) around `axis` (softmax).
struct Lines {
  std::int64_t outer = 1, n = 1, inner = 1;
};
Lines lines(const Tensor& t, int axis) {
  const Shape& s = t.shape();
  if (axis < 0 || axis >= static_cast<int>(s.size()))
    fail("softmax", "axis {} out of range for shape {}", axis, shape_str(s));
  Lines l;
  l.n = s[axis];
  for (int i = 0; i < axis; ++i) l.outer *= s[i];
  for (size_t i = axis + 1; i < s.size(); ++i) l.inner *= s[i];
  return l;
}

// Softmax operands: contiguous, of one shape, dtype and device.
void check_softmax(const Tensor& t, const Tensor& ref, const char* what) {
  if (t.shape() != ref.shape() || t.dtype() != ref.dtype() || t.device() != ref.device() || !t.is_contiguous())
    fail("softmax", "{} must be a contiguous {} tensor of shape {} on {}", what, dtype_name(ref.dtype()),
         shape_str(ref.shape()), ref.device().str());
}

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

void CudaBackend::softmax_forward(const Tensor& x, const Tensor& y, int axis, bool log) {
  require_dtype(x, {DType::f32, DType::f64}, "softmax");
  check_softmax(x, x, "input");
  check_softmax(y, x, "output");
  if (x.numel() == 0) return;
  const Lines l = lines(x, axis);
  launch_softmax_forward(code(x.dtype()), ptr(x), ptr(y), l.outer, l.n, l.inner, log, stream_for(y));
  FOVEA_CUDA_LAUNCHED("softmax");
}

void CudaBackend::softmax_backward(const Tensor& y, const Tensor& gy, const Tensor& gx, int axis, bool log) {
  require_dtype(y, {DType::f32, DType::f64}, "softmax");
  check_softmax(y, y, "output");
  check_softmax(gy, y, "output gradient");
  check_softmax(gx, y, "input gradient");
  if (y.numel() == 0) return;
  const Lines l = lines(y, axis);
  launch_softmax_backward(code(y.dtype()), ptr(y), ptr(gy), ptr(gx), l.outer, l.n, l.inner, log, stream_for(gx));
  FOVEA_CUDA_LAUNCHED("softmax");
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
