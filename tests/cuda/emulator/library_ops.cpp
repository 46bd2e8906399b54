// The CUDA emulator's cuDNN and cuBLAS (fovea/backend/cuda/library.h). Convolutions run on the
// CPU backend, f16 / bf16 operands widened to f32 as cuDNN accumulates and the result rounded
// once into the output's dtype; GEMM is a plain loop with cuBLAS's column-major, transpose,
// leading-dimension and batch-stride semantics, so the backend's operand layouts are checked.
// The library calls themselves (descriptors, algorithm search) are verified only on a GPU.
#include <cstring>

#include "fovea/backend/cuda/cuda_util.h"
#include "fovea/backend/cuda/library.h"
#include "fovea/ops/ops.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

bool half_like(DType t) { return t == DType::f16 || t == DType::bf16; }

// The library runs "on the device": it reads and writes the emulated device memory (host memory)
// directly, never through the backend's copies, which would wait for the stream it runs on.
// Operands are contiguous (conv.cpp makes them so).
Tensor on_host(const Tensor& t) {
  const Tensor view = from_blob(ptr(t), t.shape(), t.dtype());
  return half_like(t.dtype()) ? view.to(DType::f32) : view.clone();
}
Tensor host_result(const Tensor& out) {
  return empty(out.shape(), {.dtype = half_like(out.dtype()) ? DType::f32 : out.dtype()});
}
void store(const Tensor& host, const Tensor& out) {
  const Tensor h = host.to(out.dtype()).contiguous();
  std::memcpy(ptr(out), h.raw_data(), static_cast<std::size_t>(h.numel()) * dtype_size(h.dtype()));
}
Backend& cpu() { return backend_for(kCPU); }

// Element (i, j) of a column-major matrix with leading dimension ld, op applied.
template <typename T>
double element(const T* m, int ld, bool transpose, long long i, long long j) {
  return static_cast<double>(transpose ? m[j + i * ld] : m[i + j * ld]);
}

// C = op(A) op(B) + beta C on T = float or double data, summing in T as cuBLAS's COMPUTE_32F
// and f64 GEMM do; beta == 0 does not read C.
template <typename T>
void gemm(const Gemm& g, const T* a, const T* b, T* c) {
  for (int p = 0; p < g.batch; ++p)
    for (int j = 0; j < g.n; ++j)
      for (int i = 0; i < g.m; ++i) {
        T s = 0;
        for (int l = 0; l < g.k; ++l)
          s += static_cast<T>(element(a + p * g.stride_a, g.lda, g.transpose_a, i, l) *
                              element(b + p * g.stride_b, g.ldb, g.transpose_b, l, j));
        T& out = c[p * g.stride_c + i + static_cast<long long>(j) * g.ldc];
        out = g.beta == 0 ? s : s + static_cast<T>(g.beta) * out;
      }
}

// The number of elements a column-major operand spans: rows x cols with leading dimension ld,
// `batch` of them batch_stride apart.
std::int64_t extent(int rows, int cols, int ld, long long batch_stride, int batch) {
  if (rows == 0 || cols == 0) return 0;
  return static_cast<std::int64_t>(batch_stride) * (batch - 1) + static_cast<std::int64_t>(cols - 1) * ld + rows;
}
// A bf16 span of emulated device memory (host memory) widened to f32.
Tensor widened(const void* p, std::int64_t n) {
  return from_blob(const_cast<void*>(p), {n}, DType::bf16).to(DType::f32);
}

void run_gemm(const Gemm& g) {
  if (g.dtype == kF64)
    return gemm(g, static_cast<const double*>(g.a), static_cast<const double*>(g.b), static_cast<double*>(g.c));
  if (g.dtype == kF32)
    return gemm(g, static_cast<const float*>(g.a), static_cast<const float*>(g.b), static_cast<float*>(g.c));
  if (g.dtype != kBF16)
    fail("matmul", "the CUDA emulator's GEMM takes f32, f64 or bf16, got dtype code {}", static_cast<int>(g.dtype));
  // bf16 operands, f32 sums, one rounding into C
  const std::int64_t na = extent(g.transpose_a ? g.k : g.m, g.transpose_a ? g.m : g.k, g.lda, g.stride_a, g.batch);
  const std::int64_t nb = extent(g.transpose_b ? g.n : g.k, g.transpose_b ? g.k : g.n, g.ldb, g.stride_b, g.batch);
  const std::int64_t nc = extent(g.m, g.n, g.ldc, g.stride_c, g.batch);
  const Tensor a = widened(g.a, na), b = widened(g.b, nb), c = widened(g.c, nc);
  gemm(g, a.data<float>(), b.data<float>(), c.data<float>());
  const Tensor rounded = c.to(DType::bf16);
  std::memcpy(g.c, rounded.raw_data(), static_cast<std::size_t>(nc) * 2);
}

}  // namespace

// Each call runs when the device's stream reaches it: now, or at a graph's replay.
void library_gemm(const Tensor& like, const Gemm& g) {
  emulator::enqueue(stream_for(like), [g] { run_gemm(g); });
}

void library_conv_forward(const Tensor& x, const Tensor& w, const Tensor* b, const Tensor& y, const Conv2dParams& p) {
  const Tensor bias = b ? *b : Tensor();
  emulator::enqueue(stream_for(x), [=] {
    Tensor h = host_result(y);
    cpu().conv2d_forward(on_host(x), on_host(w), nullptr, h, p);
    if (bias.defined()) h = h + on_host(bias).reshape({1, -1, 1, 1});
    store(h, y);
  });
}

void library_conv_backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx, const Conv2dParams& p) {
  emulator::enqueue(stream_for(gy), [=] {
    const Tensor h = host_result(gx);
    cpu().conv2d_backward_data(on_host(gy), on_host(w), h, p);
    store(h, gx);
  });
}

void library_conv_backward_weights(const Tensor& gy, const Tensor& x, const Tensor& gw, const Tensor* gb,
                                   const Conv2dParams& p) {
  const Tensor gbias = gb ? *gb : Tensor();
  emulator::enqueue(stream_for(gy), [=] {
    const Tensor h = host_result(gw), hgb = gbias.defined() ? host_result(gbias) : Tensor();
    cpu().conv2d_backward_weights(on_host(gy), on_host(x), h, gbias.defined() ? &hgb : nullptr, p);
    store(h, gw);
    if (gbias.defined()) store(hgb, gbias);
  });
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
