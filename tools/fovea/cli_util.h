#pragma once
// Helpers shared by the subcommands.
#include <string>
#include <vector>

#include "fovea/core/shape.h"

namespace fovea::nn {
class Module;
}

namespace fovea::cli {

// "a,b,,c" -> {"a", "b", "c"}
std::vector<std::string> split_list(const std::string& s);
// An output folder that exists and holds files is refused unless `force` ("--force" named in
// the error); checked before any work so that a refusal costs nothing.
void check_out_dir(const std::string& dir, bool force, const char* op);
// The command line fovea was started with ("fovea train --model lenet5 ..."), set by main();
// runs record it in metrics.json.
void set_command_line(int argc, char** argv);
const std::string& command_line();
// nn::load (strict), saying on stderr where in the file the weights were when it was not a plain
// state dict ("--weights: read the state dict under 'state_dict' of the checkpoint, ...")
void load_weights(nn::Module& m, const std::string& path);

}  // namespace fovea::cli
