#pragma once
// The CUDA emulator's stand-in for <cuda_fp16.h>: IEEE half precision by the host compiler's
// _Float16 (conversions round to nearest even, as __float2half_rn).
#include <cstring>

#include "cuda_runtime.h"

struct __half {
  unsigned short x;
};
inline __half __ushort_as_half(unsigned short bits) { return {bits}; }
inline unsigned short __half_as_ushort(__half h) { return h.x; }
inline float __half2float(__half h) {
  _Float16 f;
  std::memcpy(&f, &h.x, sizeof f);
  return static_cast<float>(f);
}
inline __half __float2half_rn(float v) {
  const _Float16 f = static_cast<_Float16>(v);
  __half h;
  std::memcpy(&h.x, &f, sizeof f);
  return h;
}
