// Metrics on hand-made logits, their text tables and the confusion-matrix PNG.
#include "fovea/train/metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fovea/core/error.h"
#include "fovea/io/image.h"

namespace {

namespace fs = std::filesystem;
using fovea::from_vector;
using fovea::Tensor;
using fovea::train::Metrics;

Tensor logits(const std::vector<float>& v, std::int64_t k) {
  return from_vector<float>(v, {static_cast<std::int64_t>(v.size()) / k, k});
}
Tensor labels(const std::vector<std::int64_t>& v) {
  return from_vector<std::int64_t>(v, {static_cast<std::int64_t>(v.size())});
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST(Metrics, Top1AndTop5) {
  Metrics m(7);
  m.update(logits({0, 1, 9, 2, 3, 4, 5,   // label 2 is the largest: top-1 and top-5
                   7, 9, 8, 1, 2, 3, 4,   // label 0 is third: top-5 only
                   6, 5, 4, 3, 2, 1, 0,   // label 6 is last: neither
                   6, 5, 4, 3, 2, 1, 0,   // label 4 is fifth (4 above): top-5 only
                   6, 5, 4, 3, 2, 1, 0},  // label 5 is sixth (5 above): neither
                  7),
           labels({2, 0, 6, 4, 5}), 0.5);
  EXPECT_EQ(m.count(), 5);
  EXPECT_DOUBLE_EQ(m.top1(), 1.0 / 5);
  EXPECT_DOUBLE_EQ(m.top5(), 3.0 / 5);
  EXPECT_DOUBLE_EQ(m.loss(), 0.5);
}

TEST(Metrics, TopKIsAtMostTheClassCount) {
  Metrics m(3);
  m.update(logits({3, 2, 1, 3, 2, 1}, 3), labels({2, 1}), 1.0);
  EXPECT_DOUBLE_EQ(m.top1(), 0.0);
  EXPECT_DOUBLE_EQ(m.top5(), 1.0);  // top-3 of 3 classes always holds the label
}

// Top-1 is the first maximum (torch.argmax); top-k counts the logits strictly above the label's.
TEST(Metrics, Ties) {
  Metrics m(6);
  m.update(logits({1, 1, 1, 1, 1, 1,   // all equal, label 3: argmax is 0, so top-1 misses; none above
                   2, 0, 0, 0, 2, 0,   // label 0 ties class 4 and comes first: top-1 hit
                   5, 5, 5, 5, 1, 1,   // label 5: four above, ties with class 4: top-5 hit
                   5, 5, 5, 5, 5, 1},  // label 5: five above: top-5 miss
                  6),
           labels({3, 0, 5, 5}), 0.0);
  EXPECT_DOUBLE_EQ(m.top1(), 1.0 / 4);
  EXPECT_DOUBLE_EQ(m.top5(), 3.0 / 4);
  EXPECT_EQ(m.confusion()[3 * 6 + 0], 1);  // the tie in row 0 went to the first class
}

TEST(Metrics, ConfusionAndPerClass) {
  Metrics m(4);
  // predictions (argmax): 0, 1, 1, 0, 3, 3; labels: 0, 1, 0, 0, 3, 1. Class 2 has no samples.
  m.update(logits({9, 0, 0, 0, 0, 9, 0, 0, 0, 9, 0, 0}, 4), labels({0, 1, 0}), 1.0);
  m.update(logits({9, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 9}, 4), labels({0, 3, 1}), 1.0);
  const std::vector<std::int64_t> expected = {2, 1, 0, 0,   // true 0
                                              0, 1, 0, 1,   // true 1
                                              0, 0, 0, 0,   // true 2
                                              0, 0, 0, 1};  // true 3
  EXPECT_EQ(m.confusion(), expected);
  const auto acc = m.per_class_accuracy();
  ASSERT_EQ(acc.size(), 4u);
  EXPECT_DOUBLE_EQ(acc[0], 2.0 / 3);
  EXPECT_DOUBLE_EQ(acc[1], 0.5);
  EXPECT_TRUE(std::isnan(acc[2]));
  EXPECT_DOUBLE_EQ(acc[3], 1.0);
  EXPECT_DOUBLE_EQ(m.top1(), 4.0 / 6);
}

TEST(Metrics, LossIsWeightedBySamples) {
  Metrics m(2);
  m.update(logits({1, 0, 1, 0, 1, 0}, 2), labels({0, 0, 0}), 1.0);
  m.update(logits({1, 0}, 2), labels({1}), 3.0);
  m.update(fovea::empty({0, 2}), labels({}), std::nan(""));  // an empty batch weighs nothing
  EXPECT_EQ(m.count(), 4);
  EXPECT_DOUBLE_EQ(m.loss(), (3 * 1.0 + 1 * 3.0) / 4);  // not (1 + 3) / 2
  EXPECT_DOUBLE_EQ(m.top1(), 3.0 / 4);
}

TEST(Metrics, EmptyIsNaN) {
  Metrics m(3);
  EXPECT_EQ(m.count(), 0);
  EXPECT_TRUE(std::isnan(m.loss()));
  EXPECT_TRUE(std::isnan(m.top1()));
  EXPECT_TRUE(std::isnan(m.top5()));
}

TEST(Metrics, AcceptsF64Logits) {
  Metrics m(2);
  m.update(from_vector<double>({0, 1, 1, 0}, {2, 2}), labels({1, 1}), 0.25);
  EXPECT_DOUBLE_EQ(m.top1(), 0.5);
}

TEST(Metrics, BadInput) {
  EXPECT_THROW(Metrics(0), fovea::Error);
  Metrics m(3);
  m.update(logits({1, 0, 0}, 3), labels({0}), 1.0);
  const auto throws = [&](const Tensor& x, const Tensor& y, const std::string& what) {
    try {
      m.update(x, y, 1.0);
      ADD_FAILURE() << "no error for " << what;
    } catch (const fovea::Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("[metrics] ", 0), 0u) << e.what();
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  throws(logits({1, 0}, 2), labels({0}), "expected logits (B,3), got (1,2)");
  throws(logits({1, 0, 0}, 3), labels({0, 1}), "expected labels (1)");
  throws(logits({1, 0, 0}, 3), from_vector<float>({0}, {1}), "labels must be i64, got f32");
  throws(from_vector<std::int64_t>({1, 0, 0}, {1, 3}), labels({0}), "logits must be floating point");
  throws(logits({1, 0, 0, 0, 1, 0}, 3), labels({1, 3}), "label 3 of sample 1 is outside [0, 3)");
  throws(logits({1, 0, 0}, 3), labels({-1}), "label -1 of sample 0");
  // a rejected batch changes nothing
  EXPECT_EQ(m.count(), 1);
  EXPECT_EQ(m.confusion()[0], 1);
  EXPECT_DOUBLE_EQ(m.top1(), 1.0);
}

// ---- tables

Metrics three_class_metrics() {
  Metrics m(3);
  // cat: 2 right, 1 called dog; dog: 1 right; bird: none
  m.update(logits({5, 0, 0, 5, 0, 0, 0, 5, 0, 0, 5, 0}, 3), labels({0, 0, 0, 1}), 0.5);
  return m;
}

TEST(MetricsTables, PerClass) {
  const std::string t = fovea::train::per_class_table(three_class_metrics(), {"cat", "dog", "bird"});
  EXPECT_EQ(t,
            "class   samples   correct  accuracy\n"
            "cat           3         2     66.7%\n"
            "dog           1         1    100.0%\n"
            "bird          0         0         -\n"
            "total         4         3     75.0%\n");
}

TEST(MetricsTables, PerClassWithoutNamesUsesIndices) {
  const auto rows = lines_of(fovea::train::per_class_table(three_class_metrics(), {}));
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[3].rfind("2 ", 0), 0u) << rows[3];
}

TEST(MetricsTables, Confusion) {
  const std::string t = fovea::train::confusion_table(three_class_metrics(), {"cat", "dog", "bird"});
  EXPECT_EQ(t,
            "true \\ predicted  0  1  2\n"
            "0 cat             2  1  0\n"
            "1 dog             0  1  0\n"
            "2 bird            0  0  0\n");
}

TEST(MetricsTables, TenClassesFitEightyColumns) {
  const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  Metrics m(10);
  std::vector<float> x;
  std::vector<std::int64_t> y;
  for (int c = 0; c < 10; ++c)
    for (int i = 0; i < 1000; ++i) {  // 1000 per class, all predicted as class (c + i % 2) % 10
      for (int j = 0; j < 10; ++j) x.push_back(j == (c + i % 2) % 10 ? 1.0f : 0.0f);
      y.push_back(c);
    }
  m.update(logits(x, 10), labels(y), 0.1);
  const auto rows = lines_of(fovea::train::confusion_table(m, names));
  ASSERT_EQ(rows.size(), 11u);
  for (const auto& r : rows) EXPECT_LE(r.size(), 80u) << r;
  EXPECT_EQ(rows[1], "0 T-shirt/top     500  500    0    0    0    0    0    0    0    0");
  EXPECT_EQ(rows[10], "9 Ankle boot      500    0    0    0    0    0    0    0    0  500");
  const auto per = lines_of(fovea::train::per_class_table(m, names));
  EXPECT_EQ(per[0], "class         samples   correct  accuracy");
  EXPECT_EQ(per[1], "T-shirt/top      1000       500     50.0%");
  EXPECT_EQ(per[11], "total           10000      5000     50.0%");
}

TEST(MetricsTables, LongNamesAreShortened) {
  Metrics m(2);
  const std::string t = fovea::train::confusion_table(m, {"a_really_long_folder_name_for_a_class", "b"});
  EXPECT_NE(t.find("0 a_really_long_folde~ "), std::string::npos) << t;
}

TEST(MetricsTables, WrongNumberOfNames) {
  EXPECT_THROW(fovea::train::per_class_table(Metrics(3), {"a", "b"}), fovea::Error);
  EXPECT_THROW(fovea::train::confusion_table(Metrics(3), {"a"}), fovea::Error);
}

// ---- the figure

class MetricsPng : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("fovea_metrics_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(MetricsPng, WritesAReadableFigure) {
  const std::string path = (dir_ / "confusion.png").string();
  fovea::train::write_confusion_png(three_class_metrics(), {"cat", "dog", "bird"}, path);
  ASSERT_TRUE(fs::exists(path));
  std::ifstream f(path, std::ios::binary);
  char sig[8] = {};
  f.read(sig, 8);
  EXPECT_EQ(std::string(sig, 8), std::string("\x89PNG\r\n\x1a\n", 8));

  // Layout for 3 classes: 47 px cells (141 px matrix), names up to "bird" (46 px at scale 2);
  // the title "confusion matrix: 4 samples, top-1 75.0%" (40 glyphs, 478 px) sets the width.
  const Tensor img = fovea::io::read_image(path);
  ASSERT_EQ(img.shape(), (fovea::Shape{3, 287, 510}));
  // Row "dog" is all in one cell: that cell is the darkest blue; row "bird" is empty: white.
  const auto px = img.to_vector<std::uint8_t>();
  const std::int64_t plane = 287 * 510;
  bool dark = false, white = false;
  for (std::int64_t i = 0; i < plane; ++i) {
    dark |= px[i] == 8 && px[plane + i] == 48 && px[2 * plane + i] == 107;
    white |= px[i] == 255 && px[plane + i] == 255 && px[2 * plane + i] == 255;
  }
  EXPECT_TRUE(dark);
  EXPECT_TRUE(white);
}

TEST_F(MetricsPng, ManyClassesStayBounded) {
  const std::string path = (dir_ / "many.png").string();
  Metrics m(200);
  fovea::train::write_confusion_png(m, {}, path);
  const Tensor img = fovea::io::read_image(path);
  EXPECT_LE(img.size(1), 1400);
  EXPECT_LE(img.size(2), 1400);
  EXPECT_THROW(fovea::train::write_confusion_png(Metrics(1001), {}, path), fovea::Error);
}

}  // namespace
