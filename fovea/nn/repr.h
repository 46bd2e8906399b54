#pragma once
// Formatting shared by the modules' extra_repr, in PyTorch's style.
#include <fmt/format.h>

#include <string>

#include "fovea/ops/options.h"

namespace fovea::nn::detail {

// "(3, 3)", as a Python tuple
inline std::string pair_str(Pair p) { return fmt::format("({}, {})", p.h, p.w); }

// A double as Python's repr writes it: 2.0, 0.0001, 1.5 (fmt alone writes 2.0 as "2")
inline std::string py_float(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

}  // namespace fovea::nn::detail
