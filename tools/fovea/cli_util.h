#pragma once
// Helpers shared by the subcommands.
#include <string>
#include <vector>

#include "fovea/core/shape.h"

namespace fovea::nn {
class Module;
}

namespace fovea::cli {

// "3x32x32" -> (3,32,32); `op` names the command in errors.
Shape parse_chw(const std::string& s, const char* op);
// "a,b,,c" -> {"a", "b", "c"}
std::vector<std::string> split_list(const std::string& s);
// nn::load (strict), saying on stderr where in the file the weights were when it was not a plain
// state dict ("--weights: read the state dict under 'state_dict' of the checkpoint, ...")
void load_weights(nn::Module& m, const std::string& path);

}  // namespace fovea::cli
