// Network spec files (JSON): models::parse_spec, which builds the network and infers its shapes.
#include <string>

#include "fovea/models/spec.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // 2^26 parameters (256 MiB of f32) keeps a valid spec under the fuzzer's 512 MiB allocation limit;
  // the default limit and the machine's memory are checked the same way
  fovea::fuzz::refusals_are_fine(
      [&] { (void)fovea::models::parse_spec(text, "<fuzz>", {.max_parameters = std::int64_t{1} << 26}); });
  return 0;
}
