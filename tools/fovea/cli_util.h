#pragma once
// Helpers shared by the subcommands.
#include <string>
#include <vector>

#include "fovea/core/shape.h"

namespace fovea::cli {

// "3x32x32" -> (3,32,32); `op` names the command in errors.
Shape parse_chw(const std::string& s, const char* op);
// "a,b,,c" -> {"a", "b", "c"}
std::vector<std::string> split_list(const std::string& s);

}  // namespace fovea::cli
