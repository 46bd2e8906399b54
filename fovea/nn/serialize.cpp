#include "fovea/nn/serialize.h"

#include "fovea/io/safetensors.h"
#include "fovea/io/torch_file.h"

namespace fovea::nn {

void save(const Module& m, const std::string& path, const std::map<std::string, std::string>& metadata) {
  io::save_safetensors(path, m.state_dict(), metadata);
}

LoadReport load(Module& m, const std::string& path, bool strict) {
  const auto tensors = io::load_named_tensors(path);  // safetensors, or a torch.save file
  try {
    return m.load_state_dict(tensors, strict);
  } catch (const Error& e) {
    throw Error(fmt::format("[load] {}: {}", path, e.what()));
  }
}

}  // namespace fovea::nn
