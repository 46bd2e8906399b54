// The thread's autocast precision (ops.h) and the test conv2d and linear use.
#include "fovea/ops/detail.h"

namespace fovea {

namespace {
thread_local Precision g_precision = Precision::f32;
}

Precision autocast_precision() { return g_precision; }
AutocastGuard::AutocastGuard(Precision p) : prev_(g_precision) { g_precision = p; }
AutocastGuard::~AutocastGuard() { g_precision = prev_; }

namespace detail {

bool autocast_bf16(const Tensor& x, const Tensor& w) {
  return g_precision == Precision::bf16 && x.device().type == DeviceType::cuda && x.dtype() == DType::f32 &&
         w.dtype() == DType::f32;
}

}  // namespace detail
}  // namespace fovea
