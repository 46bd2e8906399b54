#pragma once
// What a computation would allocate, without running it: while a MetaMemoryTrace is alive on a
// thread, every tensor that thread creates on the meta device is counted (its bytes, until the
// last view of it goes) and charged to the tag set at the time. `fovea summary --memory` runs a
// training step this way (analysis/memory.h).
#include <cstdint>
#include <map>
#include <memory>

namespace fovea::backend {

// The storage handle of a meta tensor of `nbytes`: null, counted by this thread's trace if any.
std::shared_ptr<std::byte> meta_allocation(std::size_t nbytes);

class MetaMemoryTrace {
 public:
  MetaMemoryTrace();  // starts counting on this thread; traces nest, the innermost counts
  ~MetaMemoryTrace();
  MetaMemoryTrace(const MetaMemoryTrace&) = delete;
  MetaMemoryTrace& operator=(const MetaMemoryTrace&) = delete;

  void set_tag(int tag);  // allocations from now on are charged to `tag` (0 at the start)
  int tag() const;
  std::int64_t live_bytes() const;
  std::int64_t peak_bytes() const;  // the most live at any moment since the start or reset_peak
  void reset_peak();
  std::map<int, std::int64_t> live_bytes_by_tag() const;  // tags with live bytes only
  std::map<int, std::int64_t> peak_bytes_by_tag() const;  // what was live at the peak, by tag
  int peak_tag() const;                                   // the tag set when the peak was reached

  struct State;

 private:
  friend std::shared_ptr<std::byte> meta_allocation(std::size_t nbytes);
  std::shared_ptr<State> state_;  // shared with the deleters of what it counted
  MetaMemoryTrace* outer_;
};

}  // namespace fovea::backend
