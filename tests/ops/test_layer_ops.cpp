// The layer ops of issue 4 beyond their gradients and PyTorch parity (tests/golden): worked
// values, shape inference on the meta device, and error messages that name the op.
#include <gtest/gtest.h>

#include <string>

#include "fovea/ops/ops.h"

using namespace fovea;

namespace {

// Expects f to throw an Error whose message contains `part`.
template <typename F>
void expect_error(F f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one containing: " << part;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

Tensor meta(const Shape& s, DType dt = DType::f32) { return empty(s, {.dtype = dt, .device = kMeta}); }

}  // namespace

// A stride-2 transposed conv with a 2x2 kernel of ones copies each input pixel into a 2x2 block:
// the "un-pooling" picture of transposed convolution.
TEST(LayerOps, ConvTransposeSpreadsEachPixel) {
  Tensor x = from_vector<float>({1, 2, 3, 4}, {1, 1, 2, 2});
  Tensor y = conv_transpose2d(x, ones({1, 1, 2, 2}), {}, {.stride = 2});
  EXPECT_EQ(y.shape(), (Shape{1, 1, 4, 4}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
}

// conv_transpose2d is the input gradient of conv2d: <conv2d(a, w), b> = <a, conv_transpose2d(b, w)>.
TEST(LayerOps, ConvTransposeIsTheAdjointOfConv) {
  Generator g(3);
  Tensor a = randn({2, 3, 7, 6}, {}, g), w = randn({4, 3, 3, 3}, {}, g);
  Conv2dOptions co{.stride = 2, .padding = 1};
  Tensor ya = conv2d(a, w, {}, co);
  Tensor b = randn(ya.shape(), {}, g);
  // 7 and 6 both come from (7 or 8 -> 4) and (5 or 6 -> 3): output_padding picks 7 rows, 6 columns
  Tensor tb = conv_transpose2d(b, w, {}, {.stride = 2, .padding = 1, .output_padding = {0, 1}});
  ASSERT_EQ(tb.shape(), a.shape());
  EXPECT_NEAR(sum(ya * b).item(), sum(a * tb).item(), 1e-3);
}

TEST(LayerOps, ShapesOnMeta) {
  EXPECT_EQ(conv_transpose2d(meta({2, 4, 5, 6}), meta({4, 3, 3, 3}), meta({6}),
                             {.stride = 2, .padding = 1, .output_padding = 1, .groups = 2})
                .shape(),
            (Shape{2, 6, 10, 12}));
  // output_padding beyond the padding (allowed by dilation): rows that no window reaches
  EXPECT_EQ(conv_transpose2d(meta({1, 2, 4, 4}), meta({2, 2, 3, 3}), {}, {.output_padding = 1, .dilation = 2}).shape(),
            (Shape{1, 2, 9, 9}));
  EXPECT_EQ(upsample(meta({1, 3, 5, 7}), {.scale = {2.5, 0.5}}).shape(), (Shape{1, 3, 12, 3}));
  EXPECT_EQ(upsample(meta({1, 3, 5, 7}), {.size = {9, 4}, .mode = UpsampleMode::bilinear}).shape(),
            (Shape{1, 3, 9, 4}));
  EXPECT_EQ(local_response_norm(meta({2, 8, 5, 5}), {.size = 5}).shape(), (Shape{2, 8, 5, 5}));
  EXPECT_EQ(adaptive_avg_pool2d(meta({2, 8, 13, 13}), {6, 6}).shape(), (Shape{2, 8, 6, 6}));
  EXPECT_EQ(adaptive_max_pool2d(meta({2, 8, 13, 13}), 3).shape(), (Shape{2, 8, 3, 3}));
  EXPECT_EQ(global_avg_pool2d(meta({2, 8, 7, 7})).shape(), (Shape{2, 8, 1, 1}));
  auto [y, idx] = max_pool2d_with_indices(meta({2, 8, 13, 13}), {.kernel = 3, .stride = 2});
  EXPECT_EQ(y.shape(), (Shape{2, 8, 6, 6}));
  EXPECT_EQ(idx.shape(), (Shape{2, 8, 6, 6}));
  EXPECT_EQ(idx.dtype(), DType::i64);
  EXPECT_EQ(max_unpool2d(y, idx, {13, 13}).shape(), (Shape{2, 8, 13, 13}));
}

// Worked values: PyTorch's nearest rule floor(dst * in / out), and bilinear with both alignments.
TEST(LayerOps, UpsampleSourceIndices) {
  Tensor x = from_vector<float>({0, 1, 2}, {1, 1, 1, 3});
  auto row = [&](UpsampleOptions o) { return upsample(x, o).to_vector<float>(); };
  EXPECT_EQ(row({.size = {1, 5}}), (std::vector<float>{0, 0, 1, 1, 2}));  // floor(i * 3/5)
  EXPECT_EQ(row({.size = {1, 6}}), (std::vector<float>{0, 0, 1, 1, 2, 2}));
  EXPECT_EQ(row({.size = {1, 5}, .mode = UpsampleMode::bilinear, .align_corners = true}),
            (std::vector<float>{0, 0.5, 1, 1.5, 2}));  // i * (3-1)/(5-1)
  // pixel centres: src = (i + 0.5) * 3/6 - 0.5, clamped at 0
  EXPECT_EQ(row({.scale = {1.0, 2.0}, .mode = UpsampleMode::bilinear}),
            (std::vector<float>{0, 0.25, 0.75, 1.25, 1.75, 2}));
}

// AlexNet's LRN on one pixel: with alpha = 1 the division is visible.
TEST(LayerOps, LocalResponseNormValues) {
  Tensor x = from_vector<double>({1, 2, 3}, {1, 3, 1, 1});
  auto y = local_response_norm(x, {.size = 2, .alpha = 1.0, .beta = 1.0, .k = 1.0}).to_vector<double>();
  // size 2: channel c sees c-1 and c (1 before, 0 after); the mean is over 2
  EXPECT_DOUBLE_EQ(y[0], 1.0 / (1 + (0 + 1) / 2.0));
  EXPECT_DOUBLE_EQ(y[1], 2.0 / (1 + (1 + 4) / 2.0));
  EXPECT_DOUBLE_EQ(y[2], 3.0 / (1 + (4 + 9) / 2.0));
}

// 5 -> 3: windows [0,2), [1,4), [3,5) (start floor(i*5/3), end ceil((i+1)*5/3)) overlap.
TEST(LayerOps, AdaptiveWindows) {
  Tensor x = from_vector<float>({1, 5, 2, 4, 3}, {1, 1, 1, 5});
  EXPECT_EQ(adaptive_max_pool2d(x, {1, 3}).to_vector<float>(), (std::vector<float>{5, 5, 4}));
  EXPECT_EQ(adaptive_avg_pool2d(x, {1, 3}).to_vector<float>(), (std::vector<float>{3, 11.0f / 3, 3.5}));
}

TEST(LayerOps, UnpoolPutsMaximaBack) {
  Tensor x = from_vector<float>({1, 9, 2, 3, 4, 5, 8, 6, 7, 0, 1, 2, 3, 4, 5, 6}, {1, 1, 4, 4});
  auto [y, idx] = max_pool2d_with_indices(x, {.kernel = 2});
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{9, 8, 7, 6}));
  EXPECT_EQ(idx.to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 6, 8, 15}));
  EXPECT_EQ(max_unpool2d(y, idx, {4, 4}).to_vector<float>(),
            (std::vector<float>{0, 9, 0, 0, 0, 0, 8, 0, 7, 0, 0, 0, 0, 0, 0, 6}));
  // overlapping windows pick the 9 twice; it is put back once, unchanged
  auto [yo, io] = max_pool2d_with_indices(x, {.kernel = 2, .stride = 1});
  EXPECT_EQ(max_unpool2d(yo, io, {4, 4}).to_vector<float>()[1], 9.0f);
}

TEST(LayerOps, ErrorsNameTheOp) {
  Tensor x = randn({1, 2, 4, 4});
  expect_error(
      [&] {
        conv_transpose2d(x, randn({2, 2, 3, 3}), {}, {.stride = 2, .output_padding = 2});
      },
      "[conv_transpose2d] output_padding 2x2 must be non-negative and smaller than stride or dilation");
  expect_error(
      [&] {
        conv_transpose2d(x, randn({3, 2, 3, 3}));
      },
      "[conv_transpose2d] weight (3,2,3,3) expects 3 input channels, got input (1,2,4,4)");
  expect_error([&] { upsample(x, {.size = 8, .scale = 2.0}); }, "[upsample] give exactly one of size and scale");
  expect_error([&] { upsample(x, {.scale = 2.0, .align_corners = true}); }, "[upsample] align_corners applies to");
  expect_error([&] { local_response_norm(x, {}); }, "[local_response_norm] size must be >= 1, got 0");
  expect_error([&] { adaptive_avg_pool2d(x, {0, 2}); }, "[adaptive_avg_pool2d] output size must be >= 1, got 0x2");
  Tensor idx = full({1, 2, 2, 2}, 16, {.dtype = DType::i64});
  expect_error(
      [&] {
        max_unpool2d(randn({1, 2, 2, 2}), idx, {4, 4});
      },
      "[max_unpool2d] index 16 out of range for output 4x4 (16 positions per plane)");
  expect_error(
      [&] {
        max_unpool2d(randn({1, 2, 2, 2}), idx.to(DType::f32), {4, 4});
      },
      "[max_unpool2d] expected i64 indices, got f32");
}
