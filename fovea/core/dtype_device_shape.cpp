#include <algorithm>

#include <fmt/ranges.h>

#include "fovea/core/device.h"
#include "fovea/core/dtype.h"
#include "fovea/core/error.h"
#include "fovea/core/shape.h"

namespace fovea {

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i64: return "i64";
    case DType::u8: return "u8";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
  }
  return "?";
}

DType parse_dtype(std::string_view s) {
  std::string l(s);
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
  if (l == "f32" || l == "float32" || l == "float") return DType::f32;
  if (l == "f64" || l == "float64" || l == "double") return DType::f64;
  if (l == "i64" || l == "int64" || l == "long") return DType::i64;
  if (l == "u8" || l == "uint8") return DType::u8;
  if (l == "f16" || l == "float16" || l == "half") return DType::f16;
  if (l == "bf16" || l == "bfloat16") return DType::bf16;
  fail("dtype", "unknown dtype '{}' (expected f32, f64, i64, u8, f16 or bf16)", s);
}

std::string Device::str() const {
  switch (type) {
    case DeviceType::cpu: return "cpu";
    case DeviceType::meta: return "meta";
    case DeviceType::cuda: return fmt::format("cuda:{}", index);
  }
  return "?";
}

Device Device::parse(std::string_view s) {
  if (s == "cpu") return kCPU;
  if (s == "meta") return kMeta;
  if (s == "cuda") return {DeviceType::cuda, 0};
  if (s.substr(0, 5) == "cuda:") {
    int idx = 0;
    for (char c : s.substr(5)) {
      if (c < '0' || c > '9') fail("device", "bad device '{}' (expected cpu, meta, cuda or cuda:N)", s);
      idx = idx * 10 + (c - '0');
    }
    return {DeviceType::cuda, idx};
  }
  fail("device", "bad device '{}' (expected cpu, meta, cuda or cuda:N)", s);
}

std::int64_t numel(const Shape& s) {
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  std::int64_t acc = 1;
  for (int i = static_cast<int>(s.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    // a zero elsewhere makes numel 0 but not the strides: (0, 2^40, 2^40) needs a stride of 2^80
    if (__builtin_mul_overflow(acc, std::max<std::int64_t>(s[i], 1), &acc))
      fail("shape", "shape {} is too large: its row-major strides pass 2^63", shape_str(s));
  }
  return st;
}

std::string shape_str(const Shape& s) { return fmt::format("({})", fmt::join(s, ",")); }

Shape parse_chw(const std::string& s, const char* op) {
  Shape v;
  std::size_t start = 0;
  while (start <= s.size()) {
    const std::size_t x = std::min(s.find('x', start), s.size());
    const std::string part = s.substr(start, x - start);
    try {
      std::size_t used = 0;
      const long long n = std::stoll(part, &used);
      if (used != part.size() || n < 1) throw std::invalid_argument(part);
      v.push_back(n);
    } catch (const std::exception&) {
      fail(op, "bad input size '{}' (expected CxHxW, e.g. 3x224x224)", s);
    }
    start = x + 1;
  }
  if (v.size() != 3) fail(op, "bad input size '{}' (expected CxHxW, e.g. 3x224x224)", s);
  return v;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape r(n);
  for (size_t i = 0; i < n; ++i) {
    std::int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    std::int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      fail(op, "shapes {} and {} cannot be broadcast together", shape_str(a), shape_str(b));
    r[i] = da == 1 ? db : da;
  }
  return r;
}

int wrap_dim(std::int64_t d, std::int64_t ndim, const char* op) {
  std::int64_t n = std::max<std::int64_t>(ndim, 1);
  if (d < -n || d >= n) fail(op, "dim {} out of range for a {}-D tensor", d, ndim);
  return static_cast<int>(d < 0 ? d + n : d);
}

}  // namespace fovea
