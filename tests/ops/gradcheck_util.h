#pragma once
// Helpers of the gradient-check tests.
#include <gtest/gtest.h>

#include "fovea/ops/ops.h"
#include "fovea/testing/gradcheck.h"

namespace fovea::test {

// A uniform random leaf in [lo, hi) that requires grad.
inline Tensor rnd(const Shape& s, DType dt = DType::f64, std::uint64_t seed = 1, double lo = -2, double hi = 2) {
  Generator g(seed);
  Tensor t = rand(s, {.dtype = dt}, g) * (hi - lo) + lo;
  return t.detach().requires_grad_();
}

inline void check(const testing::GradFn& f, const std::vector<Tensor>& in, testing::GradcheckOptions o = {}) {
  auto r = testing::gradcheck(f, in, o);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_GT(r.checked, 0);
}

// The step and tolerances for ops whose CPU path is f32 only (oneDNN).
inline const testing::GradcheckOptions kF32{.eps = 1e-2, .atol = 2e-3, .rtol = 2e-2};

}  // namespace fovea::test
