// Per-image transforms as plain loops over contiguous CPU data: they run in the DataLoader's
// worker threads, so they record no autograd history and start no OpenMP teams.
#include "fovea/data/transforms.h"
#include "fovea/backend/interpolation.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <numbers>
#include <optional>
#include <string_view>

#include "fovea/core/error.h"
#include "fovea/data/dataset.h"

namespace fovea::data {

namespace {

std::string describe(const Tensor& x) {
  if (!x.defined()) return "an undefined tensor";
  std::string s = fmt::format("{} {}", dtype_name(x.dtype()), shape_str(x.shape()));
  if (x.device() != kCPU) s += " on " + x.device().str();
  return s;
}

// x as a contiguous CPU (C,H,W) image of one of `dtypes`.
Tensor image_arg(const Tensor& x, const char* op, std::initializer_list<DType> dtypes) {
  const bool dtype_ok = x.defined() && std::find(dtypes.begin(), dtypes.end(), x.dtype()) != dtypes.end();
  if (!x.defined() || x.device() != kCPU || x.dim() != 3 || !dtype_ok) {
    std::string want;
    for (DType t : dtypes) want += (want.empty() ? "" : " or ") + std::string(dtype_name(t));
    const bool needs_float =
        dtypes.size() == 1 && *dtypes.begin() == DType::f32 && x.defined() && x.dtype() == DType::u8;
    fail(op, "expected a CPU image (C,H,W) of {}, got {}{}", want, describe(x),
         needs_float ? " (apply to_tensor() first)" : "");
  }
  return x.contiguous();
}

// Runs f<T>() for the u8 or f32 element type of x.
template <typename F>
Tensor by_dtype(const Tensor& x, F f) {
  if (x.dtype() == DType::u8) return f.template operator()<std::uint8_t>();
  return f.template operator()<float>();
}

// Source sample positions for a linear resize, half-pixel centres (align_corners=False):
// src = max((dst + 0.5) * in / out - 0.5, 0), as PyTorch's area_pixel_compute_source_index.
// Zero-filled and copied tensors made here rather than by zeros()/clone(), whose backend
// kernels may start an OpenMP team inside a worker thread.
Tensor zero_image(const Shape& s, DType dt) {
  Tensor t = empty(s, {.dtype = dt});
  std::memset(t.raw_data(), 0, static_cast<std::size_t>(t.numel()) * dtype_size(dt));
  return t;
}

Tensor copy_image(const Tensor& x) {
  Tensor t = empty(x.shape(), {.dtype = x.dtype()});
  std::memcpy(t.raw_data(), x.raw_data(), static_cast<std::size_t>(x.numel()) * dtype_size(x.dtype()));
  return t;
}

std::int64_t draw_below(Generator& g, std::int64_t n) {
  return static_cast<std::int64_t>(g.below(static_cast<std::uint64_t>(n)));
}

double uniform(Generator& g, double lo, double hi) { return lo + (hi - lo) * g.uniform(); }

// "crop=4" -> {"crop", "4"}; "flip" -> {"flip", nullopt}
std::pair<std::string_view, std::optional<std::string_view>> split_item(std::string_view item) {
  const std::size_t eq = item.find('=');
  if (eq == std::string_view::npos) return {item, std::nullopt};
  return {item.substr(0, eq), item.substr(eq + 1)};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

constexpr const char* kAugmentItems = "crop, crop=PAD, flip, rotate=DEG, erase, erase=P";

double parse_number(std::string_view item, std::string_view value, double lo, double hi) {
  double v = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size() || !(v >= lo && v <= hi))
    fail("augment", "'{}': expected a number in [{}, {}] after '='", item, lo, hi);
  return v;
}

}  // namespace

Transform compose(std::vector<Transform> ts) {
  for (std::size_t i = 0; i < ts.size(); ++i)
    if (!ts[i]) fail("compose", "transform {} of {} is empty", i, ts.size());
  return [ts = std::move(ts)](const Tensor& image, Generator& g) {
    Tensor x = image;
    for (const Transform& t : ts) x = t(x, g);
    return x;
  };
}

Transform to_tensor() {
  return [](const Tensor& image, Generator&) {
    const Tensor x = image_arg(image, "to_tensor", {DType::u8});
    Tensor out = empty(x.shape());
    const std::uint8_t* s = x.data<std::uint8_t>();
    float* d = out.data<float>();
    for (std::int64_t i = 0, n = x.numel(); i < n; ++i) d[i] = static_cast<float>(s[i]) / 255.0f;
    return out;
  };
}

Transform normalize(std::vector<double> mean, std::vector<double> stdev) {
  if (mean.empty() || mean.size() != stdev.size())
    fail("normalize", "expected one mean and one std per channel, got {} means and {} stds", mean.size(), stdev.size());
  for (std::size_t c = 0; c < stdev.size(); ++c)
    if (!(stdev[c] > 0)) fail("normalize", "std must be > 0, got {} for channel {}", stdev[c], c);
  return [mean = std::move(mean), stdev = std::move(stdev)](const Tensor& image, Generator&) {
    const Tensor x = image_arg(image, "normalize", {DType::f32});
    if (x.size(0) != static_cast<std::int64_t>(mean.size()))
      fail("normalize", "image has {} channels {}, mean and std have {}", x.size(0), shape_str(x.shape()), mean.size());
    Tensor out = empty(x.shape());
    const std::int64_t plane = x.size(1) * x.size(2);
    for (std::int64_t c = 0; c < x.size(0); ++c) {
      // f32 arithmetic, (x - mean) / std, as torchvision's normalize
      const auto m = static_cast<float>(mean[static_cast<std::size_t>(c)]);
      const auto s = static_cast<float>(stdev[static_cast<std::size_t>(c)]);
      const float* src = x.data<float>() + c * plane;
      float* dst = out.data<float>() + c * plane;
      for (std::int64_t i = 0; i < plane; ++i) dst[i] = (src[i] - m) / s;
    }
    return out;
  };
}

Transform resize(std::int64_t h, std::int64_t w) {
  if (h < 1 || w < 1) fail("resize", "size must be at least 1x1, got {}x{}", h, w);
  return [h, w](const Tensor& image, Generator&) {
    const Tensor x = image_arg(image, "resize", {DType::f32});
    const std::int64_t C = x.size(0), H = x.size(1), W = x.size(2);
    if (H < 1 || W < 1) fail("resize", "cannot resize an empty image {}", shape_str(x.shape()));
    if (H == h && W == w) return x;  // bilinear at the same size is the identity
    const auto ty = backend::interp::linear_taps<float>(H, h, false, 0),
               tx = backend::interp::linear_taps<float>(W, w, false, 0);
    Tensor out = empty({C, h, w});
    for (std::int64_t c = 0; c < C; ++c) {
      const float* src = x.data<float>() + c * H * W;
      float* dst = out.data<float>() + c * h * w;
      for (std::int64_t y = 0; y < h; ++y) {
        const auto& a = ty[static_cast<std::size_t>(y)];
        const float* r0 = src + a.i0 * W;
        const float* r1 = src + a.i1 * W;
        for (std::int64_t xo = 0; xo < w; ++xo) {
          const auto& b = tx[static_cast<std::size_t>(xo)];
          dst[y * w + xo] = a.l0 * (b.l0 * r0[b.i0] + b.l1 * r0[b.i1]) + a.l1 * (b.l0 * r1[b.i0] + b.l1 * r1[b.i1]);
        }
      }
    }
    return out;
  };
}

Transform random_crop(std::int64_t h, std::int64_t w, std::int64_t padding) {
  if (h < 1 || w < 1) fail("random_crop", "size must be at least 1x1, got {}x{}", h, w);
  if (padding < 0) fail("random_crop", "padding must be >= 0, got {}", padding);
  return [h, w, padding](const Tensor& image, Generator& g) {
    const Tensor x = image_arg(image, "random_crop", {DType::u8, DType::f32});
    const std::int64_t C = x.size(0), H = x.size(1), W = x.size(2);
    if (H + 2 * padding < h || W + 2 * padding < w)
      fail("random_crop", "crop {}x{} is larger than the padded image {}x{} (image {}, padding {})", h, w,
           H + 2 * padding, W + 2 * padding, shape_str(x.shape()), padding);
    // offsets into the padded image, as torchvision's RandomCrop.get_params
    const std::int64_t top = draw_below(g, H + 2 * padding - h + 1) - padding;
    const std::int64_t left = draw_below(g, W + 2 * padding - w + 1) - padding;
    return by_dtype(x, [&]<typename T>() {
      Tensor out = zero_image({C, h, w}, x.dtype());
      const std::int64_t y0 = std::max<std::int64_t>(0, -top), y1 = std::min(h, H - top);
      const std::int64_t x0 = std::max<std::int64_t>(0, -left), x1 = std::min(w, W - left);
      for (std::int64_t c = 0; c < C && x0 < x1; ++c)
        for (std::int64_t y = y0; y < y1; ++y)
          std::memcpy(out.data<T>() + (c * h + y) * w + x0, x.data<T>() + (c * H + y + top) * W + x0 + left,
                      static_cast<std::size_t>(x1 - x0) * sizeof(T));
      return out;
    });
  };
}

Transform random_horizontal_flip(double p) {
  if (!(p >= 0 && p <= 1)) fail("random_horizontal_flip", "p must be in [0, 1], got {}", p);
  return [p](const Tensor& image, Generator& g) {
    const Tensor x = image_arg(image, "random_horizontal_flip", {DType::u8, DType::f32});
    if (!(g.uniform() < p)) return x;
    const std::int64_t rows = x.size(0) * x.size(1), W = x.size(2);
    return by_dtype(x, [&]<typename T>() {
      Tensor out = empty(x.shape(), {.dtype = x.dtype()});
      for (std::int64_t r = 0; r < rows; ++r) {
        const T* src = x.data<T>() + r * W;
        std::reverse_copy(src, src + W, out.data<T>() + r * W);
      }
      return out;
    });
  };
}

Tensor rotate(const Tensor& image, double degrees) {
  const Tensor x = image_arg(image, "rotate", {DType::f32});
  const std::int64_t C = x.size(0), H = x.size(1), W = x.size(2);
  // counter-clockwise for positive angles, about the centre ((W-1)/2, (H-1)/2), as torchvision's rotate
  const double angle = degrees * std::numbers::pi / 180.0;
  const double cs = std::cos(angle), sn = std::sin(angle);
  const double cx = (static_cast<double>(W) - 1) / 2, cy = (static_cast<double>(H) - 1) / 2;
  Tensor out = zero_image(x.shape(), DType::f32);
  const float* src = x.data<float>();
  float* dst = out.data<float>();
  for (std::int64_t y = 0; y < H; ++y) {
    for (std::int64_t xo = 0; xo < W; ++xo) {
      // the inverse rotation maps each output pixel to its source position
      const double ox = static_cast<double>(xo) - cx, oy = static_cast<double>(y) - cy;
      const double sx = cx + cs * ox - sn * oy, sy = cy + sn * ox + cs * oy;
      const double fx0 = std::floor(sx), fy0 = std::floor(sy);
      const auto ix = static_cast<std::int64_t>(fx0), iy = static_cast<std::int64_t>(fy0);
      const auto wx = static_cast<float>(sx - fx0), wy = static_cast<float>(sy - fy0);
      // bilinear with zeros outside the image (grid_sample's padding_mode="zeros")
      const std::int64_t px[2] = {ix, ix + 1}, py[2] = {iy, iy + 1};
      const float wxs[2] = {1 - wx, wx}, wys[2] = {1 - wy, wy};
      for (int j = 0; j < 2; ++j) {
        if (py[j] < 0 || py[j] >= H || wys[j] == 0) continue;
        for (int i = 0; i < 2; ++i) {
          if (px[i] < 0 || px[i] >= W || wxs[i] == 0) continue;
          const float wgt = wys[j] * wxs[i];
          for (std::int64_t c = 0; c < C; ++c) dst[(c * H + y) * W + xo] += wgt * src[(c * H + py[j]) * W + px[i]];
        }
      }
    }
  }
  return out;
}

Transform random_rotation(double degrees) {
  if (!(degrees >= 0 && std::isfinite(degrees))) fail("random_rotation", "degrees must be >= 0, got {}", degrees);
  return [degrees](const Tensor& image, Generator& g) { return rotate(image, uniform(g, -degrees, degrees)); };
}

Transform random_erasing(double p, double scale_lo, double scale_hi, double ratio_lo, double ratio_hi, double value) {
  if (!(p >= 0 && p <= 1)) fail("random_erasing", "p must be in [0, 1], got {}", p);
  if (!(scale_lo >= 0 && scale_lo <= scale_hi && scale_hi <= 1))
    fail("random_erasing", "scale range must satisfy 0 <= lo <= hi <= 1, got [{}, {}]", scale_lo, scale_hi);
  if (!(ratio_lo > 0 && ratio_lo <= ratio_hi))
    fail("random_erasing", "ratio range must satisfy 0 < lo <= hi, got [{}, {}]", ratio_lo, ratio_hi);
  return [=](const Tensor& image, Generator& g) {
    const Tensor x = image_arg(image, "random_erasing", {DType::f32});
    if (!(g.uniform() < p)) return x;
    const std::int64_t C = x.size(0), H = x.size(1), W = x.size(2);
    const double area = static_cast<double>(H * W), log_lo = std::log(ratio_lo), log_hi = std::log(ratio_hi);
    // torchvision's RandomErasing.get_params: up to 10 tries for a rectangle that fits
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double erase_area = area * uniform(g, scale_lo, scale_hi);
      const double aspect = std::exp(uniform(g, log_lo, log_hi));
      // std::nearbyint rounds half to even, as Python's round()
      const auto eh = static_cast<std::int64_t>(std::nearbyint(std::sqrt(erase_area * aspect)));
      const auto ew = static_cast<std::int64_t>(std::nearbyint(std::sqrt(erase_area / aspect)));
      if (!(eh < H && ew < W)) continue;
      const std::int64_t top = draw_below(g, H - eh + 1), left = draw_below(g, W - ew + 1);
      Tensor out = copy_image(x);
      float* d = out.data<float>();
      for (std::int64_t c = 0; c < C; ++c)
        for (std::int64_t y = top; y < top + eh; ++y)
          std::fill_n(d + (c * H + y) * W + left, ew, static_cast<float>(value));
      return out;
    }
    return x;
  };
}

std::pair<std::vector<double>, std::vector<double>> channel_stats(const Dataset& ds) {
  const std::int64_t n = ds.size();
  if (n == 0) fail("channel_stats", "dataset {} is empty", ds.name());
  // Integer sums of u8 values are exact (no rounding drift over millions of pixels).
  std::vector<std::uint64_t> sum, sum_sq;
  std::uint64_t pixels = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const Tensor x = image_arg(ds.get(i).image, "channel_stats", {DType::u8});
    const auto C = static_cast<std::size_t>(x.size(0));
    if (i == 0) sum.assign(C, 0), sum_sq.assign(C, 0);
    if (C != sum.size())
      fail("channel_stats", "image {} of {} has {} channels, image 0 has {}", i, ds.name(), C, sum.size());
    const std::int64_t plane = x.size(1) * x.size(2);
    const std::uint8_t* p = x.data<std::uint8_t>();
    for (std::size_t c = 0; c < C; ++c) {
      std::uint64_t s = 0, s2 = 0;
      for (std::int64_t k = 0; k < plane; ++k) {
        const std::uint64_t v = p[static_cast<std::int64_t>(c) * plane + k];
        s += v;
        s2 += v * v;
      }
      sum[c] += s;
      sum_sq[c] += s2;
    }
    pixels += static_cast<std::uint64_t>(plane);
  }
  if (pixels == 0) fail("channel_stats", "dataset {} has only empty images", ds.name());
  // population variance: (n sum(v^2) - sum(v)^2) / n^2, numerator exact in 128 bits
  std::vector<double> mean(sum.size()), stdev(sum.size());
  const double np = static_cast<double>(pixels);
  for (std::size_t c = 0; c < sum.size(); ++c) {
    const unsigned __int128 num =
        static_cast<unsigned __int128>(pixels) * sum_sq[c] - static_cast<unsigned __int128>(sum[c]) * sum[c];
    mean[c] = static_cast<double>(sum[c]) / np / 255.0;
    stdev[c] = std::sqrt(static_cast<double>(num)) / np / 255.0;
  }
  return {mean, stdev};
}

std::vector<Transform> parse_augment(const std::string& spec, std::int64_t h, std::int64_t w) {
  std::vector<Transform> out;
  std::string_view rest = spec;
  while (!trim(rest).empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    const auto [key, value] = split_item(item);
    if (key == "crop") {
      const double pad = value ? parse_number(item, *value, 0, 1024) : (std::min(h, w) >= 32 ? 4 : 2);
      if (pad != std::floor(pad)) fail("augment", "'{}': the padding must be a whole number of pixels", item);
      out.push_back(random_crop(h, w, static_cast<std::int64_t>(pad)));
    } else if (key == "flip" && !value) {
      out.push_back(random_horizontal_flip(0.5));
    } else if (key == "rotate" && value) {
      out.push_back(random_rotation(parse_number(item, *value, 0, 180)));
    } else if (key == "erase") {
      out.push_back(random_erasing(value ? parse_number(item, *value, 0, 1) : 0.5));
    } else {
      fail("augment", "unknown item '{}' in '{}'; known: {}", item, spec, kAugmentItems);
    }
  }
  return out;
}

}  // namespace fovea::data
