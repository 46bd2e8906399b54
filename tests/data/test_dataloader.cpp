// DataLoader: order, determinism across worker counts, drop_last, resuming, errors, restarts.
#include "fovea/data/dataloader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "tests/data/data_test_util.h"

namespace {

using fovea::DType;
using fovea::Generator;
using fovea::Shape;
using fovea::Tensor;
using fovea::test::error_of;
using fovea::test::raw_bytes;
namespace data = fovea::data;

data::Transform augment() {
  return data::compose({data::to_tensor(), data::random_crop(6, 6, 1), data::random_horizontal_flip(),
                        data::random_rotation(10), data::random_erasing(0.5)});
}

data::DataLoaderOptions options(int workers, std::int64_t batch_size = 8) {
  return {.batch_size = batch_size, .shuffle = true, .drop_last = false, .workers = workers, .seed = 7, .prefetch = 2};
}

// Everything an epoch yields, as bytes, for exact comparison.
struct EpochRecord {
  std::vector<std::vector<unsigned char>> images, labels;
  std::vector<std::vector<std::int64_t>> indices;
  bool operator==(const EpochRecord&) const = default;
};

EpochRecord run_epoch(data::DataLoader& loader, std::int64_t epoch, std::int64_t skip = 0) {
  EpochRecord r;
  loader.start_epoch(epoch, skip);
  while (std::optional<data::Batch> b = loader.next()) {
    r.images.push_back(raw_bytes(b->images));
    r.labels.push_back(raw_bytes(b->labels));
    r.indices.push_back(b->indices);
  }
  return r;
}

TEST(DataLoader, BatchLayout) {
  const auto ds = fovea::test::random_dataset(10, {3, 6, 6});
  data::DataLoader loader(ds, data::to_tensor(), {.batch_size = 4, .shuffle = false, .workers = 0});
  EXPECT_EQ(loader.num_batches(), 3);
  loader.start_epoch(0);
  const data::Batch b = *loader.next();
  EXPECT_EQ(b.images.shape(), (Shape{4, 3, 6, 6}));
  EXPECT_EQ(b.images.dtype(), DType::f32);
  EXPECT_TRUE(b.images.is_contiguous());
  EXPECT_EQ(b.labels.shape(), (Shape{4}));
  EXPECT_EQ(b.labels.dtype(), DType::i64);
  EXPECT_EQ(b.indices, (std::vector<std::int64_t>{0, 1, 2, 3}));  // no shuffle: dataset order
  EXPECT_EQ(b.labels.to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 1, 2, 3}));
  // sample 2 of the batch is dataset image 2 / 255
  Generator g;
  const Tensor expected = data::to_tensor()(ds->get(2).image, g);
  EXPECT_EQ(raw_bytes(b.images.select(0, 2)), raw_bytes(expected));
  // no transform: to_tensor()
  data::DataLoader plain(ds, nullptr, {.batch_size = 4, .shuffle = false, .workers = 0});
  EXPECT_EQ(raw_bytes(plain.next()->images), raw_bytes(b.images));
}

TEST(DataLoader, SameBatchesWhateverTheWorkers) {
  const auto ds = fovea::test::random_dataset(37, {1, 6, 6});
  data::DataLoader l0(ds, augment(), options(0));
  data::DataLoader l1(ds, augment(), options(1));
  data::DataLoader l3(ds, augment(), options(3));
  for (std::int64_t epoch : {0, 2}) {
    const EpochRecord r0 = run_epoch(l0, epoch);
    ASSERT_EQ(r0.images.size(), 5u);
    EXPECT_TRUE(run_epoch(l1, epoch) == r0) << "1 worker differs from 0, epoch " << epoch;
    EXPECT_TRUE(run_epoch(l3, epoch) == r0) << "3 workers differ from 0, epoch " << epoch;
  }
  // the batch size changes the grouping, not each sample's augmentation
  data::DataLoader l5(ds, augment(), options(2, 5));
  const EpochRecord r5 = run_epoch(l5, 0), r0 = run_epoch(l0, 0);
  EXPECT_EQ(r5.indices[0][0], r0.indices[0][0]);
  const std::ptrdiff_t five_samples = 5 * 36 * sizeof(float);
  EXPECT_EQ(std::vector<unsigned char>(r5.images[0].begin(), r5.images[0].begin() + five_samples),
            std::vector<unsigned char>(r0.images[0].begin(), r0.images[0].begin() + five_samples));
}

TEST(DataLoader, EpochsGiveDifferentOrders) {
  const auto ds = fovea::test::random_dataset(50, {1, 2, 2});
  data::DataLoader loader(ds, data::to_tensor(), options(2, 50));
  const EpochRecord e0 = run_epoch(loader, 0), e1 = run_epoch(loader, 1), again = run_epoch(loader, 0);
  EXPECT_NE(e0.indices, e1.indices);
  EXPECT_TRUE(e0 == again);
  // each epoch is a permutation of the dataset
  std::vector<std::int64_t> sorted = e1.indices[0];
  std::sort(sorted.begin(), sorted.end());
  for (std::int64_t i = 0; i < 50; ++i) EXPECT_EQ(sorted[static_cast<std::size_t>(i)], i);
  // another seed, another order
  data::DataLoaderOptions o = options(0, 50);
  o.seed = 8;
  data::DataLoader other(ds, data::to_tensor(), o);
  EXPECT_NE(run_epoch(other, 0).indices, e0.indices);
}

// Distributed training's sampler (PyTorch's DistributedSampler): padded to a multiple of the
// world by repeating the start, then interleaved.
TEST(DataLoader, ShardsPadAndInterleave) {
  EXPECT_EQ(data::shard({5, 6, 7, 8, 9}, 0, 2), (std::vector<std::int64_t>{5, 7, 9}));
  EXPECT_EQ(data::shard({5, 6, 7, 8, 9}, 1, 2), (std::vector<std::int64_t>{6, 8, 5}));
  EXPECT_EQ(data::shard({1, 2}, 2, 3), (std::vector<std::int64_t>{1}));
  EXPECT_EQ(data::shard({4}, 3, 4), (std::vector<std::int64_t>{4}));
  EXPECT_TRUE(data::shard({}, 0, 2).empty());
  // unpadded (evaluation): every element in exactly one part
  EXPECT_EQ(data::shard({5, 6, 7, 8, 9}, 1, 2, false), (std::vector<std::int64_t>{6, 8}));
  EXPECT_EQ(data::shard({5, 6, 7, 8, 9}, 0, 2, false), (std::vector<std::int64_t>{5, 7, 9}));
  EXPECT_TRUE(data::shard({1, 2}, 2, 3, false).empty());
  EXPECT_THROW(data::shard({1, 2, 3}, 2, 2), fovea::Error);
}

// Two ranks at batch 4 see, batch for batch, the images one process sees at batch 8, with the
// same augmentation, whatever their workers.
TEST(DataLoader, RanksShareEveryGlobalBatch) {
  const auto ds = fovea::test::random_dataset(32, {1, 6, 6});
  data::DataLoader whole(ds, augment(), options(2, 8));
  data::DataLoaderOptions o0 = options(0, 4), o1 = options(3, 4);
  o0.world_size = o1.world_size = 2;
  o1.rank = 1;
  data::DataLoader r0(ds, augment(), o0), r1(ds, augment(), o1);
  EXPECT_EQ(r0.num_batches(), 4);
  EXPECT_EQ(r0.samples_per_epoch(), 16);
  const EpochRecord w = run_epoch(whole, 1), a = run_epoch(r0, 1), b = run_epoch(r1, 1);
  ASSERT_EQ(a.indices.size(), w.indices.size());
  const std::size_t sample = 36 * sizeof(float);
  for (std::size_t k = 0; k < w.indices.size(); ++k)
    for (std::size_t j = 0; j < 4; ++j) {
      EXPECT_EQ(a.indices[k][j], w.indices[k][2 * j]);
      EXPECT_EQ(b.indices[k][j], w.indices[k][2 * j + 1]);
      const auto part = [&](const std::vector<unsigned char>& bytes, std::size_t i) {
        return std::vector<unsigned char>(bytes.begin() + i * sample, bytes.begin() + (i + 1) * sample);
      };
      EXPECT_EQ(part(a.images[k], j), part(w.images[k], 2 * j)) << "batch " << k << " sample " << j;
      EXPECT_EQ(part(b.images[k], j), part(w.images[k], 2 * j + 1)) << "batch " << k << " sample " << j;
    }
  data::DataLoaderOptions bad = options(0, 4);
  bad.rank = 2;
  bad.world_size = 2;
  EXPECT_THROW(data::DataLoader(ds, augment(), bad), fovea::Error);
}

TEST(DataLoader, DropLastCounts) {
  const auto ds = fovea::test::random_dataset(37, {1, 2, 2});
  data::DataLoaderOptions o = options(2);
  data::DataLoader keep(ds, nullptr, o);
  EXPECT_EQ(keep.num_batches(), 5);
  const EpochRecord all = run_epoch(keep, 0);
  ASSERT_EQ(all.indices.size(), 5u);
  EXPECT_EQ(all.indices.back().size(), 5u);  // 37 = 4 * 8 + 5
  o.drop_last = true;
  data::DataLoader drop(ds, nullptr, o);
  EXPECT_EQ(drop.num_batches(), 4);
  const EpochRecord dropped = run_epoch(drop, 0);
  ASSERT_EQ(dropped.indices.size(), 4u);
  for (const auto& idx : dropped.indices) EXPECT_EQ(idx.size(), 8u);
  EXPECT_EQ(dropped.indices, std::vector<std::vector<std::int64_t>>(all.indices.begin(), all.indices.begin() + 4));
}

TEST(DataLoader, SkipBatchesResumesMidEpoch) {
  const auto ds = fovea::test::random_dataset(37, {1, 6, 6});
  for (int workers : {0, 2}) {
    data::DataLoader loader(ds, augment(), options(workers));
    const EpochRecord full = run_epoch(loader, 3), tail = run_epoch(loader, 3, 2);
    ASSERT_EQ(tail.images.size(), 3u);
    EXPECT_TRUE(tail.images == decltype(full.images)(full.images.begin() + 2, full.images.end()));
    EXPECT_TRUE(tail.indices == decltype(full.indices)(full.indices.begin() + 2, full.indices.end()));
    EXPECT_EQ(run_epoch(loader, 3, 5).images.size(), 0u);  // skipping the whole epoch
    // a refused start_epoch leaves the running epoch as it was
    loader.start_epoch(3);
    ASSERT_TRUE(loader.next().has_value());
    EXPECT_CONTAINS(error_of([&] { loader.start_epoch(0, 6); }), "[dataloader] cannot skip 6 batches: the epoch has 5");
    const std::optional<data::Batch> second = loader.next();
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(raw_bytes(second->images), full.images[1]);
  }
}

TEST(DataLoader, TransformErrorsReachNext) {
  const auto ds = fovea::test::random_dataset(20, {1, 2, 2});
  const data::Transform failing = [](const Tensor& img, Generator& g) -> Tensor {
    if (img.data<std::uint8_t>()[0] == 255) fovea::fail("test_transform", "cannot handle a white pixel");
    return data::to_tensor()(img, g);
  };
  // only image 13 makes the transform fail (MemoryDataset::get shares its images)
  for (std::int64_t i = 0; i < 20; ++i) ds->get(i).image.data<std::uint8_t>()[0] = i == 13 ? 255 : 0;
  for (int workers : {0, 1, 3}) {
    data::DataLoader loader(ds, failing, {.batch_size = 4, .shuffle = false, .workers = workers, .prefetch = 3});
    loader.start_epoch(0);
    for (int b = 0; b < 3; ++b) ASSERT_TRUE(loader.next().has_value()) << "batch " << b << ", workers " << workers;
    try {
      loader.next();  // batch 3 holds samples 12..15
      ADD_FAILURE() << "expected an error, workers " << workers;
    } catch (const fovea::Error& e) {
      EXPECT_CONTAINS(e.what(), "[test_transform] cannot handle a white pixel");
    }
    // a new epoch starts cleanly after the error
    loader.start_epoch(1);
    EXPECT_TRUE(loader.next().has_value());
  }
}

TEST(DataLoader, RestartMidEpoch) {
  const auto ds = fovea::test::random_dataset(64, {1, 6, 6});
  data::DataLoader fresh(ds, augment(), options(0));
  const EpochRecord expected = run_epoch(fresh, 1);
  data::DataLoader loader(ds, augment(), options(3));
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next().has_value());
  ASSERT_TRUE(loader.next().has_value());
  EXPECT_TRUE(run_epoch(loader, 1) == expected);
  // restarting again at once, and destroying a loader mid-epoch, neither hangs nor leaks work
  loader.start_epoch(2);
  loader.start_epoch(2);
  ASSERT_TRUE(loader.next().has_value());
}

TEST(DataLoader, NextWithoutStartEpochRunsEpochZero) {
  const auto ds = fovea::test::random_dataset(10, {1, 2, 2});
  data::DataLoader a(ds, nullptr, options(1, 3)), b(ds, nullptr, options(1, 3));
  EpochRecord r;
  while (std::optional<data::Batch> batch = a.next()) r.indices.push_back(batch->indices);
  EXPECT_EQ(r.indices, run_epoch(b, 0).indices);
  EXPECT_FALSE(a.next().has_value());  // stays at the end until the next start_epoch
}

TEST(DataLoader, DifferentSizesInOneBatch) {
  std::vector<Tensor> images = {fovea::zeros({1, 4, 4}, {.dtype = DType::u8}),
                                fovea::zeros({1, 5, 4}, {.dtype = DType::u8})};
  const auto ds = std::make_shared<fovea::test::MemoryDataset>(images, std::vector<std::int64_t>{0, 1});
  data::DataLoader loader(ds, nullptr, {.batch_size = 2, .shuffle = false, .workers = 1});
  EXPECT_CONTAINS(error_of([&] { loader.next(); }),
                  "[dataloader] images in one batch differ in size: (1,4,4) (sample 0) and (1,5,4) (sample 1); add a "
                  "resize transform");
  data::DataLoader raw(ds, [](const Tensor& x, Generator&) { return x; }, {.batch_size = 1, .workers = 0});
  EXPECT_CONTAINS(error_of([&] { raw.next(); }),
                  "the transform must return a CPU f32 image (C,H,W) (end it with to_tensor())");
}

TEST(DataLoader, BadOptions) {
  const auto ds = fovea::test::random_dataset(3, {1, 2, 2});
  EXPECT_CONTAINS(error_of([&] { data::DataLoader(ds, nullptr, {.batch_size = 0}); }),
                  "[dataloader] batch size must be >= 1, got 0");
  EXPECT_CONTAINS(error_of([&] { data::DataLoader(ds, nullptr, {.workers = -1}); }), "workers must be >= 0, got -1");
  EXPECT_CONTAINS(error_of([&] { data::DataLoader(nullptr, nullptr, {}); }), "[dataloader] dataset is null");
}

}  // namespace
