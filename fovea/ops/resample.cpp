// Upsampling (and downsampling) by nearest neighbour or bilinear interpolation, as
// torch.nn.functional.interpolate on 4-D input
// (https://pytorch.org/docs/1.13/generated/torch.nn.functional.interpolate.html).
// Output size: the given size, or floor(input * scale) per axis.
#include <cmath>

#include "fovea/ops/detail.h"
#include "fovea/ops/trace.h"

namespace fovea {

using detail::be;

static Tensor upsample_untraced(const Tensor& x, const UpsampleOptions& o) {
  const char* op = "upsample";
  detail::check_defined(x, op, "input");
  detail::check_floating(x, op);
  if (x.dim() != 4) fail(op, "expected 4-D input (N,C,H,W), got {}", shape_str(x.shape()));
  const bool by_size = o.size.h != 0 || o.size.w != 0;
  const bool by_scale = o.scale.h != 0 || o.scale.w != 0;
  if (by_size == by_scale)
    fail(op, "give exactly one of size and scale, got size {}x{} and scale {}x{}", o.size.h, o.size.w, o.scale.h,
         o.scale.w);
  if (o.align_corners && o.mode != UpsampleMode::bilinear) fail(op, "align_corners applies to bilinear mode only");
  const std::int64_t H = x.size(2), W = x.size(3);
  if (H < 1 || W < 1) fail(op, "expected a non-empty input plane, got {}", shape_str(x.shape()));
  if (by_scale && (!(o.scale.h > 0) || !(o.scale.w > 0)))
    fail(op, "scale must be > 0, got {}x{}", o.scale.h, o.scale.w);
  const std::int64_t OH =
      by_size ? o.size.h : static_cast<std::int64_t>(std::floor(static_cast<double>(H) * o.scale.h));
  const std::int64_t OW =
      by_size ? o.size.w : static_cast<std::int64_t>(std::floor(static_cast<double>(W) * o.scale.w));
  if (OH < 1 || OW < 1) fail(op, "output size must be >= 1, got {}x{} for input {}", OH, OW, shape_str(x.shape()));
  backend::Resample2dParams p{
      .mode = o.mode == UpsampleMode::nearest ? backend::ResampleMode::nearest : backend::ResampleMode::bilinear,
      .align_corners = o.align_corners,
      .scale = {by_scale ? o.scale.h : 0.0, by_scale ? o.scale.w : 0.0}};
  Tensor y = detail::new_empty(x, {x.size(0), x.size(1), OH, OW});
  be(x).resample2d_forward(x.detach().contiguous(), y, p);
  return autograd::record(op, y, {x}, [xs = x.shape(), p](const Tensor& g) {
    Tensor gx = detail::new_empty(g, xs);
    be(g).resample2d_backward(g.contiguous(), gx, p);
    return std::vector<Tensor>{gx};
  });
}

Tensor upsample(const Tensor& x, const UpsampleOptions& o) {
  Tensor y = upsample_untraced(x, o);
  return trace::traced(y, "Resize", {x},
                       {{"mode", std::string(o.mode == UpsampleMode::nearest ? "nearest" : "linear")},
                        {"align_corners", std::int64_t{o.align_corners}},
                        {"scales", std::vector<double>{o.scale.h, o.scale.w}},
                        {"sizes", std::vector<std::int64_t>{y.size(2), y.size(3)}}});
}

}  // namespace fovea
