#pragma once
// Helpers shared by the op files (not part of the public API).
#include "fovea/autograd/grad_mode.h"
#include "fovea/autograd/node.h"
#include "fovea/backend/backend.h"
#include "fovea/ops/ops.h"

namespace fovea::detail {

inline backend::Backend& be(const Tensor& t) { return backend::backend_for(t); }

inline void check_defined(const Tensor& t, const char* op, const char* what) {
  if (!t.defined()) fail(op, "{} is undefined", what);
}

void check_same_device(const Tensor& a, const Tensor& b, const char* op);
void check_same_dtype(const Tensor& a, const Tensor& b, const char* op);
void check_floating(const Tensor& t, const char* op);

// A broadcast view (zero strides) of t with shape s; no history.
Tensor expand_raw(const Tensor& t, const Shape& s);
// A new tensor like t's device with the given shape and dtype.
Tensor new_empty(const Tensor& like, const Shape& s, std::optional<DType> dt = std::nullopt);

// Moves `dim` to the end and returns the result as contiguous (M, R) rows plus the kept shape.
struct Rows {
  Tensor rows;  // (M, R)
  Shape kept;   // shape without `dim`
};
Rows rows_along(const Tensor& x, int dim);

// Whether x (and w) should compute in bf16 under autocast: f32 tensors on CUDA.
bool autocast_bf16(const Tensor& x, const Tensor& w);

}  // namespace fovea::detail
