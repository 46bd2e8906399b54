#include "fovea/nn/serialize.h"

#include "fovea/io/safetensors.h"
#include "fovea/io/torch_file.h"

namespace fovea::nn {

void save(const Module& m, const std::string& path, const std::map<std::string, std::string>& metadata) {
  io::save_safetensors(path, m.state_dict(), metadata);
}

LoadReport load(Module& m, const std::string& path, bool strict) {
  const auto file = io::read_state_dict(path);  // safetensors, or a torch.save file
  try {
    LoadReport r = m.load_state_dict(file.tensors, strict);
    r.source = file.note();
    return r;
  } catch (const Error& e) {
    const std::string note = file.note().empty() ? "" : fmt::format(" (read {})", file.note());
    throw Error(fmt::format("[load] {}{}: {}", path, note, e.what()));
  }
}

}  // namespace fovea::nn
