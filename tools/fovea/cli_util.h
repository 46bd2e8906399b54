#pragma once
// Helpers shared by the subcommands.
#include <string>

#include "fovea/core/shape.h"

namespace fovea::cli {

// "3x32x32" -> (3,32,32); `op` names the command in errors.
Shape parse_chw(const std::string& s, const char* op);

}  // namespace fovea::cli
