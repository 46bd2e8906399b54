// Per-image transforms, channel statistics and the --augment parser.
#include "fovea/data/transforms.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include "fovea/ops/ops.h"
#include "tests/data/data_test_util.h"

namespace {

using fovea::DType;
using fovea::Generator;
using fovea::Shape;
using fovea::Tensor;
using fovea::test::error_of;
using fovea::test::raw_bytes;
namespace data = fovea::data;

Tensor f32_image(const Shape& s, const std::vector<float>& v) { return fovea::from_vector<float>(v, s); }

// (C,H,W) f32 with values 0, 1, 2, ... in row-major order
Tensor ramp(const Shape& s) {
  return fovea::arange(0, static_cast<double>(fovea::numel(s)), 1, {.dtype = DType::f32}).reshape(s);
}

std::vector<float> values(const Tensor& t) { return t.contiguous().to_vector<float>(); }

Tensor run(const data::Transform& t, const Tensor& x, std::uint64_t seed = 0) {
  Generator g(seed);
  return t(x, g);
}

TEST(Transform, ToTensorRange) {
  const Tensor x = fovea::from_vector<std::uint8_t>({0, 128, 255, 51}, {1, 2, 2});
  const Tensor y = run(data::to_tensor(), x);
  EXPECT_EQ(y.dtype(), DType::f32);
  EXPECT_EQ(y.shape(), (Shape{1, 2, 2}));
  EXPECT_EQ(values(y), (std::vector<float>{0.0f, 128.0f / 255.0f, 1.0f, 0.2f}));
  EXPECT_CONTAINS(error_of([&] { run(data::to_tensor(), y); }),
                  "[to_tensor] expected a CPU image (C,H,W) of u8, got f32 (1,2,2)");
  EXPECT_CONTAINS(error_of([&] {
                    run(data::to_tensor(), fovea::zeros({2, 2}, {.dtype = DType::u8}));
                  }),
                  "got u8 (2,2)");
}

TEST(Transform, NormalizeValues) {
  const Tensor x = f32_image({2, 1, 2}, {0.0f, 1.0f, 0.5f, 0.25f});
  const Tensor y = run(data::normalize({0.5, 0.25}, {0.5, 0.125}), x);
  EXPECT_EQ(values(y), (std::vector<float>{-1.0f, 1.0f, 2.0f, 0.0f}));
  EXPECT_CONTAINS(error_of([&] { run(data::normalize({0.5}, {0.5}), x); }),
                  "[normalize] image has 2 channels (2,1,2), mean and std have 1");
  EXPECT_CONTAINS(error_of([&] { data::normalize({0.5, 0.5}, {0.5}); }), "got 2 means and 1 stds");
  EXPECT_CONTAINS(error_of([&] { data::normalize({0.5}, {0.0}); }), "std must be > 0, got 0 for channel 0");
  EXPECT_CONTAINS(error_of([&] {
                    run(data::normalize({0.5}, {0.5}), fovea::zeros({1, 2, 2}, {.dtype = DType::u8}));
                  }),
                  "(apply to_tensor() first)");
}

// Hand-computed bilinear values, half-pixel centres (PyTorch's interpolate(mode="bilinear",
// align_corners=False) gives the same numbers).
TEST(Transform, ResizeBilinear) {
  const Tensor up = run(data::resize(4, 4), ramp({1, 2, 2}));
  // source rows/cols sampled at 0, 0.25, 0.75, 1 (clamped at the edges)
  EXPECT_EQ(values(up), (std::vector<float>{0.0f, 0.25f, 0.75f, 1.0f, 0.5f, 0.75f, 1.25f, 1.5f, 1.5f, 1.75f, 2.25f,
                                            2.5f, 2.0f, 2.25f, 2.75f, 3.0f}));
  // halving averages each 2x2 block (sample points fall midway)
  const Tensor down = run(data::resize(2, 2), ramp({1, 4, 4}));
  EXPECT_EQ(values(down), (std::vector<float>{2.5f, 4.5f, 10.5f, 12.5f}));
  // non-square, two channels: (2,3,5) -> (2,2,3); channel 1 is channel 0 + 15
  const Tensor x = ramp({2, 3, 5});
  const Tensor y = run(data::resize(2, 3), x);
  ASSERT_EQ(y.shape(), (Shape{2, 2, 3}));
  // out(0,1): src y = max((0.5) * 1.5 - 0.5, 0) = 0.25, src x = 1.5 * 5/3 - 0.5 = 2.0 -> 0.75*2 + 0.25*7 = 3.25
  EXPECT_NEAR(values(y)[1], 3.25f, 1e-5f);
  EXPECT_NEAR(values(y)[7], 3.25f + 15.0f, 1e-5f);
  // the same size is the identity
  EXPECT_EQ(values(run(data::resize(3, 5), x)), values(x));
  EXPECT_CONTAINS(error_of([&] { data::resize(0, 3); }), "[resize] size must be at least 1x1, got 0x3");
}

// The window of the zero-padded image `x` (C,H,W) at (top, left) of size h x w.
Tensor padded_window(const Tensor& x, std::int64_t pad, std::int64_t top, std::int64_t left, std::int64_t h,
                     std::int64_t w) {
  const std::int64_t C = x.size(0), H = x.size(1), W = x.size(2);
  const std::vector<float> v = values(x);
  std::vector<float> out;
  for (std::int64_t c = 0; c < C; ++c)
    for (std::int64_t y = top - pad; y < top - pad + h; ++y)
      for (std::int64_t xx = left - pad; xx < left - pad + w; ++xx)
        out.push_back(y < 0 || y >= H || xx < 0 || xx >= W ? 0.0f : v[static_cast<std::size_t>((c * H + y) * W + xx)]);
  return f32_image({C, h, w}, out);
}

TEST(Transform, RandomCropShapesAndContent) {
  const Tensor x = ramp({2, 5, 6}) + 1.0;  // no zeros inside the image
  for (std::int64_t pad : {0, 2}) {
    std::set<std::pair<std::int64_t, std::int64_t>> offsets;
    for (std::uint64_t seed = 0; seed < 40; ++seed) {
      const Tensor y = run(data::random_crop(4, 3, pad), x, seed);
      ASSERT_EQ(y.shape(), (Shape{2, 4, 3}));
      // the crop is one of the windows of the padded image
      bool found = false;
      for (std::int64_t top = 0; top <= 5 + 2 * pad - 4 && !found; ++top)
        for (std::int64_t left = 0; left <= 6 + 2 * pad - 3 && !found; ++left)
          if (values(padded_window(x, pad, top, left, 4, 3)) == values(y)) {
            found = true;
            offsets.insert({top, left});
          }
      EXPECT_TRUE(found) << "seed " << seed << ", padding " << pad;
    }
    EXPECT_GT(offsets.size(), 4u) << "crops should land in several places";
  }
  // u8 images crop too, and the full size with no padding is the identity
  const Tensor u = fovea::test::random_u8_image({3, 4, 4}, 9);
  EXPECT_EQ(raw_bytes(run(data::random_crop(4, 4), u)), raw_bytes(u));
  EXPECT_CONTAINS(error_of([&] { run(data::random_crop(9, 9, 2), u); }),
                  "[random_crop] crop 9x9 is larger than the padded image 8x8 (image (3,4,4), padding 2)");
}

TEST(Transform, HorizontalFlip) {
  const Tensor x = ramp({2, 2, 3});
  EXPECT_EQ(values(run(data::random_horizontal_flip(1.0), x)),
            (std::vector<float>{2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9}));
  EXPECT_EQ(values(run(data::random_horizontal_flip(0.0), x)), values(x));
  const Tensor u = fovea::from_vector<std::uint8_t>({1, 2, 3}, {1, 1, 3});
  EXPECT_EQ(raw_bytes(run(data::random_horizontal_flip(1.0), u)), (std::vector<unsigned char>{3, 2, 1}));
  // p = 0.5 flips some seeds and not others
  int flipped = 0;
  for (std::uint64_t seed = 0; seed < 100; ++seed)
    flipped += values(run(data::random_horizontal_flip(0.5), x, seed))[0] == 2.0f;
  EXPECT_GT(flipped, 25);
  EXPECT_LT(flipped, 75);
}

TEST(Transform, RotationByZeroIsTheIdentity) {
  const Tensor x = run(data::to_tensor(), fovea::test::random_u8_image({3, 7, 5}, 2));
  EXPECT_EQ(values(data::rotate(x, 0.0)), values(x));
  EXPECT_EQ(values(run(data::random_rotation(0.0), x)), values(x));
}

TEST(Transform, RotationBy90PermutesPixels) {
  const Tensor x = ramp({2, 4, 4});
  const std::vector<float> v = values(x);
  const std::vector<float> r = values(data::rotate(x, 90.0));
  const std::vector<float> r180 = values(data::rotate(x, 180.0));
  // counter-clockwise: out(c, y, x) = in(c, x, W-1-y); 180 degrees: in(c, H-1-y, W-1-x)
  for (std::int64_t c = 0; c < 2; ++c)
    for (std::int64_t y = 0; y < 4; ++y)
      for (std::int64_t xx = 0; xx < 4; ++xx) {
        const std::size_t o = static_cast<std::size_t>((c * 4 + y) * 4 + xx);
        EXPECT_NEAR(r[o], v[static_cast<std::size_t>((c * 4 + xx) * 4 + (3 - y))], 1e-5) << c << y << xx;
        EXPECT_NEAR(r180[o], v[static_cast<std::size_t>((c * 4 + (3 - y)) * 4 + (3 - xx))], 1e-5) << c << y << xx;
      }
  // a rotation that is not a multiple of 90 degrees leaves zeros in the corners
  const std::vector<float> r45 = values(data::rotate(ramp({1, 8, 8}) + 1.0, 45.0));
  EXPECT_EQ(r45[0], 0.0f);
  EXPECT_GT(r45[static_cast<std::size_t>(3 * 8 + 4)], 0.0f);
  EXPECT_CONTAINS(error_of([&] { data::random_rotation(-1); }), "[random_rotation] degrees must be >= 0, got -1");
}

TEST(Transform, RandomErasingChangesARectangle) {
  const Tensor x = fovea::ones({2, 20, 20});
  int erased_images = 0;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    const std::vector<float> y = values(run(data::random_erasing(1.0), x, seed));
    // the zeros form one rectangle, the same in both channels
    std::int64_t count = 0, y0 = 20, y1 = -1, x0 = 20, x1 = -1;
    for (std::int64_t r = 0; r < 20; ++r)
      for (std::int64_t c = 0; c < 20; ++c)
        if (y[static_cast<std::size_t>(r * 20 + c)] == 0.0f) {
          ++count;
          y0 = std::min(y0, r), y1 = std::max(y1, r), x0 = std::min(x0, c), x1 = std::max(x1, c);
          EXPECT_EQ(y[static_cast<std::size_t>(400 + r * 20 + c)], 0.0f);
        }
    if (count == 0) continue;  // 10 tries without a fitting rectangle: unchanged
    ++erased_images;
    EXPECT_EQ(count, (y1 - y0 + 1) * (x1 - x0 + 1));
    // area in [0.02, 0.33] of 400 pixels, give or take rounding of the sides
    EXPECT_GE(count, 4);
    EXPECT_LE(count, 170);
  }
  EXPECT_GT(erased_images, 15);
  EXPECT_EQ(values(run(data::random_erasing(0.0), x)), values(x));
  // the fill value
  const std::vector<float> y = values(run(data::random_erasing(1.0, 0.2, 0.2, 1.0, 1.0, -3.0), x));
  EXPECT_EQ(std::count(y.begin(), y.end(), -3.0f), 2 * 9 * 9);  // sqrt(0.2 * 400) = 8.94 -> 9
  EXPECT_CONTAINS(error_of([&] { data::random_erasing(0.5, 0.5, 0.1); }), "[random_erasing] scale range");
}

TEST(Transform, SameSeedSameResult) {
  const data::Transform t = data::compose(
      {data::to_tensor(), data::random_crop(12, 12, 2), data::random_horizontal_flip(), data::random_rotation(20),
       data::random_erasing(0.7), data::normalize({0.5, 0.5, 0.5}, {0.2, 0.2, 0.2})});
  const Tensor x = fovea::test::random_u8_image({3, 12, 12}, 3);
  const Tensor a = run(t, x, 42), b = run(t, x, 42), c = run(t, x, 43);
  EXPECT_EQ(raw_bytes(a), raw_bytes(b));
  EXPECT_NE(raw_bytes(a), raw_bytes(c));
  EXPECT_EQ(a.shape(), (Shape{3, 12, 12}));
  EXPECT_CONTAINS(error_of([&] {
                    data::compose({data::to_tensor(), data::Transform{}});
                  }),
                  "[compose] transform 1 of 2 is empty");
}

TEST(Transform, ChannelStatsAreExact) {
  std::vector<Tensor> images = {fovea::from_vector<std::uint8_t>({0, 255, 51, 51}, {2, 1, 2}),
                                fovea::from_vector<std::uint8_t>({255, 255, 102, 102}, {2, 1, 2})};
  const fovea::test::MemoryDataset ds(images, {0, 1});
  const auto [mean, stdev] = data::channel_stats(ds);
  ASSERT_EQ(mean.size(), 2u);
  // channel 0: 0, 1, 1, 1 -> mean 0.75, population std sqrt(0.1875); channel 1: 0.2, 0.2, 0.4, 0.4
  EXPECT_DOUBLE_EQ(mean[0], 0.75);
  EXPECT_NEAR(stdev[0], std::sqrt(0.1875), 1e-15);
  EXPECT_DOUBLE_EQ(mean[1], 0.3);
  EXPECT_DOUBLE_EQ(stdev[1], 0.1);
  const fovea::test::MemoryDataset mixed({images[0], fovea::zeros({1, 1, 2}, {.dtype = DType::u8})}, {0, 1});
  EXPECT_CONTAINS(error_of([&] { data::channel_stats(mixed); }), "image 1 of memory has 1 channels, image 0 has 2");
}

TEST(Transform, ParseAugment) {
  EXPECT_EQ(data::parse_augment("", 28, 28).size(), 0u);
  EXPECT_EQ(data::parse_augment("crop,flip,rotate=10,erase", 28, 28).size(), 4u);
  EXPECT_EQ(data::parse_augment(" crop=3 , erase=0.25 ", 28, 28).size(), 2u);
  const Tensor x = run(data::to_tensor(), fovea::test::random_u8_image({1, 28, 28}, 1));
  for (const char* spec : {"crop", "crop=0", "flip", "rotate=15", "erase", "erase=1"}) {
    const std::vector<data::Transform> ts = data::parse_augment(spec, 28, 28);
    ASSERT_EQ(ts.size(), 1u) << spec;
    EXPECT_EQ(run(ts[0], x).shape(), (Shape{1, 28, 28})) << spec;
  }
  // crop=0 on a full-size image can only be the identity
  EXPECT_EQ(values(run(data::parse_augment("crop=0", 28, 28)[0], x, 5)), values(x));
  const std::string unknown = error_of([] { data::parse_augment("crop,blur", 28, 28); });
  EXPECT_CONTAINS(unknown, "[augment] unknown item 'blur' in 'crop,blur'");
  EXPECT_CONTAINS(unknown, "known: crop, crop=PAD, flip, rotate=DEG, erase, erase=P");
  EXPECT_CONTAINS(error_of([] { data::parse_augment("rotate", 28, 28); }), "unknown item 'rotate'");
  EXPECT_CONTAINS(error_of([] { data::parse_augment("rotate=abc", 28, 28); }), "'rotate=abc': expected a number");
  EXPECT_CONTAINS(error_of([] { data::parse_augment("erase=2", 28, 28); }), "expected a number in [0, 1]");
  EXPECT_CONTAINS(error_of([] { data::parse_augment("crop=1.5", 28, 28); }), "whole number of pixels");
}

}  // namespace
