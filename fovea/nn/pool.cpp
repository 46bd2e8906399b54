#include "fovea/nn/pool.h"

#include "fovea/nn/repr.h"

namespace fovea::nn {

using detail::pair_str;

namespace {
std::string pool_repr(const Pool2dOptions& o, bool avg) {
  Pair s = (o.stride.h == 0 && o.stride.w == 0) ? o.kernel : o.stride;
  std::string r = fmt::format("kernel_size={}, stride={}, padding={}, ceil_mode={}", pair_str(o.kernel), pair_str(s),
                              pair_str(o.padding), o.ceil_mode ? "True" : "False");
  if (avg) r += fmt::format(", count_include_pad={}", o.count_include_pad ? "True" : "False");
  return r;
}
}  // namespace

std::string MaxPool2d::extra_repr() const { return pool_repr(o_, false); }
std::string AvgPool2d::extra_repr() const { return pool_repr(o_, true); }

namespace {
void check_out(Pair out, const char* type) {
  if (out.h < 1 || out.w < 1) fail(type, "output size must be >= 1, got {}x{}", out.h, out.w);
}
}  // namespace

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Options o) : WithOptions("AdaptiveAvgPool2d", o) {
  check_out(o.out, "AdaptiveAvgPool2d");
}
AdaptiveMaxPool2d::AdaptiveMaxPool2d(Options o) : WithOptions("AdaptiveMaxPool2d", o) {
  check_out(o.out, "AdaptiveMaxPool2d");
}

std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + pair_str(o_.out); }
std::string AdaptiveMaxPool2d::extra_repr() const { return "output_size=" + pair_str(o_.out); }

}  // namespace fovea::nn
