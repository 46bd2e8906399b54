// ONNX models: the protobuf, then the graph built from it (every op converter, initialisers,
// shapes and attributes), through onnx::load_model_from_bytes.
#include <string>

#include "fovea/onnx/import.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  fovea::fuzz::refusals_are_fine([&] { (void)fovea::onnx::load_model_from_bytes(bytes, "<fuzz>"); });
  return 0;
}
