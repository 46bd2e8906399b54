#pragma once
// The calls into cuDNN and cuBLAS (cudnn.cpp, cublas.cpp): the only part of the CUDA backend
// that the CPU emulator (tests/cuda/emulator) replaces. Shapes, padding, contiguity, bias rows
// and operand layouts are settled by the callers (conv.cpp, linalg.cpp), which run in both.
#include "fovea/backend/backend.h"
#include "fovea/backend/cuda/kernels.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

// x: (N,C,H,W), w: (O,C/g,kH,kW), y: (N,O,H',W'), gy like y; all contiguous on one device,
// padding symmetric (top == bottom, left == right); f32, f64 or bf16. Outputs are overwritten.
void library_conv_forward(const Tensor& x, const Tensor& w, const Tensor* b, const Tensor& y, const Conv2dParams& p);
void library_conv_backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx, const Conv2dParams& p);
void library_conv_backward_weights(const Tensor& gy, const Tensor& x, const Tensor& gw, const Tensor* gb,
                                   const Conv2dParams& p);

// A strided batched GEMM in cuBLAS's column-major terms: for each of `batch` matrices,
// C (m x n, ldc) = op(A) (m x k) op(B) (k x n) + beta C, op transposing when asked; A, B, C
// element strides between batches as given (0: one matrix shared). dtype f32, f64 or bf16
// (f32 accumulation); tf32 for f32 when cuda_math() asks.
struct Gemm {
  bool transpose_a = false, transpose_b = false;
  int m = 0, n = 0, k = 0;
  const void* a = nullptr;
  int lda = 0;
  long long stride_a = 0;
  const void* b = nullptr;
  int ldb = 0;
  long long stride_b = 0;
  void* c = nullptr;
  int ldc = 0;
  long long stride_c = 0;
  int batch = 1;
  double beta = 0;  // 0 or 1
  DTypeCode dtype = kF32;
  bool tf32 = false;
};
// Runs on `like`'s device and stream.
void library_gemm(const Tensor& like, const Gemm& g);

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
