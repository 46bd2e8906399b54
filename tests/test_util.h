#pragma once
// Helpers shared by the tests: tensor comparison with a readable report of the worst element.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "fovea/core/error.h"
#include "fovea/core/tensor.h"
#include "fovea/ops/ops.h"

namespace fovea::test {

// Whether Debian's /usr/bin/python3 can import `module` (e.g. "torchvision", "onnx"); tests that
// need it as a reference oracle skip with a visible message when it cannot. Cached per module.
inline bool have_python_module(const std::string& module) {
  static std::vector<std::pair<std::string, bool>> cache;
  for (auto& [m, ok] : cache)
    if (m == module) return ok;
  const std::string cmd = "/usr/bin/python3 -c 'import " + module + "' > /dev/null 2>&1";
  const bool ok = std::system(cmd.c_str()) == 0;
  cache.emplace_back(module, ok);
  return ok;
}

// A new empty directory under the gtest temp dir, unique per process and call (ctest runs tests
// in parallel processes).
inline std::filesystem::path unique_temp_dir(const std::string& tag) {
  static std::atomic<int> counter{0};
  auto dir = std::filesystem::path(::testing::TempDir()) /
             ("fovea_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// The message of the fovea::Error that f throws; a test failure (and "") when it throws none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a fovea::Error";
  return "";
}

// All elements of t (any device, any dtype) as doubles, in row-major order.
inline std::vector<double> to_doubles(const Tensor& t) {
  Tensor c = t.device() == kCPU ? t : t.to(kCPU);
  switch (c.dtype()) {
    case DType::f32: {
      auto v = c.to_vector<float>();
      return {v.begin(), v.end()};
    }
    case DType::f64: return c.to_vector<double>();
    case DType::i64: {
      auto v = c.to_vector<std::int64_t>();
      return {v.begin(), v.end()};
    }
    case DType::u8: {
      auto v = c.to_vector<std::uint8_t>();
      return {v.begin(), v.end()};
    }
    default: {
      auto v = c.to(DType::f32).to_vector<float>();
      return {v.begin(), v.end()};
    }
  }
}

// Flat row-major index -> "(i,j,k)" for shape s.
inline std::string index_str(const Shape& s, std::int64_t flat) {
  std::vector<std::int64_t> idx(s.size());
  for (std::size_t d = s.size(); d-- > 0;) {
    idx[d] = s[d] > 0 ? flat % s[d] : 0;
    flat = s[d] > 0 ? flat / s[d] : 0;
  }
  std::ostringstream os;
  os << '(';
  for (std::size_t d = 0; d < idx.size(); ++d) os << (d ? "," : "") << idx[d];
  os << ')';
  return os.str();
}

// Expects equal shapes and |a - b| <= rtol * max(1, |b|) elementwise (NaN matches only NaN).
// On failure reports how many elements differ, the worst one (relative to its tolerance) with
// its index, and the largest absolute difference. Non-fatal; returns whether it passed.
inline bool expect_close(const Tensor& actual, const Tensor& expected, double rtol, const std::string& what) {
  if (!actual.defined()) {
    ADD_FAILURE() << what << ": result is undefined";
    return false;
  }
  if (!expected.defined()) {
    ADD_FAILURE() << what << ": expected tensor is undefined";
    return false;
  }
  if (actual.shape() != expected.shape()) {
    ADD_FAILURE() << what << ": shape " << shape_str(actual.shape()) << ", expected " << shape_str(expected.shape());
    return false;
  }
  bool ok = true;
  if (actual.dtype() != expected.dtype()) {
    ADD_FAILURE() << what << ": dtype " << dtype_name(actual.dtype()) << ", expected " << dtype_name(expected.dtype());
    ok = false;
  }
  const std::vector<double> a = to_doubles(actual), b = to_doubles(expected);
  std::int64_t bad = 0, worst = -1, max_abs_at = -1;
  double worst_ratio = 0.0, max_abs = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i]))) continue;  // also equal infinities
    const double diff = std::abs(a[i] - b[i]);
    const double tol = rtol * std::max(1.0, std::abs(b[i]));
    const double ratio = std::isnan(diff) ? std::numeric_limits<double>::infinity() : diff / tol;
    if (!(diff <= tol)) ++bad;
    if (ratio > worst_ratio) {
      worst_ratio = ratio;
      worst = static_cast<std::int64_t>(i);
    }
    if (std::isnan(diff) || diff > max_abs) {
      max_abs = diff;
      max_abs_at = static_cast<std::int64_t>(i);
    }
  }
  if (bad > 0) {
    const Shape& s = expected.shape();
    std::ostringstream os;
    os.precision(9);
    os << what << ": " << bad << " of " << a.size() << " elements differ by more than " << rtol
       << " * max(1, |expected|); worst at " << index_str(s, worst) << ": actual " << a[worst] << ", expected "
       << b[worst] << " (|diff| " << std::abs(a[worst] - b[worst]) << ", " << worst_ratio
       << "x the tolerance); max |diff| " << max_abs << " at " << index_str(s, max_abs_at);
    ADD_FAILURE() << os.str();
    ok = false;
  }
  return ok;
}

// Against the scale of the whole reference: |y - ref| <= tol max(1, max |ref|) everywhere, for
// results whose error grows with the magnitude of the sums that make them (low precision).
inline void expect_close_to_scale(const Tensor& y, const Tensor& ref, double tol, const std::string& what) {
  ASSERT_EQ(y.shape(), ref.shape()) << what;
  const double scale = std::max(1.0, max(abs(ref)).item());
  const double err = max(abs(y - ref)).item();
  EXPECT_LE(err, tol * scale) << what << ": max |actual - expected| = " << err << " (expected values up to " << scale
                              << ", tolerance " << tol << " of that)";
}

// Logits against a reference: |y - ref| <= 1e-4 max(1, max |ref|), the zoo's and the ONNX
// importer's parity rule.
inline void expect_logits_close(const Tensor& y, const Tensor& ref, const std::string& what) {
  expect_close_to_scale(y, ref, 1e-4, what + " logits");
}

}  // namespace fovea::test
