// data::open: the data strings of `fovea train --data` (dataset.h).
#include <array>
#include <filesystem>
#include <optional>
#include <string_view>

#include "fovea/core/error.h"
#include "fovea/data/dataset.h"

namespace fovea::data {

namespace {

constexpr std::array<std::string_view, 3> kSchemes{"fashion-mnist:", "mnist:", "folder:"};

// "folder:DIR" -> {"folder:", "DIR"}
std::optional<std::pair<std::string_view, std::string>> split_uri(const std::string& uri) {
  for (auto scheme : kSchemes)
    if (uri.starts_with(scheme)) return std::pair{scheme, uri.substr(scheme.size())};
  return std::nullopt;
}

}  // namespace

std::string data_dir(const std::string& uri) {
  if (uri == "fashion-mnist") return kFashionMnistDir;
  const auto parts = split_uri(uri);
  return parts ? parts->second : "";
}

std::string absolute_uri(const std::string& uri) {
  const auto parts = split_uri(uri);
  if (!parts || parts->second.empty()) return uri;
  std::error_code ec;
  const auto abs = std::filesystem::absolute(parts->second, ec);
  return ec ? uri : std::string(parts->first) + abs.lexically_normal().string();
}

Splits open(const std::string& uri, const OpenOptions& o) {
  if (uri == "fashion-mnist") return {fashion_mnist(kFashionMnistDir, true), fashion_mnist(kFashionMnistDir, false)};
  if (const auto parts = split_uri(uri)) {
    const auto& [scheme, dir] = *parts;
    if (scheme == "fashion-mnist:") return {fashion_mnist(dir, true), fashion_mnist(dir, false)};
    if (scheme == "mnist:") return {mnist(dir, true), mnist(dir, false)};
    auto [train, test] = random_split(image_folder(dir), o.val_fraction, o.seed);  // folder:
    return {train, test};
  }
  std::error_code ec;
  if (std::filesystem::is_directory(uri, ec)) {
    const bool idx = std::filesystem::exists(std::filesystem::path(uri) / "train-images-idx3-ubyte.gz", ec) ||
                     std::filesystem::exists(std::filesystem::path(uri) / "train-images-idx3-ubyte", ec);
    fail("data", "unknown data '{}': it is a folder; did you mean {}:{}? ({})", uri, idx ? "mnist" : "folder", uri,
         idx ? "IDX files: mnist:DIR or fashion-mnist:DIR" : "an image folder, one sub-folder per class");
  }
  fail("data", "unknown data '{}' (expected fashion-mnist, fashion-mnist:DIR, mnist:DIR or folder:DIR)", uri);
}

}  // namespace fovea::data
