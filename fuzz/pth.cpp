// torch.save files (.pth): the zip archive (libzip), the pickle program of its data.pkl and the
// tensors' storages, through io::read_state_dict.
#include "fovea/io/torch_file.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fovea::fuzz::as_file(data, size, ".pth");
  fovea::fuzz::refusals_are_fine([&] { (void)fovea::io::read_state_dict(path); });
  return 0;
}
