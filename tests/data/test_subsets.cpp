// Stratified subsets (--limit-train, --limit-test, eval --limit), class counts, labels without
// decoding and the data-path helpers.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "fovea/data/dataset.h"
#include "tests/data/data_test_util.h"

namespace fovea::test {

namespace {

// n images, labels in class order (the first n0 of class 0, ...), like an image folder's listing
std::shared_ptr<MemoryDataset> sorted_by_class(const std::vector<std::int64_t>& per_class) {
  std::vector<Tensor> images;
  std::vector<std::int64_t> labels;
  for (std::size_t c = 0; c < per_class.size(); ++c)
    for (std::int64_t i = 0; i < per_class[c]; ++i) {
      images.push_back(zeros({1, 2, 2}, {.dtype = DType::u8}));
      labels.push_back(static_cast<std::int64_t>(c));
    }
  return std::make_shared<MemoryDataset>(std::move(images), std::move(labels),
                                         static_cast<std::int64_t>(per_class.size()));
}

}  // namespace

TEST(Subsets, StratifiedKeepsEveryClassInProportion) {
  auto ds = sorted_by_class({50, 30, 20});
  auto sub = data::stratified_subset(ds, 10, 7);
  EXPECT_EQ(sub->size(), 10);
  EXPECT_EQ(data::class_counts(*sub), (std::vector<std::int64_t>{5, 3, 2}));
  // the first 10 in class order would all be class 0
  EXPECT_EQ(data::class_counts(*data::subset(ds, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9})),
            (std::vector<std::int64_t>{10, 0, 0}));
}

TEST(Subsets, StratifiedGivesEachClassOneBeforeProportions) {
  auto ds = sorted_by_class({97, 2, 1});
  EXPECT_EQ(data::class_counts(*data::stratified_subset(ds, 3, 0)), (std::vector<std::int64_t>{1, 1, 1}));
  EXPECT_EQ(data::class_counts(*data::stratified_subset(ds, 2, 0)), (std::vector<std::int64_t>{1, 1, 0}));
  auto c = data::class_counts(*data::stratified_subset(ds, 50, 0));
  EXPECT_EQ(std::accumulate(c.begin(), c.end(), std::int64_t{0}), 50);
  EXPECT_GE(c[1], 1);
  EXPECT_GE(c[2], 1);
}

TEST(Subsets, StratifiedIsSeededAndKeepsTheOrder) {
  auto ds = sorted_by_class({40, 40});
  auto indices = [&](std::uint64_t seed) {
    auto sub = data::stratified_subset(ds, 8, seed);
    std::vector<std::string> v;
    for (std::int64_t i = 0; i < sub->size(); ++i) v.push_back(sub->source(i));
    return v;
  };
  EXPECT_EQ(indices(3), indices(3));
  EXPECT_NE(indices(3), indices(4));
  auto sub = data::stratified_subset(ds, 8, 3);
  for (std::int64_t i = 1; i < sub->size(); ++i) EXPECT_LE(sub->label(i - 1), sub->label(i));  // dataset order
}

TEST(Subsets, NoLimitOrALargeOneIsTheDatasetItself) {
  auto ds = sorted_by_class({3, 3});
  EXPECT_EQ(data::stratified_subset(ds, 0, 0), ds);
  EXPECT_EQ(data::stratified_subset(ds, 6, 0), ds);
  EXPECT_EQ(data::stratified_subset(ds, 60, 0), ds);
}

TEST(Subsets, LabelsAndSourcesFollowSubsetsAndClassSelections) {
  auto ds = sorted_by_class({2, 2, 2});
  auto sel = data::select_classes(ds, {2, 0});
  ASSERT_EQ(sel->size(), 4);
  EXPECT_EQ(sel->label(0), 1);  // class 0 became 1
  EXPECT_EQ(sel->label(3), 0);  // class 2 became 0
  EXPECT_EQ(sel->source(3), "memory #5");
  EXPECT_EQ(data::class_counts(*sel), (std::vector<std::int64_t>{2, 2}));
}

TEST(Subsets, DataStrings) {
  EXPECT_EQ(data::absolute_uri("fashion-mnist"), "fashion-mnist");
  EXPECT_EQ(data::absolute_uri("folder:/a/b/../c"), "folder:/a/c");
  const std::string rel = data::absolute_uri("folder:shapes");
  EXPECT_TRUE(rel.starts_with("folder:/")) << rel;
  EXPECT_TRUE(rel.ends_with("/shapes")) << rel;
  EXPECT_EQ(data::data_dir("mnist:/x/y"), "/x/y");
  EXPECT_EQ(data::data_dir("fashion-mnist"), data::kFashionMnistDir);
  const auto dir = unique_temp_dir("subsets_uri");
  EXPECT_NE(error_of([&] { data::open(dir.string()); }).find("did you mean folder:"), std::string::npos);
}

}  // namespace fovea::test
