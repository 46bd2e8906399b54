#include "fovea/nn/resample.h"

#include "fovea/nn/repr.h"

namespace fovea::nn {

// PyTorch's form, "scale_factor=2.0, mode='nearest'", plus align_corners when set
std::string Upsample::extra_repr() const {
  std::string r;
  if (o_.size != Pair(0)) {
    r = "size=" + detail::pair_str(o_.size);
  } else if (o_.scale.h == o_.scale.w) {
    r = "scale_factor=" + detail::py_float(o_.scale.h);
  } else {
    r = fmt::format("scale_factor=({}, {})", detail::py_float(o_.scale.h), detail::py_float(o_.scale.w));
  }
  r += o_.mode == UpsampleMode::nearest ? ", mode='nearest'" : ", mode='bilinear'";
  if (o_.align_corners) r += ", align_corners=True";
  return r;
}

}  // namespace fovea::nn
