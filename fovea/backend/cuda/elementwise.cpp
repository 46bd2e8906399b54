// CUDA elementwise primitives, fills, copies between tensors of one device and row gathers /
// scatters: argument checks here, kernels in elementwise.cu.
#include <initializer_list>

#include "fovea/backend/cuda/cuda_backend.h"
#include "fovea/backend/cuda/cuda_util.h"
#include "fovea/backend/cuda/elementwise_kernels.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

static_assert(int(UnaryOp::neg) == kNeg && int(UnaryOp::exp) == kExp && int(UnaryOp::log) == kLog &&
              int(UnaryOp::log1p) == kLog1p && int(UnaryOp::sqrt) == kSqrt && int(UnaryOp::rsqrt) == kRsqrt &&
              int(UnaryOp::abs) == kAbs && int(UnaryOp::sign) == kSign && int(UnaryOp::square) == kSquare &&
              int(UnaryOp::reciprocal) == kReciprocal && int(UnaryOp::sin) == kSin && int(UnaryOp::cos) == kCos &&
              int(UnaryOp::erf) == kErf && int(UnaryOp::floor) == kFloor && int(UnaryOp::ceil) == kCeil &&
              int(UnaryOp::round) == kRound && int(UnaryOp::not_) == kNot && kNot + 1 == kUnaryCount);
static_assert(int(BinaryOp::add) == kAdd && int(BinaryOp::sub) == kSub && int(BinaryOp::mul) == kMul &&
              int(BinaryOp::div) == kDiv && int(BinaryOp::pow) == kPow && int(BinaryOp::maximum) == kMaximum &&
              int(BinaryOp::minimum) == kMinimum && int(BinaryOp::eq) == kEq && int(BinaryOp::ne) == kNe &&
              int(BinaryOp::lt) == kLt && int(BinaryOp::le) == kLe && int(BinaryOp::gt) == kGt &&
              int(BinaryOp::ge) == kGe && kGe + 1 == kBinaryCount);

constexpr std::initializer_list<DType> kAll = {DType::f32, DType::f64, DType::i64, DType::u8, DType::f16, DType::bf16};
constexpr std::initializer_list<DType> kArith = {DType::f32, DType::f64, DType::i64, DType::u8};

// A 2-D tensor's data pointer and strides (gather_rows, scatter_add_rows).
Matrix matrix(const Tensor& t, const char* op, const char* what) {
  if (t.dim() != 2) fail(op, "expected a 2-D {}, got {}", what, shape_str(t.shape()));
  return {ptr(t), t.strides()[0], t.strides()[1]};
}

}  // namespace

void expect(const Tensor& t, DType d, const Tensor& out, const char* op, const char* what) {
  if (t.dtype() != d) fail(op, "expected {} {}, got {}", dtype_name(d), what, dtype_name(t.dtype()));
  if (t.device() != out.device()) fail(op, "{} is on {}, the output on {}", what, t.device().str(), out.device().str());
}

void collapse(std::initializer_list<Strided*> ops) {
  const int dims = (*ops.begin())->dims;
  int kept = 0;
  for (int d = 0; d < dims; ++d) {
    const std::int64_t size = (*ops.begin())->sizes[d];
    if (size == 1) continue;
    bool merge = kept > 0;
    for (const Strided* s : ops) merge = merge && s->strides[kept - 1] == s->strides[d] * size;
    for (Strided* s : ops) {
      if (merge) {
        s->sizes[kept - 1] *= size;
        s->strides[kept - 1] = s->strides[d];
      } else {
        s->sizes[kept] = size;
        s->strides[kept] = s->strides[d];
      }
    }
    if (!merge) ++kept;
  }
  for (Strided* s : ops) s->dims = kept;
}

void device_copy(const Tensor& src, const Tensor& dst) {
  if (src.shape() != dst.shape())
    fail("copy", "shape mismatch: {} into {}", shape_str(src.shape()), shape_str(dst.shape()));
  if (src.device() != dst.device())
    fail("copy", "device_copy needs one CUDA device, got {} and {}", src.device().str(), dst.device().str());
  require_dtype(src, kAll, "copy");
  require_dtype(dst, kAll, "copy");
  if (src.numel() == 0) return;
  cudaStream_t stream = stream_for(dst);
  if (src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous()) {
    const auto bytes = static_cast<std::size_t>(src.numel()) * dtype_size(src.dtype());
    FOVEA_CUDA_CHECK(cudaMemcpyAsync(ptr(dst), ptr(src), bytes, cudaMemcpyDeviceToDevice, stream), "copy");
    return;
  }
  Strided s = strided(src, "copy"), d = strided(dst, "copy");
  collapse({&d, &s});
  launch_copy(code(src.dtype()), ptr(src), s, code(dst.dtype()), ptr(dst), d, dst.numel(), stream);
  FOVEA_CUDA_LAUNCHED("copy");
}

void CudaBackend::fill(const Tensor& dst, double v) {
  require_dtype(dst, kAll, "fill");
  if (dst.numel() == 0) return;
  Strided d = strided(dst, "fill");
  collapse({&d});
  launch_fill(code(dst.dtype()), ptr(dst), d, v, dst.numel(), stream_for(dst));
  FOVEA_CUDA_LAUNCHED("fill");
}

void CudaBackend::unary(UnaryOp op, const Tensor& x, const Tensor& out) {
  require_dtype(x, kArith, "unary");
  expect(out, x.dtype(), out, "unary", "output");
  expect(x, x.dtype(), out, "unary", "input");
  if (out.numel() == 0) return;
  Strided xs = strided(x, "unary"), os = strided(out, "unary");
  collapse({&os, &xs});
  launch_unary(static_cast<int>(op), code(x.dtype()), ptr(x), xs, ptr(out), os, out.numel(), stream_for(out));
  FOVEA_CUDA_LAUNCHED("unary");
}

void CudaBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  require_dtype(a, kArith, "binary");
  const bool comparison = op >= BinaryOp::eq;
  expect(b, a.dtype(), out, "binary", "second operand");
  expect(a, a.dtype(), out, "binary", "first operand");
  expect(out, comparison ? DType::u8 : a.dtype(), out, "binary", "output");
  if (out.numel() == 0) return;
  Strided as = strided(a, "binary"), bs = strided(b, "binary"), os = strided(out, "binary");
  collapse({&os, &as, &bs});
  cudaStream_t stream = stream_for(out);
  if (op == BinaryOp::div && (a.dtype() == DType::i64 || a.dtype() == DType::u8)) {
    launch_check_nonzero(code(b.dtype()), ptr(b), bs, out.numel(), kernel_error(out), stream);
    FOVEA_CUDA_LAUNCHED("div");
  }
  launch_binary(static_cast<int>(op), code(a.dtype()), ptr(a), as, ptr(b), bs, ptr(out), os, out.numel(), stream);
  FOVEA_CUDA_LAUNCHED("binary");
}

void CudaBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  require_dtype(a, kArith, "where");
  expect(cond, DType::u8, out, "where", "condition");
  expect(a, a.dtype(), out, "where", "first operand");
  expect(b, a.dtype(), out, "where", "second operand");
  expect(out, a.dtype(), out, "where", "output");
  if (out.numel() == 0) return;
  Strided cs = strided(cond, "where"), as = strided(a, "where"), bs = strided(b, "where"), os = strided(out, "where");
  collapse({&os, &cs, &as, &bs});
  launch_where(code(a.dtype()), ptr(cond), cs, ptr(a), as, ptr(b), bs, ptr(out), os, out.numel(), stream_for(out));
  FOVEA_CUDA_LAUNCHED("where");
}

// x (M, K), index (M, J) i64 -> out (M, J)
void CudaBackend::gather_rows(const Tensor& x, const Tensor& index, const Tensor& out) {
  require_dtype(x, kArith, "gather");
  expect(index, DType::i64, out, "gather", "index");
  expect(x, x.dtype(), out, "gather", "input");
  expect(out, x.dtype(), out, "gather", "output");
  const Matrix xm = matrix(x, "gather", "input"), im = matrix(index, "gather", "index");
  const std::int64_t M = x.size(0), K = x.size(1), J = index.size(1);
  if (index.size(0) != M || out.shape() != Shape{M, J})
    fail("gather", "input {}, index {} and output {} do not match", shape_str(x.shape()), shape_str(index.shape()),
         shape_str(out.shape()));
  if (M * J == 0) return;
  launch_gather_rows(code(x.dtype()), xm, im, ptr(out), out.strides()[0], out.strides()[1], M, K, J, kernel_error(out),
                     stream_for(out));
  FOVEA_CUDA_LAUNCHED("gather");
}

// out (M, K) += src (M, J) at columns index (M, J) i64
void CudaBackend::scatter_add_rows(const Tensor& src, const Tensor& index, const Tensor& out) {
  require_dtype(out, {DType::f32, DType::f64, DType::i64}, "scatter_add");
  expect(index, DType::i64, out, "scatter_add", "index");
  expect(src, out.dtype(), out, "scatter_add", "source");
  const Matrix sm = matrix(src, "scatter_add", "source"), im = matrix(index, "scatter_add", "index");
  if (out.dim() != 2 || index.size(0) != out.size(0) || src.shape() != index.shape())
    fail("scatter_add", "source {}, index {} and output {} do not match", shape_str(src.shape()),
         shape_str(index.shape()), shape_str(out.shape()));
  const std::int64_t M = out.size(0), K = out.size(1), J = index.size(1);
  if (M * J == 0) return;
  launch_scatter_add_rows(code(out.dtype()), sm, im, ptr(out), out.strides()[0], out.strides()[1], M, K, J,
                          kernel_error(out), stream_for(out));
  FOVEA_CUDA_LAUNCHED("scatter_add");
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
