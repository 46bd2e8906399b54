// fovea checkpoints: a safetensors file whose metadata holds the run configuration (JSON), the
// progress and the epoch records, read by train::load_checkpoint.
#include "fovea/train/checkpoint.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fovea::fuzz::as_file(data, size, ".safetensors");
  fovea::fuzz::refusals_are_fine([&] { (void)fovea::train::load_checkpoint(path); });
  return 0;
}
