#include "fovea/data/dataloader.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string_view>

#include "fovea/autograd/grad_mode.h"
#include "fovea/core/error.h"
#include "fovea/data/detail.h"

namespace fovea::data {

namespace {

constexpr std::string_view kOp = "dataloader";

// splitmix64's output function (Steele, Lea and Flood 2014): a bijection that scatters nearby
// inputs, so (seed, epoch, index) triples that differ by one give unrelated streams.
std::uint64_t mix(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t hash(std::uint64_t a, std::uint64_t b) { return mix(mix(a) ^ b); }

// Seeds the epoch's batch order.
std::uint64_t epoch_key(std::uint64_t seed, std::int64_t epoch) {
  return hash(seed, static_cast<std::uint64_t>(epoch));
}

// Seeds one sample's transform; the complement keeps it apart from the order's stream.
std::uint64_t sample_key(std::uint64_t epoch_key, std::int64_t index) {
  return hash(~epoch_key, static_cast<std::uint64_t>(index));
}

}  // namespace

std::vector<std::int64_t> shard(const std::vector<std::int64_t>& order, int rank, int world_size, bool pad) {
  if (world_size < 1 || rank < 0 || rank >= world_size) fail(kOp, "rank {} is not in a world of {}", rank, world_size);
  const auto n = static_cast<std::int64_t>(order.size());
  std::vector<std::int64_t> out;
  if (n == 0) return out;
  const std::int64_t end = pad ? (n + world_size - 1) / world_size * world_size : n;
  for (std::int64_t i = rank; i < end; i += world_size) out.push_back(order[static_cast<std::size_t>(i % n)]);
  return out;
}

DataLoader::DataLoader(DatasetPtr ds, Transform transform, DataLoaderOptions o)
    : ds_(std::move(ds)), transform_(transform ? std::move(transform) : to_tensor()), o_(o) {
  if (!ds_) fail(kOp, "dataset is null");
  if (o_.batch_size < 1) fail(kOp, "batch size must be >= 1, got {}", o_.batch_size);
  if (o_.workers < 0) fail(kOp, "workers must be >= 0, got {}", o_.workers);
  if (o_.prefetch < 1) fail(kOp, "prefetch must be >= 1, got {}", o_.prefetch);
  if (o_.world_size < 1 || o_.rank < 0 || o_.rank >= o_.world_size)
    fail(kOp, "rank {} is not in a world of {}", o_.rank, o_.world_size);
}

DataLoader::~DataLoader() { stop_workers(); }

std::int64_t DataLoader::samples_per_epoch() const {
  const std::int64_t n = ds_->size(), w = o_.world_size;
  return o_.pad_shards ? (n + w - 1) / w : n / w + (o_.rank < n % w ? 1 : 0);
}

std::int64_t DataLoader::num_batches() const {
  const std::int64_t n = samples_per_epoch();
  return o_.drop_last ? n / o_.batch_size : (n + o_.batch_size - 1) / o_.batch_size;
}

void DataLoader::start_epoch(std::int64_t epoch, std::int64_t skip_batches) {
  const std::int64_t batches = num_batches();
  // checked before stopping the workers, so that a refused call leaves the current epoch running
  if (skip_batches < 0 || skip_batches > batches)
    fail(kOp, "cannot skip {} batches: the epoch has {}", skip_batches, batches);
  stop_workers();
  epoch_ = epoch;
  if (o_.shuffle) {
    Generator g(epoch_key(o_.seed, epoch));
    order_ = detail::permutation(ds_->size(), g);
  } else {
    order_.resize(static_cast<std::size_t>(ds_->size()));
    std::iota(order_.begin(), order_.end(), 0);
  }
  if (o_.world_size > 1) order_ = shard(order_, o_.rank, o_.world_size, o_.pad_shards);
  next_batch_ = next_to_load_ = skip_batches;
  end_batch_ = batches;
  ready_.clear();
  error_ = nullptr;
  error_batch_ = -1;
  stop_ = false;
  started_ = true;
  const std::int64_t threads = std::min<std::int64_t>(o_.workers, batches - skip_batches);
  for (std::int64_t i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

std::optional<Batch> DataLoader::next() {
  if (!started_) start_epoch(0);
  if (o_.workers == 0) {
    if (next_batch_ >= end_batch_) return std::nullopt;
    Batch b = load(next_batch_);
    ++next_batch_;
    return b;
  }
  std::unique_lock lock(mu_);
  if (next_batch_ >= end_batch_) return std::nullopt;
  cv_.wait(lock, [&] { return ready_.contains(next_batch_) || error_batch_ == next_batch_; });
  const auto it = ready_.find(next_batch_);
  if (it == ready_.end()) std::rethrow_exception(error_);
  Batch b = std::move(it->second);
  ready_.erase(it);
  ++next_batch_;
  lock.unlock();
  cv_.notify_all();  // the prefetch window moved
  return b;
}

void DataLoader::work() {
  for (;;) {
    std::int64_t b = 0;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || next_to_load_ >= end_batch_ || next_to_load_ < next_batch_ + o_.prefetch; });
      if (stop_ || next_to_load_ >= end_batch_) return;
      b = next_to_load_++;
    }
    std::optional<Batch> batch;
    std::exception_ptr error;
    try {
      batch = load(b);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard lock(mu_);
      if (!error) {
        ready_.emplace(b, std::move(*batch));
      } else if (!error_ || b < error_batch_) {
        error_ = error;
        error_batch_ = b;
      }
    }
    cv_.notify_all();
  }
}

void DataLoader::stop_workers() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

Batch DataLoader::load(std::int64_t batch_index) const {
  NoGradGuard no_grad;  // thread-local: workers never record history
  const auto n = static_cast<std::int64_t>(order_.size());
  const std::int64_t begin = batch_index * o_.batch_size, end = std::min(n, begin + o_.batch_size);
  Batch batch;
  batch.indices.assign(order_.begin() + begin, order_.begin() + end);
  const auto count = static_cast<std::int64_t>(batch.indices.size());
  batch.labels = empty({count}, {.dtype = DType::i64});
  const std::uint64_t key = epoch_key(o_.seed, epoch_);
  Shape first;
  for (std::int64_t k = 0; k < count; ++k) {
    const std::int64_t index = batch.indices[static_cast<std::size_t>(k)];
    Example ex = ds_->get(index);
    Generator g(sample_key(key, index));
    const Tensor img = transform_(ex.image, g);
    if (!img.defined() || img.device() != kCPU || img.dtype() != DType::f32 || img.dim() != 3)
      fail(kOp, "the transform must return a CPU f32 image (C,H,W) (end it with to_tensor()), got {} for sample {}",
           img.defined() ? fmt::format("{} {}", dtype_name(img.dtype()), shape_str(img.shape())) : "nothing", index);
    if (k == 0) {
      first = img.shape();
      batch.images = empty({count, first[0], first[1], first[2]});
    } else if (img.shape() != first) {
      fail(kOp, "images in one batch differ in size: {} (sample {}) and {} (sample {}); add a resize transform",
           shape_str(first), batch.indices[0], shape_str(img.shape()), index);
    }
    const Tensor src = img.contiguous();
    std::memcpy(batch.images.data<float>() + k * src.numel(), src.data<float>(),
                static_cast<std::size_t>(src.numel()) * sizeof(float));
    batch.labels.data<std::int64_t>()[k] = ex.label;
  }
  return batch;
}

}  // namespace fovea::data
