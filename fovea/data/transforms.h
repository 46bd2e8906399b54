#pragma once
// Per-image transforms, composed in order. Each gets its own generator, seeded from
// (seed, epoch, index) by the DataLoader, so augmentation does not depend on the worker count.
#include <functional>
#include <string>
#include <vector>

#include "fovea/core/generator.h"
#include "fovea/core/tensor.h"

namespace fovea::data {

// image: (C,H,W); u8 before to_tensor(), f32 after
using Transform = std::function<Tensor(const Tensor& image, Generator& g)>;

Transform compose(std::vector<Transform> ts);
Transform to_tensor();                                                            // u8 -> f32 in [0, 1]
Transform normalize(std::vector<double> mean, std::vector<double> std);           // per channel (f32)
Transform resize(std::int64_t h, std::int64_t w);                                 // bilinear, half-pixel centres (f32)
Transform random_crop(std::int64_t h, std::int64_t w, std::int64_t padding = 0);  // zero padding
Transform random_horizontal_flip(double p = 0.5);
Transform random_rotation(double degrees);  // uniform in [-degrees, degrees], bilinear, zero fill
// Rotates an f32 (C,H,W) image counter-clockwise about its centre (bilinear, zero fill): random_rotation's kernel.
Tensor rotate(const Tensor& image, double degrees);
// Zhong et al. 2017: with probability p erase a rectangle of area in [scale_lo, scale_hi] of
// the image and aspect ratio in [ratio_lo, ratio_hi], filled with `value`.
Transform random_erasing(double p = 0.5, double scale_lo = 0.02, double scale_hi = 0.33, double ratio_lo = 0.3,
                         double ratio_hi = 3.3, double value = 0.0);

// Per-channel mean and standard deviation of a dataset's images in [0, 1] (exact, over all pixels).
class Dataset;
std::pair<std::vector<double>, std::vector<double>> channel_stats(const Dataset& ds);

// Parses an augmentation list such as "crop,flip,rotate=10,erase" (crop pads by 4 for 32x32
// and larger images, 2 below); errors name the unknown item.
std::vector<Transform> parse_augment(const std::string& spec, std::int64_t h, std::int64_t w);

}  // namespace fovea::data
