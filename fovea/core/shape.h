#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fovea {

using Shape = std::vector<std::int64_t>;

std::int64_t numel(const Shape& s);
Shape contiguous_strides(const Shape& s);
std::string shape_str(const Shape& s);  // "(2,3,4)"
// "3x224x224" -> (3,224,224): three positive sizes; `op` names the caller in the error.
Shape parse_chw(const std::string& s, const char* op);
// NumPy broadcasting of two shapes; `op` names the caller in the error.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Wraps a possibly negative dim into [0, ndim).
int wrap_dim(std::int64_t d, std::int64_t ndim, const char* op);

}  // namespace fovea
