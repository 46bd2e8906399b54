#pragma once
// Saving and loading a module's state_dict as safetensors (keys as torchvision names them).
// load also reads PyTorch's torch.save files (.pth / .pt, io/torch_file.h), told apart by content.
#include <map>
#include <string>

#include "fovea/nn/module.h"

namespace fovea::nn {

void save(const Module& m, const std::string& path, const std::map<std::string, std::string>& metadata = {});
// strict: every key must match (see Module::load_state_dict)
LoadReport load(Module& m, const std::string& path, bool strict = true);

}  // namespace fovea::nn
