// IDX files, raw or gzip-compressed (MNIST's format): data::read_idx through zlib.
#include "fovea/data/dataset.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fovea::fuzz::as_file(data, size, ".idx");
  fovea::fuzz::refusals_are_fine([&] { (void)fovea::data::read_idx(path); });
  return 0;
}
