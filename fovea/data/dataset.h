#pragma once
// Datasets of labelled images. get() returns the stored image as a u8 tensor (C,H,W); the
// DataLoader's transform turns it into the f32 tensor a model takes.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fovea/core/tensor.h"

namespace fovea::data {

struct Example {
  Tensor image;  // (C,H,W) u8
  std::int64_t label = 0;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::int64_t size() const = 0;
  // Thread-safe: the DataLoader's workers call it concurrently.
  virtual Example get(std::int64_t index) const = 0;
  // The label of one image without reading the image (class counts, stratified subsets).
  virtual std::int64_t label(std::int64_t index) const { return get(index).label; }
  // Where one image came from, for people: an image folder's file path, "fashion-mnist test #17".
  virtual std::string source(std::int64_t index) const;
  virtual const std::vector<std::string>& classes() const = 0;
  // (C,H,W) of every image, or {} when sizes vary (image folders before resizing)
  virtual Shape image_shape() const = 0;
  virtual std::string name() const = 0;
  // A fingerprint of what the dataset holds, equal on two machines that read the same data:
  // distributed training compares the ranks' (docs/distributed.md). This default covers the
  // name, size, classes and image shape; datasets read from files add their content or file
  // list and sizes.
  virtual std::uint64_t fingerprint() const;
};
using DatasetPtr = std::shared_ptr<const Dataset>;

// IDX files (http://yann.lecun.com/exdb/mnist/): big-endian magic 0x0000 0x08 ndim (u8 data),
// ndim big-endian u32 dims, then the data. Gzip-compressed files are read transparently.
// Validates the magic number, the dims and that the data size equals the product of the dims.
Tensor read_idx(const std::string& path);

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// train-images-idx3-ubyte(.gz) / train-labels-idx1-ubyte(.gz), t10k-... in `dir`. A missing
// directory or file names the path and, for the default directory, the Debian package
// (dataset-fashion-mnist). Labels are checked against the class count and the image count.
DatasetPtr fashion_mnist(const std::string& dir = kFashionMnistDir, bool train = true);
DatasetPtr mnist(const std::string& dir, bool train = true);

struct ImageFolderOptions {
  int channels = 0;  // 0: the first image's, 1: grey, 3: RGB (all images converted)
};
// One sub-folder per class (sorted names are the classes); PNG and JPEG files. Files that are
// not images, or are unreadable, are an error naming the file (checked when listed: signature).
DatasetPtr image_folder(const std::string& dir, const ImageFolderOptions& o = {});

// A training set and its test set.
struct Splits {
  DatasetPtr train, test;
};
struct OpenOptions {
  double val_fraction = 0.2;  // folder: the share held out as the test set
  std::uint64_t seed = 0;     // folder: the split's permutation
};
// The data a string names, as `fovea train --data` takes it: "fashion-mnist" (the Debian
// package's files), "fashion-mnist:DIR" and "mnist:DIR" (IDX files in DIR), "folder:DIR" (an
// image folder, split by random_split). Anything else: "[data] unknown data ...".
Splits open(const std::string& uri, const OpenOptions& o = {});
// The folder a data string reads ("fashion-mnist": the Debian package's; "" when it names none).
std::string data_dir(const std::string& uri);
// The data string with its folder made absolute ("folder:shapes" -> "folder:/home/me/shapes"), so
// that a checkpoint finds its data from any working directory.
std::string absolute_uri(const std::string& uri);

// Splits by a seeded permutation: the first (1 - val_fraction) go to the first dataset.
std::pair<DatasetPtr, DatasetPtr> random_split(const DatasetPtr& ds, double val_fraction, std::uint64_t seed);
// A view of a subset of indices.
DatasetPtr subset(const DatasetPtr& ds, std::vector<std::int64_t> indices);
// The images of some classes only, relabelled 0..K-1 in the order given (their names follow),
// and at most per_class of each (0: all), the first ones in index order. Errors name a class
// index out of range or given twice.
DatasetPtr select_classes(const DatasetPtr& ds, const std::vector<std::int64_t>& classes, std::int64_t per_class = 0);
// Images per class (indexed by label), read with label(): no image is decoded.
std::vector<std::int64_t> class_counts(const Dataset& ds);
// `n` images drawn so that every class keeps its share (docs/data.md, "Subsets"): each class
// first gets one image while n allows, the rest is shared in proportion to the class sizes
// (largest remainders first), and each class's images are a seeded random draw from it. The
// indices keep the dataset's order. n <= 0 or n >= size(): the dataset itself.
DatasetPtr stratified_subset(const DatasetPtr& ds, std::int64_t n, std::uint64_t seed);

}  // namespace fovea::data
