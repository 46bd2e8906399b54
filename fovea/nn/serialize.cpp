#include "fovea/nn/serialize.h"

#include "fovea/io/safetensors.h"

namespace fovea::nn {

void save(const Module& m, const std::string& path, const std::map<std::string, std::string>& metadata) {
  io::save_safetensors(path, m.state_dict(), metadata);
}

LoadReport load(Module& m, const std::string& path, bool strict) {
  auto f = io::load_safetensors(path);
  try {
    return m.load_state_dict(f.tensors, strict);
  } catch (const Error& e) {
    throw Error(fmt::format("[load] {}: {}", path, e.what()));
  }
}

}  // namespace fovea::nn
