#pragma once
// Gradient check by central differences, shipped in the library so users can check their own
// ops and modules. The scalar checked is sum(f(inputs) * r) for a fixed random r.
#include <functional>
#include <string>
#include <vector>

#include "fovea/core/tensor.h"
#include "fovea/nn/module.h"

namespace fovea::testing {

struct GradcheckOptions {
  double eps = 1e-6;  // step (use ~1e-2 for f32 inputs)
  double atol = 1e-5;
  double rtol = 1e-3;
  // Skip elements where the one-sided differences disagree (a kink such as ReLU at 0).
  bool skip_kinks = true;
  std::uint64_t seed = 1234;
};

struct GradcheckResult {
  bool ok = true;
  std::int64_t checked = 0, skipped = 0;
  double max_abs_error = 0;
  std::string message;  // the first mismatch: input, element, analytic, numeric
};

using GradFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Inputs must be CPU f32/f64; those with requires_grad() are checked (on private copies).
GradcheckResult gradcheck(const GradFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& o = {});

// Checks the leaves that f() reads directly (e.g. a module's parameters), perturbing them in
// place and restoring them; their .grad is overwritten.
GradcheckResult gradcheck_leaves(const std::function<Tensor()>& f, const std::vector<Tensor>& leaves,
                                 const GradcheckOptions& o = {});

// A module's gradients w.r.t. its input and every parameter that requires grad.
GradcheckResult gradcheck_module(nn::Module& m, const Tensor& input, const GradcheckOptions& o = {});

}  // namespace fovea::testing
