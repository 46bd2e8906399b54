#pragma once
// oneDNN glue: one engine and stream, memory descriptors of fovea tensors, and a primitive
// cache keyed by shapes and attributes (creating a primitive costs far more than running a small one).
#include <oneapi/dnnl/dnnl.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "fovea/core/tensor.h"

namespace fovea::backend::cpu {

dnnl::engine& engine();
dnnl::stream& stream();

dnnl::memory::data_type dnnl_dtype(DType t, const char* op);
// Plain strided descriptor of a tensor (dims = shape, strides = strides).
dnnl::memory::desc plain_desc(const Tensor& t, const char* op);
dnnl::memory::desc plain_desc(const Shape& shape, DType dt, const char* op);
dnnl::memory make_memory(const dnnl::memory::desc& md, const Tensor& t);
std::string key_of(const Tensor& t);  // shape + strides + dtype, for cache keys
std::string md_key(const dnnl::memory::desc& md);

// A cached value of any kind, built once per key. The cache of each kind holds at most
// kCacheLimit entries and starts over when full (entries in use stay alive through their
// shared_ptr), so inputs of ever-changing sizes cannot grow it without bound.
inline constexpr std::size_t kCacheLimit = 1024;
template <typename T>
std::shared_ptr<T> cached(const std::string& key, const std::function<std::shared_ptr<T>()>& make) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::shared_ptr<T>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  if (cache.size() >= kCacheLimit) cache.clear();
  auto v = make();
  cache.emplace(key, v);
  return v;
}

// Reorders between two layouts of the same logical tensor (cached by the pair of descriptors).
void reorder(const dnnl::memory& src, const dnnl::memory& dst);

// Buffers for the length of one backend call: tensors in the layout a primitive chose and the
// primitives' scratchpads come from fovea's CPU allocator, whose block cache hands the same
// blocks to the next training step, instead of from oneDNN's own malloc calls, which left a
// fragmented heap (docs/backend.md, "Memory"). They return when the innermost scope ends.
class ScratchScope {
 public:
  ScratchScope();
  ~ScratchScope();
  ScratchScope(const ScratchScope&) = delete;
  ScratchScope& operator=(const ScratchScope&) = delete;

 private:
  std::size_t start_;
};
// A buffer for a descriptor, alive until the enclosing ScratchScope ends (an error outside one).
dnnl::memory scratch_memory(const dnnl::memory::desc& md);
// Primitive attributes with a user-managed scratchpad; run such primitives with `execute`.
dnnl::primitive_attr user_scratchpad();
// Runs a primitive made with user_scratchpad(), its scratchpad (of descriptor `scratchpad`) from
// scratch_memory, then waits for it.
void execute(const dnnl::primitive& p, const dnnl::memory::desc& scratchpad,
             std::unordered_map<int, dnnl::memory> args);

// Wraps `plain` (user layout) for a primitive wanting `want`: the same memory when the layouts
// agree, otherwise a scratch buffer filled by a reorder when `fill` is set.
dnnl::memory as_layout(const dnnl::memory& plain, const dnnl::memory::desc& want, bool fill);

}  // namespace fovea::backend::cpu
