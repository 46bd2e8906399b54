// IDX files, MNIST-style datasets, splits and subsets.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "fovea/data/dataset.h"
#include "fovea/data/transforms.h"
#include "tests/data/data_test_util.h"

namespace {

namespace fs = std::filesystem;
using fovea::DType;
using fovea::Shape;
using fovea::Tensor;
using fovea::test::error_of;
using fovea::test::fresh_dir;
using fovea::test::write_bytes;
using Bytes = std::vector<unsigned char>;

Bytes idx_bytes(const std::vector<std::uint32_t>& dims, const Bytes& data, unsigned char type = 0x08) {
  Bytes b = {0, 0, type, static_cast<unsigned char>(dims.size())};
  for (std::uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<unsigned char>((d >> shift) & 0xFF));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

Bytes iota_bytes(std::size_t n, unsigned start = 0) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<unsigned char>((start + i * 7) & 0xFF);
  return b;
}

void write_gz(const fs::path& p, const Bytes& b) {
  gzFile f = gzopen(p.c_str(), "wb");
  ASSERT_NE(f, nullptr) << p;
  if (!b.empty()) {
    ASSERT_EQ(gzwrite(f, b.data(), static_cast<unsigned>(b.size())), static_cast<int>(b.size()));
  }
  ASSERT_EQ(gzclose(f), Z_OK);
}

std::string read_error(const fs::path& p) {
  return error_of([&] { fovea::data::read_idx(p.string()); });
}

TEST(Idx, RoundTripRaw) {
  const fs::path p = fresh_dir() / "a.idx";
  const Bytes data = iota_bytes(24);
  write_bytes(p, idx_bytes({2, 3, 4}, data));
  const Tensor t = fovea::data::read_idx(p.string());
  EXPECT_EQ(t.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(t.dtype(), DType::u8);
  EXPECT_EQ(fovea::test::raw_bytes(t), data);
}

TEST(Idx, RoundTripGzip) {
  const fs::path dir = fresh_dir();
  // larger than zlib's buffers, so the data arrives in several reads
  const Bytes data = iota_bytes(3 * 200 * 300, 5);
  write_gz(dir / "a.idx.gz", idx_bytes({3, 200, 300}, data));
  const Tensor t = fovea::data::read_idx((dir / "a.idx.gz").string());
  EXPECT_EQ(t.shape(), (Shape{3, 200, 300}));
  EXPECT_EQ(fovea::test::raw_bytes(t), data);
  // gzip is detected by its magic bytes, not by the name
  write_gz(dir / "plain_name", idx_bytes({5}, iota_bytes(5)));
  EXPECT_EQ(fovea::test::raw_bytes(fovea::data::read_idx((dir / "plain_name").string())), iota_bytes(5));
}

TEST(Idx, EmptyDimIsAnEmptyTensor) {
  const fs::path p = fresh_dir() / "empty.idx";
  write_bytes(p, idx_bytes({0, 28, 28}, {}));
  EXPECT_EQ(fovea::data::read_idx(p.string()).shape(), (Shape{0, 28, 28}));
}

TEST(IdxMalformed, ZeroDimBesideAbsurdOnes) {
  // found by fuzzing: no elements, so the size checks passed, but the strides overflowed
  const fs::path p = fresh_dir() / "absurd.idx";
  write_bytes(p, idx_bytes({0, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFF}, {}));
  EXPECT_CONTAINS(read_error(p),
                  "dims (0,4294967295,4294967295,65535) are absurd: even without their zeros they "
                  "multiply past 2^63");
}

TEST(IdxMalformed, MissingFile) {
  const std::string msg = read_error(fresh_dir() / "nope.idx");
  EXPECT_CONTAINS(msg, "[idx] cannot open");
  EXPECT_CONTAINS(msg, "nope.idx");
}

TEST(IdxMalformed, BadMagic) {
  const fs::path p = fresh_dir() / "bad.idx";
  Bytes b = idx_bytes({4}, iota_bytes(4));
  b[0] = 0x12;
  write_bytes(p, b);
  const std::string msg = read_error(p);
  EXPECT_CONTAINS(msg, p.string());
  EXPECT_CONTAINS(msg, "bad magic number 12 00 08 01");
}

TEST(IdxMalformed, WrongTypeCode) {
  const fs::path dir = fresh_dir();
  write_bytes(dir / "f32.idx", idx_bytes({1}, iota_bytes(4), 0x0D));
  EXPECT_CONTAINS(read_error(dir / "f32.idx"), "type code 0x0D (f32) is not supported: expected 0x08 (u8)");
  write_bytes(dir / "i32.idx", idx_bytes({1}, iota_bytes(4), 0x0C));
  EXPECT_CONTAINS(read_error(dir / "i32.idx"), "0x0C (i32)");
  write_bytes(dir / "junk.idx", idx_bytes({1}, iota_bytes(1), 0x05));
  EXPECT_CONTAINS(read_error(dir / "junk.idx"), "unknown type code 0x05");
}

TEST(IdxMalformed, NoDims) {
  const fs::path p = fresh_dir() / "scalar.idx";
  write_bytes(p, idx_bytes({}, iota_bytes(1)));
  EXPECT_CONTAINS(read_error(p), "ndim is 0");
}

TEST(IdxMalformed, HeaderCutShort) {
  const fs::path dir = fresh_dir();
  write_bytes(dir / "two.idx", {0, 0});
  EXPECT_CONTAINS(read_error(dir / "two.idx"), "header cut short: 2 bytes");
  write_bytes(dir / "zero.idx", {});
  EXPECT_CONTAINS(read_error(dir / "zero.idx"), "header cut short: 0 bytes");
  Bytes dims = idx_bytes({60000, 28, 28}, {});
  dims.resize(4 + 5);  // 3 dims need 12 bytes
  write_bytes(dir / "dims.idx", dims);
  EXPECT_CONTAINS(read_error(dir / "dims.idx"), "3 dims need 12 bytes after the magic number, got 5");
  write_gz(dir / "dims.idx.gz", dims);
  EXPECT_CONTAINS(read_error(dir / "dims.idx.gz"), "3 dims need 12 bytes after the magic number, got 5");
}

TEST(IdxMalformed, TruncatedData) {
  const fs::path dir = fresh_dir();
  const Bytes b = idx_bytes({10, 2}, iota_bytes(13));  // 20 data bytes expected
  write_bytes(dir / "short.idx", b);
  std::string msg = read_error(dir / "short.idx");
  EXPECT_CONTAINS(msg, "truncated: dims (10,2) need 20 data bytes after the 12-byte header, the file has 13");
  EXPECT_CONTAINS(msg, "short.idx");
  write_gz(dir / "short.idx.gz", b);
  msg = read_error(dir / "short.idx.gz");
  EXPECT_CONTAINS(msg, "truncated: dims (10,2) need 20 data bytes after the 12-byte header, got 13");
}

TEST(IdxMalformed, GzipStreamCutShort) {
  const fs::path dir = fresh_dir();
  write_gz(dir / "full.gz", idx_bytes({4000}, iota_bytes(4000)));
  Bytes gz = fovea::test::read_bytes(dir / "full.gz");
  gz.resize(gz.size() / 2);
  write_bytes(dir / "cut.gz", gz);
  const std::string msg = read_error(dir / "cut.gz");
  EXPECT_CONTAINS(msg, "[idx] ");
  EXPECT_CONTAINS(msg, "cut.gz");
  EXPECT_CONTAINS(msg, "need 4000 data bytes");
}

TEST(IdxMalformed, CorruptGzipData) {
  const fs::path dir = fresh_dir();
  write_gz(dir / "full.gz", idx_bytes({4000}, iota_bytes(4000)));
  Bytes gz = fovea::test::read_bytes(dir / "full.gz");
  for (std::size_t i = 12; i < gz.size() - 8; i += 3) gz[i] ^= 0x5A;
  write_bytes(dir / "bad.gz", gz);
  const std::string msg = read_error(dir / "bad.gz");
  EXPECT_CONTAINS(msg, "[idx] " + (dir / "bad.gz").string() + ": corrupt gzip data: ");
  EXPECT_EQ(msg.find("bad.gz"), msg.rfind("bad.gz")) << "the path once: " << msg;
}

TEST(IdxMalformed, ExtraBytes) {
  const fs::path dir = fresh_dir();
  const Bytes b = idx_bytes({5}, iota_bytes(8));
  write_bytes(dir / "long.idx", b);
  EXPECT_CONTAINS(read_error(dir / "long.idx"),
                  "3 extra bytes after the data: dims (5) need 5 data bytes after the 8-byte header, the file has 8");
  write_gz(dir / "long.idx.gz", b);
  EXPECT_CONTAINS(read_error(dir / "long.idx.gz"), "3 extra bytes after the data");
}

TEST(IdxMalformed, AbsurdDimsAreRefusedBeforeAllocating) {
  const fs::path dir = fresh_dir();
  const Bytes huge = idx_bytes({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, iota_bytes(16));
  write_bytes(dir / "huge.idx", huge);
  EXPECT_CONTAINS(read_error(dir / "huge.idx"), "need over 2^64 data bytes");
  write_gz(dir / "huge.idx.gz", huge);
  EXPECT_CONTAINS(read_error(dir / "huge.idx.gz"), "need over 2^64 bytes of data");
  // 10 GB claimed by a gzip file of a few dozen bytes
  write_gz(dir / "big.idx.gz", idx_bytes({100000, 100000}, iota_bytes(16)));
  EXPECT_CONTAINS(read_error(dir / "big.idx.gz"), "more than a gzip file of");
  write_bytes(dir / "big.idx", idx_bytes({100000, 100000}, iota_bytes(16)));
  EXPECT_CONTAINS(read_error(dir / "big.idx"), "need 10000000000 data bytes");
}

// ---- MNIST-style folders ----

struct MnistFiles {
  std::uint32_t n = 5;
  std::uint32_t rows = 28, cols = 28;
  Bytes labels = {0, 1, 2, 3, 9};
  bool gzip_labels = true;
};

// Writes t10k-* files (images raw, labels gzip by default) into a fresh dir.
fs::path write_mnist(const MnistFiles& f, const std::string& tag = "") {
  const fs::path dir = fresh_dir(tag);
  write_bytes(dir / "t10k-images-idx3-ubyte", idx_bytes({f.n, f.rows, f.cols}, iota_bytes(f.n * f.rows * f.cols)));
  const Bytes labels = idx_bytes({static_cast<std::uint32_t>(f.labels.size())}, f.labels);
  if (f.gzip_labels) write_gz(dir / "t10k-labels-idx1-ubyte.gz", labels);
  else write_bytes(dir / "t10k-labels-idx1-ubyte", labels);
  return dir;
}

TEST(Data, MnistFromSmallFiles) {
  const fs::path dir = write_mnist({});
  const fovea::data::DatasetPtr ds = fovea::data::mnist(dir.string(), false);
  ASSERT_EQ(ds->size(), 5);
  EXPECT_EQ(ds->name(), "mnist");
  EXPECT_EQ(ds->image_shape(), (Shape{1, 28, 28}));
  ASSERT_EQ(ds->classes().size(), 10u);
  EXPECT_EQ(ds->classes()[0], "0");
  EXPECT_EQ(ds->classes()[9], "9");
  const Bytes all = iota_bytes(5 * 28 * 28);
  for (std::int64_t i = 0; i < 5; ++i) {
    const fovea::data::Example ex = ds->get(i);
    EXPECT_EQ(ex.image.shape(), (Shape{1, 28, 28}));
    EXPECT_EQ(ex.image.dtype(), DType::u8);
    EXPECT_EQ(fovea::test::raw_bytes(ex.image), Bytes(all.begin() + i * 784, all.begin() + (i + 1) * 784));
  }
  EXPECT_EQ(ds->get(4).label, 9);
  // get() returns a copy: writing into it leaves the dataset as it was
  ds->get(0).image.data<std::uint8_t>()[0] = 99;
  EXPECT_EQ(ds->get(0).image.data<std::uint8_t>()[0], all[0]);
  EXPECT_CONTAINS(error_of([&] { ds->get(5); }), "[mnist] index 5 out of range for 5 images");
  EXPECT_CONTAINS(error_of([&] { fovea::data::mnist(dir.string(), true); }),
                  "missing " + (dir / "train-images-idx3-ubyte").string() + " (or train-images-idx3-ubyte.gz)");
}

TEST(Data, MnistMismatchedLabelCount) {
  MnistFiles f;
  f.labels = {0, 1, 2, 3};
  const fs::path dir = write_mnist(f);
  const std::string msg = error_of([&] { fovea::data::mnist(dir.string(), false); });
  EXPECT_CONTAINS(msg, "[mnist] " + (dir / "t10k-labels-idx1-ubyte.gz").string() + ": 4 labels for the 5 images of ");
  EXPECT_CONTAINS(msg, "t10k-images-idx3-ubyte");
}

TEST(Data, MnistLabelOutOfRange) {
  MnistFiles f;
  f.labels = {0, 1, 2, 10, 4};
  f.gzip_labels = false;
  const fs::path dir = write_mnist(f);
  EXPECT_CONTAINS(error_of([&] { fovea::data::mnist(dir.string(), false); }),
                  (dir / "t10k-labels-idx1-ubyte").string() +
                      ": label 10 at index 3 is out of range: mnist has 10 classes (0 to 9)");
}

TEST(Data, MnistWrongImageShape) {
  MnistFiles f;
  f.cols = 27;
  const fs::path dir = write_mnist(f);
  EXPECT_CONTAINS(error_of([&] { fovea::data::mnist(dir.string(), false); }),
                  "expected images of shape (N,28,28), got (5,28,27)");
}

TEST(Data, MnistMissingFolder) {
  const std::string dir = (fresh_dir() / "absent").string();
  const std::string msg = error_of([&] { fovea::data::mnist(dir, true); });
  EXPECT_CONTAINS(msg, "[mnist] dataset folder " + dir + " not found");
  EXPECT_LACKS(msg, "dataset-fashion-mnist");
}

TEST(FashionMnist, MissingDatasetNamesTheDebianPackage) {
  const std::string dir = (fresh_dir() / "absent").string();
  const std::string msg = error_of([&] { fovea::data::fashion_mnist(dir, true); });
  EXPECT_CONTAINS(msg, "[fashion-mnist] dataset folder " + dir + " not found");
  EXPECT_CONTAINS(msg, "dataset-fashion-mnist");
  if (!fs::exists(fovea::data::kFashionMnistDir)) {
    EXPECT_CONTAINS(error_of([] { fovea::data::fashion_mnist(); }),
                    std::string(fovea::data::kFashionMnistDir) +
                        " not found; install the Debian package dataset-fashion-mnist "
                        "(apt-get install dataset-fashion-mnist)");
  }
}

TEST(FashionMnist, RealTestSetLoads) {
  if (!fs::exists(fovea::data::kFashionMnistDir))
    GTEST_SKIP() << fovea::data::kFashionMnistDir
                 << " is absent: install the Debian package dataset-fashion-mnist to run this test";
  const fovea::data::DatasetPtr ds = fovea::data::fashion_mnist(fovea::data::kFashionMnistDir, false);
  ASSERT_EQ(ds->size(), 10000);
  EXPECT_EQ(ds->name(), "fashion-mnist");
  EXPECT_EQ(ds->image_shape(), (Shape{1, 28, 28}));
  const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  EXPECT_EQ(ds->classes(), names);
  std::vector<int> per_class(10, 0);
  for (std::int64_t i = 0; i < ds->size(); ++i) ++per_class[static_cast<std::size_t>(ds->get(i).label)];
  EXPECT_EQ(per_class, std::vector<int>(10, 1000));  // the test set is balanced
  EXPECT_EQ(ds->get(0).label, 9);                    // its first image is an ankle boot
  const auto [mean, stdev] = fovea::data::channel_stats(*ds);
  ASSERT_EQ(mean.size(), 1u);
  EXPECT_NEAR(mean[0], 0.2868, 0.001);
  EXPECT_NEAR(stdev[0], 0.3524, 0.001);
}

TEST(FashionMnist, RealTrainSetLoads) {
  if (!fs::exists(fovea::data::kFashionMnistDir))
    GTEST_SKIP() << fovea::data::kFashionMnistDir
                 << " is absent: install the Debian package dataset-fashion-mnist to run this test";
  const fovea::data::DatasetPtr ds = fovea::data::fashion_mnist();
  EXPECT_EQ(ds->size(), 60000);
  EXPECT_EQ(ds->get(59999).image.shape(), (Shape{1, 28, 28}));
}

TEST(Data, RandomSplitAndSubset) {
  const auto ds = fovea::test::random_dataset(10, {1, 2, 2});
  const auto [train, val] = fovea::data::random_split(ds, 0.2, 3);
  ASSERT_EQ(train->size(), 8);
  ASSERT_EQ(val->size(), 2);
  EXPECT_EQ(train->classes(), ds->classes());
  EXPECT_EQ(train->image_shape(), (Shape{1, 2, 2}));
  // together the two parts hold every image once (the random images are all different)
  for (std::int64_t i = 0; i < 10; ++i) {
    const Bytes image = fovea::test::raw_bytes(ds->get(i).image);
    int copies = 0;
    for (const auto& part : {train, val})
      for (std::int64_t j = 0; j < part->size(); ++j) copies += fovea::test::raw_bytes(part->get(j).image) == image;
    EXPECT_EQ(copies, 1) << "image " << i;
  }
  // the same seed gives the same split, another seed (almost surely) another
  const auto [train2, val2] = fovea::data::random_split(ds, 0.2, 3);
  const auto [train3, val3] = fovea::data::random_split(ds, 0.5, 4);
  EXPECT_EQ(fovea::test::raw_bytes(val2->get(0).image), fovea::test::raw_bytes(val->get(0).image));
  EXPECT_EQ(val3->size(), 5);
  EXPECT_CONTAINS(error_of([&] { fovea::data::random_split(ds, 1.5, 0); }), "[random_split] val_fraction");

  const fovea::data::DatasetPtr sub = fovea::data::subset(ds, {7, 2});
  ASSERT_EQ(sub->size(), 2);
  EXPECT_EQ(fovea::test::raw_bytes(sub->get(0).image), fovea::test::raw_bytes(ds->get(7).image));
  EXPECT_EQ(sub->get(1).label, 2);
  EXPECT_CONTAINS(error_of([&] {
                    fovea::data::subset(ds, {3, 10});
                  }),
                  "[subset] index 10 out of range for a dataset of 10 images");
}

}  // namespace
