// data::open: the data strings of `fovea train --data` (dataset.h).
#include <optional>
#include <string_view>

#include "fovea/core/error.h"
#include "fovea/data/dataset.h"

namespace fovea::data {

Splits open(const std::string& uri, const OpenOptions& o) {
  const auto after = [&uri](std::string_view scheme) -> std::optional<std::string> {
    if (uri.rfind(scheme, 0) != 0) return std::nullopt;
    return uri.substr(scheme.size());
  };
  if (uri == "fashion-mnist") return {fashion_mnist(kFashionMnistDir, true), fashion_mnist(kFashionMnistDir, false)};
  if (auto dir = after("fashion-mnist:")) return {fashion_mnist(*dir, true), fashion_mnist(*dir, false)};
  if (auto dir = after("mnist:")) return {mnist(*dir, true), mnist(*dir, false)};
  if (auto dir = after("folder:")) {
    auto [train, test] = random_split(image_folder(*dir), o.val_fraction, o.seed);
    return {train, test};
  }
  fail("data", "unknown data '{}' (expected fashion-mnist, fashion-mnist:DIR, mnist:DIR or folder:DIR)", uri);
}

}  // namespace fovea::data
