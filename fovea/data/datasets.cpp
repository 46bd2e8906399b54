// MNIST and Fashion-MNIST from their IDX files, kept whole in memory as one u8 tensor.
#include <cstring>
#include <filesystem>
#include <string_view>

#include "fovea/core/error.h"
#include "fovea/core/hash.h"
#include "fovea/data/dataset.h"

namespace fovea::data {

std::uint64_t Dataset::fingerprint() const {
  Fnv1a h;
  h.text(name()).number(size());
  for (const auto& c : classes()) h.text(c);
  for (auto d : image_shape()) h.number(d);
  return h.value();
}

std::string Dataset::source(std::int64_t index) const { return fmt::format("{} #{}", name(), index); }

namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kSide = 28;

struct IdxSpec {
  const char* name;  // also the op in error messages
  std::vector<std::string> classes;
  std::string hint;  // appended to "not found" errors
};

class IdxDataset final : public Dataset {
 public:
  IdxDataset(std::string name, std::string split, Tensor images, std::vector<std::int64_t> labels,
             std::vector<std::string> classes)
      : name_(std::move(name)),
        split_(std::move(split)),
        images_(std::move(images)),
        labels_(std::move(labels)),
        classes_(std::move(classes)) {}

  std::int64_t size() const override { return static_cast<std::int64_t>(labels_.size()); }

  // A copy, so that a transform writing into its input cannot change the dataset.
  Example get(std::int64_t index) const override {
    if (index < 0 || index >= size()) fail(name_, "index {} out of range for {} images", index, size());
    Tensor img = empty({1, kSide, kSide}, {.dtype = DType::u8});
    std::memcpy(img.raw_data(), images_.data<std::uint8_t>() + index * kSide * kSide, kSide * kSide);
    return {img, labels_[static_cast<std::size_t>(index)]};
  }
  std::int64_t label(std::int64_t index) const override {
    if (index < 0 || index >= size()) fail(name_, "index {} out of range for {} images", index, size());
    return labels_[static_cast<std::size_t>(index)];
  }
  std::string source(std::int64_t index) const override { return fmt::format("{} {} #{}", name_, split_, index); }

  const std::vector<std::string>& classes() const override { return classes_; }
  Shape image_shape() const override { return {1, kSide, kSide}; }
  std::string name() const override { return name_; }
  // every label and every pixel (47 MB for Fashion-MNIST's training set: about 50 ms)
  std::uint64_t fingerprint() const override {
    Fnv1a h;
    h.number(static_cast<std::int64_t>(Dataset::fingerprint()));
    h.bytes(labels_.data(), labels_.size() * sizeof(std::int64_t));
    h.bytes(images_.raw_data(), static_cast<std::size_t>(images_.numel()));
    return h.value();
  }

 private:
  std::string name_, split_;  // split_: train | test
  Tensor images_;             // (N,28,28) u8, contiguous
  std::vector<std::int64_t> labels_;
  std::vector<std::string> classes_;
};

// `dir`/`stem` or `dir`/`stem`.gz, whichever exists (the uncompressed file first).
std::string find_file(const IdxSpec& spec, const fs::path& dir, const std::string& stem) {
  for (const char* ext : {"", ".gz"}) {
    const fs::path p = dir / (stem + ext);
    if (fs::exists(p)) return p.string();
  }
  fail(spec.name, "missing {} (or {}.gz){}", (dir / stem).string(), stem, spec.hint);
}

DatasetPtr load(const IdxSpec& spec, const std::string& dir, bool train) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) fail(spec.name, "dataset folder {} not found{}", dir, spec.hint);
  if (!fs::is_directory(dir, ec)) fail(spec.name, "{} is not a folder{}", dir, spec.hint);
  const std::string split = train ? "train" : "t10k";
  const std::string image_path = find_file(spec, dir, split + "-images-idx3-ubyte");
  const std::string label_path = find_file(spec, dir, split + "-labels-idx1-ubyte");

  const Tensor images = read_idx(image_path);
  if (images.dim() != 3 || images.size(1) != kSide || images.size(2) != kSide)
    fail(spec.name, "{}: expected images of shape (N,{},{}), got {}", image_path, kSide, kSide,
         shape_str(images.shape()));
  const Tensor labels = read_idx(label_path);
  if (labels.dim() != 1)
    fail(spec.name, "{}: expected labels of shape (N), got {}", label_path, shape_str(labels.shape()));
  if (labels.size(0) != images.size(0))
    fail(spec.name, "{}: {} labels for the {} images of {}", label_path, labels.size(0), images.size(0), image_path);

  const auto num_classes = static_cast<std::int64_t>(spec.classes.size());
  const std::uint8_t* l = labels.data<std::uint8_t>();
  std::vector<std::int64_t> values(static_cast<std::size_t>(labels.size(0)));
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (l[i] >= num_classes)
      fail(spec.name, "{}: label {} at index {} is out of range: {} has {} classes (0 to {})", label_path, l[i], i,
           spec.name, num_classes, num_classes - 1);
    values[i] = l[i];
  }
  return std::make_shared<IdxDataset>(spec.name, train ? "train" : "test", images, std::move(values), spec.classes);
}

bool is_default_dir(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir == kFashionMnistDir;
}

}  // namespace

DatasetPtr fashion_mnist(const std::string& dir, bool train) {
  const std::string hint =
      is_default_dir(dir)
          ? "; install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"
          : fmt::format("; the Debian package dataset-fashion-mnist installs it in {}", kFashionMnistDir);
  // class names as in the dataset's README (https://github.com/zalandoresearch/fashion-mnist)
  const IdxSpec spec{
      "fashion-mnist",
      {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"},
      hint};
  return load(spec, dir, train);
}

DatasetPtr mnist(const std::string& dir, bool train) {
  const IdxSpec spec{"mnist", {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, ""};
  return load(spec, dir, train);
}

}  // namespace fovea::data
