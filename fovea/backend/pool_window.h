#pragma once
// The pooling window of one output, shared by the CPU backend and the CUDA kernels (plain data,
// no fovea header but host_device.h: it compiles under nvcc): PyTorch's windows, ceil_mode and
// avg_pool2d divisor, and adaptive windows.
#include <cstdint>

#include "fovea/backend/host_device.h"

namespace fovea::backend {

// backend::Pool2dParams with the sizes of x: (N,C,H,W) -> y: (N,C,OH,OW), planes = N*C
struct PoolPlan {
  bool max = true;
  bool adaptive = false;
  bool count_include_pad = true;
  std::int64_t kernel[2] = {};
  std::int64_t stride[2] = {};
  std::int64_t pad_top = 0, pad_left = 0;
  std::int64_t pad_begin_limit[2] = {};
  std::int64_t planes = 0, H = 0, W = 0, OH = 0, OW = 0;
};

struct PoolWindow {
  std::int64_t h0, h1, w0, w1;  // clipped to the input
  std::int64_t divisor;         // average pooling
};

// Window of output (oh, ow) with PyTorch's avg_pool2d divisor (the padded window clipped at
// H + pad_begin_limit, or only the real pixels without count_include_pad), and adaptive windows
// [floor(i H / OH), ceil((i + 1) H / OH))
// (https://github.com/pytorch/pytorch/blob/v1.13.0/aten/src/ATen/native/AdaptivePooling.h).
FOVEA_HOST_DEVICE inline PoolWindow pool_window(const PoolPlan& p, std::int64_t oh, std::int64_t ow) {
  const std::int64_t H = p.H, W = p.W, OH = p.OH, OW = p.OW;
  if (p.adaptive) {
    PoolWindow w{oh * H / OH, ((oh + 1) * H + OH - 1) / OH, ow * W / OW, ((ow + 1) * W + OW - 1) / OW, 0};
    w.divisor = (w.h1 - w.h0) * (w.w1 - w.w0);
    return w;
  }
  const std::int64_t hs = oh * p.stride[0] - p.pad_top, ws = ow * p.stride[1] - p.pad_left;
  const std::int64_t he_k = hs + p.kernel[0], he_l = H + p.pad_begin_limit[0];
  const std::int64_t we_k = ws + p.kernel[1], we_l = W + p.pad_begin_limit[1];
  const std::int64_t he = he_k < he_l ? he_k : he_l, we = we_k < we_l ? we_k : we_l;
  const std::int64_t padded = (he - hs) * (we - ws);
  PoolWindow w{hs > 0 ? hs : 0, he < H ? he : H, ws > 0 ? ws : 0, we < W ? we : W, 0};
  w.divisor = p.count_include_pad ? padded : (w.h1 - w.h0) * (w.w1 - w.w0);
  return w;
}

}  // namespace fovea::backend
