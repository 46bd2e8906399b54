#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fovea {

// f16/bf16 are storage types on CPU (read/write, convert); arithmetic runs in f32/f64/i64/u8.
enum class DType : std::uint8_t { f32, f64, i64, u8, f16, bf16 };

constexpr std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i64: return 8;
    case DType::u8: return 1;
    case DType::f16: return 2;
    case DType::bf16: return 2;
  }
  return 0;
}

constexpr bool is_floating(DType t) {
  return t == DType::f32 || t == DType::f64 || t == DType::f16 || t == DType::bf16;
}

std::string_view dtype_name(DType t);
// Accepts fovea names ("f32") and safetensors names ("F32").
DType parse_dtype(std::string_view s);

template <typename T>
struct dtype_of;
template <>
struct dtype_of<float> {
  static constexpr DType value = DType::f32;
};
template <>
struct dtype_of<double> {
  static constexpr DType value = DType::f64;
};
template <>
struct dtype_of<std::int64_t> {
  static constexpr DType value = DType::i64;
};
template <>
struct dtype_of<std::uint8_t> {
  static constexpr DType value = DType::u8;
};

}  // namespace fovea

// One case of the dispatch macros below: the body runs with `scalar_t` bound to T.
#define FOVEA_DISPATCH_CASE(dt, T, ...) \
  case ::fovea::DType::dt: {            \
    using scalar_t = T;                 \
    return __VA_ARGS__();               \
  }

// Runs the body with `scalar_t` bound to the C++ type of an arithmetic dtype.
#define FOVEA_DISPATCH(dtype, op, ...)                                                  \
  [&] {                                                                                 \
    switch (dtype) {                                                                    \
      FOVEA_DISPATCH_CASE(f32, float, __VA_ARGS__)                                      \
      FOVEA_DISPATCH_CASE(f64, double, __VA_ARGS__)                                     \
      FOVEA_DISPATCH_CASE(i64, std::int64_t, __VA_ARGS__)                               \
      FOVEA_DISPATCH_CASE(u8, std::uint8_t, __VA_ARGS__)                                \
      default: ::fovea::fail(op, "dtype {} not supported", ::fovea::dtype_name(dtype)); \
    }                                                                                   \
  }()

// The same for f32 and f64.
#define FOVEA_DISPATCH_FLOAT(dtype, op, ...)                                                                  \
  [&] {                                                                                                       \
    switch (dtype) {                                                                                          \
      FOVEA_DISPATCH_CASE(f32, float, __VA_ARGS__)                                                            \
      FOVEA_DISPATCH_CASE(f64, double, __VA_ARGS__)                                                           \
      default: ::fovea::fail(op, "expected a floating dtype (f32, f64), got {}", ::fovea::dtype_name(dtype)); \
    }                                                                                                         \
  }()
