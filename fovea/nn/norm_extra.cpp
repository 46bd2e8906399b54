#include "fovea/nn/norm_extra.h"

#include "fovea/nn/repr.h"

namespace fovea::nn {

LocalResponseNorm::LocalResponseNorm(Options o) : Module("LocalResponseNorm"), o_(o) {
  if (o.size < 1) fail("LocalResponseNorm", "size must be >= 1, got {}", o.size);
}

std::string LocalResponseNorm::extra_repr() const {
  return fmt::format("{}, alpha={}, beta={}, k={}", o_.size, detail::py_float(o_.alpha), detail::py_float(o_.beta),
                     detail::py_float(o_.k));
}

}  // namespace fovea::nn
