// safetensors: the header JSON, dtypes, shapes, offsets and metadata of io::parse_safetensors.
#include <span>

#include "fovea/io/safetensors.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fovea::fuzz::refusals_are_fine([&] {
    const auto f = fovea::io::parse_safetensors(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size), "<fuzz>");
    for (const auto& [name, t] : f.tensors) (void)t.numel();
  });
  return 0;
}
