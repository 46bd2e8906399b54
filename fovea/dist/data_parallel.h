#pragma once
// Data-parallel training (docs/distributed.md), as PyTorch's DistributedDataParallel: every rank
// holds the same model, trains on its share of each batch, and backward averages the gradients
// across ranks. They travel in buckets of about bucket_mb, in the reverse order of the
// parameters' registration (the order backward produces them); a bucket's non-blocking
// all-reduce starts as soon as its last gradient is ready, so communication overlaps the rest of
// backward, and the end of backward waits only for what is still in flight.
//
//   dist::init();
//   dist::DataParallel ddp(model, {.bucket_mb = 25});
//   Tensor loss = cross_entropy(ddp(x), y);  // x: this rank's share of the batch
//   loss.backward();                         // gradients averaged over the ranks
//   opt.step();
//
// In a world of one (no launcher) it is the model itself: no hook, no copy.
#include <cstdint>
#include <vector>

#include "fovea/dist/dist.h"
#include "fovea/nn/module.h"

namespace fovea::dist {

struct DataParallelOptions {
  double bucket_mb = 25;  // gradient bytes per all-reduce (PyTorch's bucket_cap_mb)
  // Before each training-mode forward, rank 0's buffers (batch norm running statistics) go to
  // every rank, as PyTorch's broadcast_buffers, so the ranks' models stay identical.
  bool broadcast_buffers = true;
};

class DataParallel {
 public:
  // Checks that every rank built the same architecture (parameter and buffer names, shapes,
  // dtypes) and copies rank 0's values to the others. Errors name the first rank that differs.
  explicit DataParallel(nn::ModulePtr model, DataParallelOptions o = {});
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  Tensor operator()(const Tensor& x);
  nn::Module& module() const { return *model_; }
  const nn::ModulePtr& module_ptr() const { return model_; }
  std::size_t bucket_count() const { return buckets_.size(); }

  // While one lives, backward passes keep their gradients local (gradient accumulation over
  // micro-batches); the first backward after it averages the accumulated sums.
  class NoSync {
   public:
    explicit NoSync(DataParallel& d) : d_(d), prev_(d.sync_off_) { d.sync_off_ = true; }
    ~NoSync() { d_.sync_off_ = prev_; }
    NoSync(const NoSync&) = delete;
    NoSync& operator=(const NoSync&) = delete;

   private:
    DataParallel& d_;
    bool prev_;
  };
  NoSync no_sync() { return NoSync(*this); }

  // Rank 0's buffers (batch norm running statistics) into every rank's model: before an
  // evaluation or a checkpoint, so that every rank evaluates the weights rank 0 saves.
  void broadcast_buffers();

  // Waits for the all-reduces still in flight and makes each parameter's .grad the averaged
  // gradient: a view into its bucket (no copy, as PyTorch's gradient_as_bucket_view), valid
  // until the next backward. The end of every backward that reached the model runs it.
  void finish();

 private:
  struct Slot {  // one trainable parameter
    Tensor param;
    std::size_t bucket = 0;
    std::int64_t offset = 0;  // in the bucket, in elements
    bool ready = false;       // its gradient is in the bucket
    int hook = 0;
  };
  struct Bucket {
    Tensor buffer;   // (elements) on the parameters' device, in their dtype
    Tensor staging;  // (elements) page-locked host copy for MPI: CUDA buckets without CUDA-aware MPI
    std::vector<std::size_t> slots;
    std::size_t waiting = 0;  // slots not yet ready in this backward
    Work work;
  };

  void on_gradient(std::size_t slot, const Tensor& g);
  void launch_ready();
  void progress();
  void reset();

  nn::ModulePtr model_;
  DataParallelOptions o_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::size_t next_launch_ = 0;
  bool armed_ = false;  // a backward has delivered gradients that finish() has not written yet
  bool sync_off_ = false;
};

}  // namespace fovea::dist
