#pragma once
// Helpers for the data tests: an in-memory dataset, temp folders and error capture.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "fovea/core/error.h"
#include "fovea/core/generator.h"
#include "fovea/data/dataset.h"
#include "tests/test_util.h"

namespace fovea::test {

// Images given in memory (u8 (C,H,W) each), labels beside them.
class MemoryDataset final : public data::Dataset {
 public:
  MemoryDataset(std::vector<Tensor> images, std::vector<std::int64_t> labels, std::int64_t num_classes = 10)
      : images_(std::move(images)), labels_(std::move(labels)) {
    for (std::int64_t c = 0; c < num_classes; ++c) classes_.push_back(std::to_string(c));
  }
  std::int64_t size() const override { return static_cast<std::int64_t>(images_.size()); }
  data::Example get(std::int64_t i) const override {
    return {images_[static_cast<std::size_t>(i)], labels_[static_cast<std::size_t>(i)]};
  }
  const std::vector<std::string>& classes() const override { return classes_; }
  Shape image_shape() const override { return images_.empty() ? Shape{} : images_[0].shape(); }
  std::string name() const override { return "memory"; }

 private:
  std::vector<Tensor> images_;
  std::vector<std::int64_t> labels_;
  std::vector<std::string> classes_;
};

// A u8 (C,H,W) image of pseudo-random bytes.
inline Tensor random_u8_image(const Shape& s, std::uint64_t seed) {
  Generator g(seed);
  Tensor t = empty(s, {.dtype = DType::u8});
  auto* p = t.data<std::uint8_t>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<std::uint8_t>(g.below(256));
  return t;
}

// n random images of shape s with labels i % 10.
inline std::shared_ptr<MemoryDataset> random_dataset(std::int64_t n, const Shape& s, std::uint64_t seed = 1) {
  std::vector<Tensor> images;
  std::vector<std::int64_t> labels;
  for (std::int64_t i = 0; i < n; ++i) {
    images.push_back(random_u8_image(s, seed * 1000 + static_cast<std::uint64_t>(i)));
    labels.push_back(i % 10);
  }
  return std::make_shared<MemoryDataset>(std::move(images), std::move(labels));
}

// A fresh, empty folder under the test temp dir, named after the running test.
inline std::filesystem::path fresh_dir(const std::string& tag = "") {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
                                    ("fovea_" + std::string(info->test_suite_name()) + "_" + info->name() + tag);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void write_bytes(const std::filesystem::path& p, const std::vector<unsigned char>& b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  ASSERT_TRUE(f.good()) << "cannot write " << p;
}

inline std::vector<unsigned char> read_bytes(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

inline ::testing::AssertionResult contains(const char* text_expr, const char* needle_expr, const std::string& text,
                                           const std::string& needle) {
  if (text.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << text_expr << " does not contain " << needle_expr << "\n  text:   " << text
                                       << "\n  needle: " << needle;
}

inline ::testing::AssertionResult lacks(const char* text_expr, const char* needle_expr, const std::string& text,
                                        const std::string& needle) {
  if (text.find(needle) == std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << text_expr << " contains " << needle_expr << "\n  text: " << text;
}

// The raw bytes of t's elements in row-major order (exact comparison of any dtype).
inline std::vector<unsigned char> raw_bytes(const Tensor& t) {
  const Tensor c = t.contiguous();
  std::vector<unsigned char> out(static_cast<std::size_t>(c.numel()) * dtype_size(c.dtype()));
  if (!out.empty()) std::memcpy(out.data(), c.raw_data(), out.size());
  return out;
}

}  // namespace fovea::test

#define EXPECT_CONTAINS(text, needle) EXPECT_PRED_FORMAT2(::fovea::test::contains, text, needle)
#define EXPECT_LACKS(text, needle) EXPECT_PRED_FORMAT2(::fovea::test::lacks, text, needle)
