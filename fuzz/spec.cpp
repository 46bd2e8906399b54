// Network spec files (JSON): models::parse_spec, which builds the network and infers its shapes.
#include <string>

#include "fovea/models/spec.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fovea::fuzz::refusals_are_fine([&] { (void)fovea::models::parse_spec(text, "<fuzz>"); });
  return 0;
}
