#include "fovea/nn/pool_extra.h"

#include "fovea/nn/repr.h"

namespace fovea::nn {

namespace {
void check_out(Pair out, const char* type) {
  if (out.h < 1 || out.w < 1) fail(type, "output size must be >= 1, got {}x{}", out.h, out.w);
}
}  // namespace

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Options o) : Module("AdaptiveAvgPool2d"), o_(o) {
  check_out(o.out, "AdaptiveAvgPool2d");
}
AdaptiveMaxPool2d::AdaptiveMaxPool2d(Options o) : Module("AdaptiveMaxPool2d"), o_(o) {
  check_out(o.out, "AdaptiveMaxPool2d");
}

std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + detail::pair_str(o_.out); }
std::string AdaptiveMaxPool2d::extra_repr() const { return "output_size=" + detail::pair_str(o_.out); }

}  // namespace fovea::nn
