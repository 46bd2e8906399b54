// Gradient checks of the layer ops of issue 4: transposed convolution (f32: its CPU path is
// oneDNN's), upsampling, local response norm, adaptive pooling and unpooling (f64 loops).
#include <gtest/gtest.h>

#include "tests/ops/gradcheck_util.h"

using namespace fovea;
using fovea::testing::GradcheckOptions;
using test::check;
using test::kF32;
using test::rnd;

TEST(GradcheckLayers, ConvTranspose2d) {
  struct Case {
    ConvTranspose2dOptions o;
    std::int64_t cin, cout;
  };
  for (const Case& c :
       std::vector<Case>{{{}, 3, 2},
                         {{.stride = 2, .padding = 1, .output_padding = 1}, 4, 2},
                         {{.stride = Pair(2, 1), .padding = Pair(0, 1), .dilation = Pair(1, 2), .groups = 2}, 4, 6},
                         // output_padding >= stride (allowed by dilation) and > padding: rows no window reaches
                         {{.stride = 1, .output_padding = 1, .dilation = 2}, 2, 2},
                         {{.stride = 3, .padding = 2, .output_padding = 2, .groups = 2}, 2, 4}}) {
    const ConvTranspose2dOptions o = c.o;
    auto x = rnd({2, c.cin, 4, 5}, DType::f32);
    auto w = rnd({c.cin, c.cout / o.groups, 3, 2}, DType::f32, 2);
    auto b = rnd({c.cout}, DType::f32, 3);
    check([o](auto& v) { return conv_transpose2d(v[0], v[1], v[2], o); }, {x, w, b}, kF32);
  }
}

TEST(GradcheckLayers, Upsample) {
  auto x = rnd({2, 3, 4, 5});
  for (UpsampleOptions o :
       std::vector<UpsampleOptions>{{.size = {8, 10}},
                                    {.size = {7, 3}},
                                    {.scale = 2.0},
                                    {.scale = {1.5, 2.5}},
                                    {.size = {9, 7}, .mode = UpsampleMode::bilinear},
                                    {.size = {9, 7}, .mode = UpsampleMode::bilinear, .align_corners = true},
                                    {.size = {3, 2}, .mode = UpsampleMode::bilinear},
                                    {.scale = {1.7, 2.3}, .mode = UpsampleMode::bilinear},
                                    {.scale = 0.6, .mode = UpsampleMode::bilinear, .align_corners = true}})
    check([o](auto& v) { return upsample(v[0], o); }, {x});
  check([](auto& v) { return upsample(v[0], {.scale = 2.0, .mode = UpsampleMode::bilinear}); },
        {rnd({1, 2, 3, 3}, DType::f32)}, kF32);
}

TEST(GradcheckLayers, LocalResponseNorm) {
  auto x = rnd({2, 6, 3, 2});
  for (std::int64_t n : {1, 2, 3, 5, 8})
    check([n](auto& v) { return local_response_norm(v[0], {.size = n, .alpha = 0.5, .beta = 0.75, .k = 2.0}); }, {x});
  check([](auto& v) { return local_response_norm(v[0], {.size = 3}); }, {rnd({2, 4, 5})});
}

TEST(GradcheckLayers, AdaptivePooling) {
  auto x = rnd({2, 3, 7, 5});
  for (Pair out : {Pair(1), Pair(3, 2), Pair(4, 4), Pair(7, 5), Pair(10, 6)}) {
    check([out](auto& v) { return adaptive_avg_pool2d(v[0], out); }, {x});
    check([out](auto& v) { return adaptive_max_pool2d(v[0], out); }, {x});
  }
  check([](auto& v) { return global_avg_pool2d(v[0]); }, {x});
}

TEST(GradcheckLayers, MaxPoolIndicesAndUnpool) {
  auto x = rnd({2, 3, 6, 7});
  check([](auto& v) { return max_pool2d_with_indices(v[0], {.kernel = 2}).values; }, {x});
  // unpool's gradient with respect to the pooled values (indices held fixed, no repeats)
  Tensor idx = max_pool2d_with_indices(x.detach(), {.kernel = 2}).indices;
  check([idx](auto& v) { return max_unpool2d(v[0], idx, {6, 7}); }, {rnd({2, 3, 3, 3}, DType::f64, 2)});
  // pool then unpool: the gradient reaches the maxima only. Windows must not overlap here: a
  // maximum that two windows pick gets the gradient twice (PyTorch's gather backward)
  check(
      [](auto& v) {
        auto [y, i] = max_pool2d_with_indices(v[0], {.kernel = 2, .ceil_mode = true});
        return max_unpool2d(y, i, {6, 7});
      },
      {x});
}
