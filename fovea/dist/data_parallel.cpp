// DataParallel (data_parallel.h): buckets, gradient hooks, in-order launches, the end of backward.
#include "fovea/dist/data_parallel.h"

#include <algorithm>
#include <map>

#include "fovea/autograd/grad_mode.h"
#include "fovea/autograd/node.h"
#include "fovea/backend/backend.h"
#include "fovea/core/hash.h"
#include "fovea/ops/ops.h"

namespace fovea::dist {

namespace {

constexpr const char* kOp = "DataParallel";

// A fingerprint of the model's layout (names, shapes, dtypes), compared across ranks.
std::uint64_t layout_fingerprint(const nn::Module& m) {
  Fnv1a h;
  for (const NamedTensors& ts : {m.named_parameters(), m.named_buffers()})
    for (const auto& [name, t] : ts) h.text(name).text(shape_str(t.shape())).text(dtype_name(t.dtype()));
  return h.value();
}

// Rank 0's values of `ts` into every rank's, one broadcast per dtype.
void broadcast_values(const std::vector<Tensor>& ts) {
  std::map<DType, std::vector<Tensor>> by_dtype;
  for (const Tensor& t : ts)
    if (t.defined() && t.numel() > 0) by_dtype[t.dtype()].push_back(t);
  NoGradGuard ng;
  for (auto& [dt, group] : by_dtype) {
    std::vector<Tensor> flat;
    for (const Tensor& t : group) flat.push_back(t.to(kCPU).reshape({t.numel()}));
    Tensor packed = cat(flat, 0).contiguous();
    broadcast(packed, 0);
    std::int64_t at = 0;
    for (const Tensor& t : group) {
      t.copy_(packed.slice(0, at, at + t.numel()).view(t.shape()));
      at += t.numel();
    }
  }
}

std::vector<Tensor> buffers_of(const nn::Module& m) {
  std::vector<Tensor> v;
  for (const auto& [name, t] : m.named_buffers()) v.push_back(t);
  return v;
}

}  // namespace

DataParallel::DataParallel(nn::ModulePtr model, DataParallelOptions o) : model_(std::move(model)), o_(o) {
  if (!model_) fail(kOp, "the model is null");
  if (!(o_.bucket_mb > 0)) fail(kOp, "bucket_mb must be > 0, got {}", o_.bucket_mb);
  if (world_size() == 1) return;  // a world of one: the model itself
  const auto prints = all_gather(layout_fingerprint(*model_));
  for (std::size_t r = 1; r < prints.size(); ++r)
    if (prints[r] != prints[0])
      fail(kOp,
           "rank {}'s model differs from rank 0's (parameter or buffer names, shapes or dtypes); every rank must "
           "build the same network",
           r);
  std::vector<Tensor> state;
  for (const auto& [name, t] : model_->named_parameters()) state.push_back(t);
  for (const auto& [name, t] : model_->named_buffers()) state.push_back(t);
  broadcast_values(state);

  // buckets: the trainable parameters in reverse registration order, one dtype per bucket
  const auto params = model_->trainable_parameters();
  const double cap = o_.bucket_mb * 1024 * 1024;
  std::vector<std::vector<std::size_t>> members;
  double bytes = 0;
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    const Tensor& p = *it;
    if (p.dtype() != DType::f32 && p.dtype() != DType::f64)
      fail(kOp, "parameters must be f32 or f64 to be averaged, got {}", dtype_name(p.dtype()));
    const double size = static_cast<double>(p.numel() * static_cast<std::int64_t>(dtype_size(p.dtype())));
    const bool same_kind = !members.empty() && slots_[members.back().front()].param.dtype() == p.dtype() &&
                           slots_[members.back().front()].param.device() == p.device();
    if (members.empty() || !same_kind || (bytes > 0 && bytes + size > cap)) {
      members.emplace_back();
      bytes = 0;
    }
    members.back().push_back(slots_.size());
    slots_.push_back({.param = p});
    bytes += size;
  }
  for (auto& m : members) {
    Bucket b;
    std::int64_t n = 0;
    for (std::size_t s : m) {
      slots_[s].bucket = buckets_.size();
      slots_[s].offset = n;
      n += slots_[s].param.numel();
    }
    const Tensor& first = slots_[m.front()].param;
    b.buffer = zeros({n}, {.dtype = first.dtype(), .device = first.device()});
    // a CUDA bucket goes through page-locked host memory unless MPI reads device memory
    if (first.device() != kCPU && !cuda_aware()) {
      auto bytes_owner =
          backend::backend_for(first).allocate_pinned(static_cast<std::size_t>(n) * dtype_size(first.dtype()));
      b.staging = from_blob(bytes_owner.get(), {n}, first.dtype(), bytes_owner);
    }
    b.slots = std::move(m);
    b.waiting = b.slots.size();
    buckets_.push_back(std::move(b));
  }
  for (std::size_t s = 0; s < slots_.size(); ++s)
    slots_[s].hook = slots_[s].param.register_hook([this, s](const Tensor& g) {
      on_gradient(s, g);
      return Tensor();
    });
}

DataParallel::~DataParallel() {
  for (Slot& s : slots_) s.param.remove_hook(s.hook);
  for (Bucket& b : buckets_) {
    try {
      b.work.wait();
    } catch (const Error&) {
    }
  }
}

void DataParallel::broadcast_buffers() {
  if (world_size() > 1) broadcast_values(buffers_of(*model_));
}

Tensor DataParallel::operator()(const Tensor& x) {
  if (o_.broadcast_buffers && model_->is_training()) broadcast_buffers();
  return (*model_)(x);
}

void DataParallel::on_gradient(std::size_t s, const Tensor& g) {
  if (sync_off_) return;
  if (!armed_) {
    armed_ = true;
    autograd::queue_callback([this] { finish(); });
  }
  Slot& slot = slots_[s];
  if (slot.ready) return;
  Bucket& b = buckets_[slot.bucket];
  // the hook sees this pass's gradient; .grad holds what no_sync passes accumulated before it.
  // A .grad that is still the last average's view of this bucket becomes a copy of its own
  // first, so that accumulating this gradient into it does not write into the bucket.
  const Tensor before = slot.param.grad();
  if (before.defined() && before.storage() == b.buffer.storage()) slot.param.set_grad(before.clone());
  const Tensor total = before.defined() ? add(before, g) : g;
  b.buffer.slice(0, slot.offset, slot.offset + slot.param.numel()).copy_(total.reshape({slot.param.numel()}));
  slot.ready = true;
  if (--b.waiting == 0) launch_ready();
  progress();
}

// Buckets start in index order on every rank, so the ranks' collectives always match.
void DataParallel::launch_ready() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].waiting == 0) {
    Bucket& b = buckets_[next_launch_++];
    if (b.staging.defined()) {
      NoGradGuard ng;
      b.staging.copy_(b.buffer);  // returns once the gradients are on the host
      b.work = all_reduce_async(b.staging);
    } else {
      b.work = all_reduce_async(b.buffer);
    }
  }
}

// MPI progresses a non-blocking collective when it is called: each gradient gives it a turn.
void DataParallel::progress() {
  for (std::size_t i = 0; i < next_launch_; ++i)
    if (buckets_[i].work.pending()) buckets_[i].work.test();
}

void DataParallel::finish() {
  if (!armed_) return;
  // parameters that got no gradient in this pass (not used by every rank's forward) send zeros
  for (Slot& s : slots_)
    if (!s.ready) {
      buckets_[s.bucket].buffer.slice(0, s.offset, s.offset + s.param.numel()).zero_();
      s.ready = true;
      --buckets_[s.bucket].waiting;
    }
  launch_ready();
  NoGradGuard ng;
  const double scale = 1.0 / world_size();
  for (Bucket& b : buckets_) {
    b.work.wait();
    if (b.staging.defined()) b.buffer.copy_(b.staging);
    b.buffer.mul_(scale);
    for (std::size_t si : b.slots) {
      Slot& s = slots_[si];
      // the averaged gradient stays in the bucket: .grad becomes a view of it (PyTorch's
      // gradient_as_bucket_view), no copy
      s.param.set_grad(b.buffer.slice(0, s.offset, s.offset + s.param.numel()).view(s.param.shape()));
    }
  }
  reset();
}

void DataParallel::reset() {
  armed_ = false;
  next_launch_ = 0;
  for (Slot& s : slots_) s.ready = false;
  for (Bucket& b : buckets_) b.waiting = b.slots.size();
}

}  // namespace fovea::dist
