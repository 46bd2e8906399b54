// Image folders (one sub-folder per class, as torchvision's ImageFolder), splits and subsets.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "fovea/core/error.h"
#include "fovea/core/hash.h"
#include "fovea/data/dataset.h"
#include "fovea/data/detail.h"
#include "fovea/io/image.h"

namespace fovea::data {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kOp = "image-folder";

struct ImageFile {
  std::string path;
  std::int64_t label;
};

class ImageFolder final : public Dataset {
 public:
  ImageFolder(std::string root, std::vector<ImageFile> files, std::vector<std::string> classes, int channels,
              Shape shape)
      : name_("folder:" + root),
        root_(std::move(root)),
        files_(std::move(files)),
        classes_(std::move(classes)),
        channels_(channels),
        shape_(std::move(shape)) {}

  std::int64_t size() const override { return static_cast<std::int64_t>(files_.size()); }

  Example get(std::int64_t index) const override {
    if (index < 0 || index >= size()) fail(kOp, "index {} out of range for {} images", index, size());
    const ImageFile& f = files_[static_cast<std::size_t>(index)];
    return {io::read_image(f.path, channels_), f.label};
  }
  std::int64_t label(std::int64_t index) const override {
    if (index < 0 || index >= size()) fail(kOp, "index {} out of range for {} images", index, size());
    return files_[static_cast<std::size_t>(index)].label;
  }
  std::string source(std::int64_t index) const override {
    if (index < 0 || index >= size()) fail(kOp, "index {} out of range for {} images", index, size());
    return files_[static_cast<std::size_t>(index)].path;
  }

  const std::vector<std::string>& classes() const override { return classes_; }
  Shape image_shape() const override { return shape_; }
  std::string name() const override { return name_; }
  // the classes, the file list (paths relative to the folder, so that it may sit elsewhere on
  // another machine, with labels) and every file's size
  std::uint64_t fingerprint() const override {
    Fnv1a h;
    for (const auto& c : classes_) h.text(c);
    for (const ImageFile& f : files_) {
      std::error_code ec;
      const auto bytes = fs::file_size(f.path, ec);
      h.text(fs::path(f.path).lexically_relative(root_).string())
          .number(f.label)
          .number(ec ? -1 : static_cast<std::int64_t>(bytes));
    }
    return h.value();
  }

 private:
  std::string name_, root_;
  std::vector<ImageFile> files_;
  std::vector<std::string> classes_;
  int channels_;
  Shape shape_;  // common (C,H,W) or {}
};

class Subset final : public Dataset {
 public:
  Subset(DatasetPtr parent, std::vector<std::int64_t> indices)
      : parent_(std::move(parent)), indices_(std::move(indices)) {}

  std::int64_t size() const override { return static_cast<std::int64_t>(indices_.size()); }
  Example get(std::int64_t index) const override { return parent_->get(at(index)); }
  std::int64_t label(std::int64_t index) const override { return parent_->label(at(index)); }
  std::string source(std::int64_t index) const override { return parent_->source(at(index)); }
  const std::vector<std::string>& classes() const override { return parent_->classes(); }
  Shape image_shape() const override { return parent_->image_shape(); }
  std::string name() const override { return parent_->name(); }
  std::uint64_t fingerprint() const override {
    Fnv1a h;
    h.number(static_cast<std::int64_t>(parent_->fingerprint()))
        .bytes(indices_.data(), indices_.size() * sizeof(std::int64_t));
    return h.value();
  }

 private:
  std::int64_t at(std::int64_t index) const {
    if (index < 0 || index >= size()) fail("subset", "index {} out of range for {} images", index, size());
    return indices_[static_cast<std::size_t>(index)];
  }

  DatasetPtr parent_;
  std::vector<std::int64_t> indices_;
};

bool hidden(const fs::path& p) { return p.filename().string().starts_with('.'); }

// Sorted names of the visible entries of `dir` that pass `keep`: sorted so that class indices
// and file order do not depend on the file system's listing order.
template <typename Keep>
std::vector<std::string> sorted_entries(const fs::path& dir, Keep keep) {
  std::error_code ec;
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (!hidden(it->path()) && keep(*it)) names.push_back(it->path().filename().string());
  if (ec) fail(kOp, "cannot list {}: {}", dir.string(), ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

DatasetPtr image_folder(const std::string& dir, const ImageFolderOptions& o) {
  if (o.channels != 0 && o.channels != 1 && o.channels != 3)
    fail(kOp, "channels must be 0 (the first image's), 1 (grey) or 3 (RGB), got {}", o.channels);
  std::error_code ec;
  if (!fs::exists(dir, ec)) fail(kOp, "folder {} not found", dir);
  if (!fs::is_directory(dir, ec)) fail(kOp, "{} is not a folder", dir);

  const std::vector<std::string> classes = sorted_entries(dir, [](const fs::directory_entry& e) {
    std::error_code err;
    return e.is_directory(err);
  });
  if (classes.empty()) fail(kOp, "{} has no class sub-folders (expected one sub-folder of images per class)", dir);

  std::vector<ImageFile> files;
  Shape common;
  bool uniform = true;
  for (std::size_t c = 0; c < classes.size(); ++c) {
    const fs::path class_dir = fs::path(dir) / classes[c];
    const std::vector<std::string> names = sorted_entries(class_dir, [](const fs::directory_entry& e) {
      std::error_code err;
      return !e.is_directory(err);
    });
    if (names.empty()) fail(kOp, "class folder {} has no images", class_dir.string());
    for (const std::string& n : names) {
      const std::string path = (class_dir / n).string();
      // the header check finds non-image and damaged files now, not in the middle of an epoch
      const Shape s = io::read_image_shape(path);
      if (files.empty()) common = s;
      uniform = uniform && s[1] == common[1] && s[2] == common[2];
      files.push_back({path, static_cast<std::int64_t>(c)});
    }
  }
  const int channels = o.channels != 0 ? o.channels : static_cast<int>(common[0]);
  Shape shape = uniform ? Shape{channels, common[1], common[2]} : Shape{};
  return std::make_shared<ImageFolder>(dir, std::move(files), classes, channels, std::move(shape));
}

std::pair<DatasetPtr, DatasetPtr> random_split(const DatasetPtr& ds, double val_fraction, std::uint64_t seed) {
  if (!ds) fail("random_split", "dataset is null");
  if (!(val_fraction >= 0.0 && val_fraction <= 1.0))
    fail("random_split", "val_fraction must be in [0, 1], got {}", val_fraction);
  const std::int64_t n = ds->size();
  const auto n_val = static_cast<std::int64_t>(std::llround(static_cast<double>(n) * val_fraction));
  Generator g(seed);
  std::vector<std::int64_t> perm = detail::permutation(n, g);
  // each part in dataset order: the loader shuffles anyway, and files are then read in order
  std::vector<std::int64_t> val(perm.begin() + (n - n_val), perm.end());
  perm.resize(static_cast<std::size_t>(n - n_val));
  std::sort(perm.begin(), perm.end());
  std::sort(val.begin(), val.end());
  return {subset(ds, std::move(perm)), subset(ds, std::move(val))};
}

DatasetPtr subset(const DatasetPtr& ds, std::vector<std::int64_t> indices) {
  if (!ds) fail("subset", "dataset is null");
  for (std::int64_t i : indices)
    if (i < 0 || i >= ds->size()) fail("subset", "index {} out of range for a dataset of {} images", i, ds->size());
  return std::make_shared<Subset>(ds, std::move(indices));
}

}  // namespace fovea::data
