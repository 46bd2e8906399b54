#pragma once
// Batches from a dataset, decoded and augmented ahead of the model by worker threads.
// Batch order comes from (seed, epoch) and each sample's augmentation from
// (seed, epoch, index): the same seed gives the same batches whatever the number of workers.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "fovea/data/dataset.h"
#include "fovea/data/transforms.h"

namespace fovea::data {

struct DataLoaderOptions {
  std::int64_t batch_size = 64;
  bool shuffle = true;
  bool drop_last = false;
  int workers = 2;  // 0: load in the calling thread
  std::uint64_t seed = 0;
  int prefetch = 4;  // batches prepared ahead
  // Distributed training (docs/distributed.md): this rank's share of every epoch, as PyTorch's
  // DistributedSampler takes it: the epoch's order padded to a multiple of world_size by
  // repeating its start, rank r taking the elements r, r + world_size, ... batch_size is then
  // the rank's share of the global batch, so global batch k holds the same images as batch k of
  // one process with world_size times the batch.
  int rank = 0, world_size = 1;
  // false: no padding, each image goes to exactly one rank and the ranks' shares differ by at
  // most one (sharded evaluation, whose sums must count every image once)
  bool pad_shards = true;
};

struct Batch {
  Tensor images;  // (B,C,H,W) f32
  Tensor labels;  // (B) i64
  std::vector<std::int64_t> indices;
};

// Rank `rank`'s part of an epoch's order across world_size ranks, as PyTorch's
// DistributedSampler: the order padded to a multiple of world_size by repeating it from its
// start, then every world_size-th element from position `rank`.
// pad = false: no padding (every element in exactly one rank's part).
std::vector<std::int64_t> shard(const std::vector<std::int64_t>& order, int rank, int world_size, bool pad = true);

class DataLoader {
 public:
  // batch_size must be >= 1 ("[dataloader] batch size must be >= 1, got 0")
  DataLoader(DatasetPtr ds, Transform transform, DataLoaderOptions o);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  std::int64_t num_batches() const;
  // The images one epoch gives this rank (all of them in a world of one).
  std::int64_t samples_per_epoch() const;
  const Dataset& dataset() const { return *ds_; }
  // Starts an epoch, optionally skipping its first batches (resuming mid-epoch).
  void start_epoch(std::int64_t epoch, std::int64_t skip_batches = 0);
  // The next batch of the epoch, or nullopt at its end. Errors from workers are rethrown here.
  std::optional<Batch> next();

 private:
  Batch load(std::int64_t batch_index) const;
  void work();  // a worker thread's loop
  void stop_workers();

  DatasetPtr ds_;
  Transform transform_;
  DataLoaderOptions o_;
  std::int64_t epoch_ = 0;
  std::vector<std::int64_t> order_;
  std::int64_t next_batch_ = 0, end_batch_ = 0;
  bool started_ = false;  // next() before start_epoch() starts epoch 0
  // worker pool state
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::int64_t next_to_load_ = 0;
  std::map<std::int64_t, Batch> ready_;
  std::exception_ptr error_;  // the first failed batch's error, rethrown when next() reaches it
  std::int64_t error_batch_ = -1;
  bool stop_ = false;
};

}  // namespace fovea::data
