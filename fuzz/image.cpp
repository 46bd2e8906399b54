// PNG and JPEG files: fovea's handling of what libpng and libjpeg-turbo return (io::read_image
// with every channel conversion, and read_image_shape).
#include "fovea/io/image.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string path = fovea::fuzz::as_file(data + 1, size - 1, ".img");
  const int channels = data[0] % 3 == 0 ? 0 : data[0] % 3 == 1 ? 1 : 3;  // as the file / grey / RGB
  fovea::fuzz::refusals_are_fine([&] { (void)fovea::io::read_image_shape(path); });
  fovea::fuzz::refusals_are_fine([&] { (void)fovea::io::read_image(path, channels); });
  return 0;
}
