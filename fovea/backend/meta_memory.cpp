#include "fovea/backend/meta_memory.h"

#include <algorithm>

namespace fovea::backend {

struct MetaMemoryTrace::State {
  std::map<int, std::int64_t> by_tag, at_peak;  // live bytes by tag, now and at the peak
  std::int64_t live_bytes = 0, peak_bytes = 0;
  int tag = 0, peak_tag = 0;
};

namespace {
thread_local MetaMemoryTrace* t_trace = nullptr;
}  // namespace

MetaMemoryTrace::MetaMemoryTrace() : state_(std::make_shared<State>()), outer_(t_trace) { t_trace = this; }
MetaMemoryTrace::~MetaMemoryTrace() { t_trace = outer_; }

void MetaMemoryTrace::set_tag(int tag) { state_->tag = tag; }
int MetaMemoryTrace::tag() const { return state_->tag; }
std::int64_t MetaMemoryTrace::live_bytes() const { return state_->live_bytes; }
std::int64_t MetaMemoryTrace::peak_bytes() const { return state_->peak_bytes; }
void MetaMemoryTrace::reset_peak() {
  state_->peak_bytes = state_->live_bytes;
  state_->at_peak = live_bytes_by_tag();
  state_->peak_tag = state_->tag;
}

std::map<int, std::int64_t> MetaMemoryTrace::live_bytes_by_tag() const {
  std::map<int, std::int64_t> r;
  for (const auto& [tag, bytes] : state_->by_tag)
    if (bytes > 0) r.emplace(tag, bytes);
  return r;
}

std::map<int, std::int64_t> MetaMemoryTrace::peak_bytes_by_tag() const { return state_->at_peak; }
int MetaMemoryTrace::peak_tag() const { return state_->peak_tag; }

// A null pointer with a deleter: meta tensors keep no data, but the count drops when the last
// view goes. The state outlives the trace while anything it counted is alive.
std::shared_ptr<std::byte> meta_allocation(std::size_t nbytes) {
  if (!t_trace) return nullptr;
  std::shared_ptr<MetaMemoryTrace::State> state = t_trace->state_;
  const auto bytes = static_cast<std::int64_t>(nbytes);
  const int tag = state->tag;
  state->by_tag[tag] += bytes;
  state->live_bytes += bytes;
  if (state->live_bytes > state->peak_bytes) {
    state->peak_bytes = state->live_bytes;
    state->at_peak = state->by_tag;
    state->peak_tag = tag;
  }
  return std::shared_ptr<std::byte>(nullptr, [state = std::move(state), tag, bytes](std::byte*) {
    state->by_tag[tag] -= bytes;
    state->live_bytes -= bytes;
  });
}

}  // namespace fovea::backend
