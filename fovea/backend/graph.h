#pragma once
// CUDA graphs: the device work of a function recorded once and replayed with one launch, which
// takes the host's per-op cost (dispatch, autograd, kernel launches) out of small networks'
// training steps (docs/gpu.md).
//
//   f();                                               // once eagerly: cuDNN's search, buffers
//   DeviceGraph g = DeviceGraph::capture(dev, f);      // records, runs nothing
//   for (...) { x.copy_(next_batch); g.replay(); }     // runs f's kernels on the same memory
//
// Capturing runs f on the host with the device's work recorded instead of executed; every
// allocation f makes on the device, and every block freed meanwhile, stays the graph's until it
// is destroyed, so replays read and write the same addresses: the tensors f reads (inputs,
// parameters, optimizer state) must stay alive and are updated in place. f may not copy between
// host and device or wait for the device (item(), .to(kCPU), host-drawn dropout masks); the
// capture then fails with an error saying so. Scalars f passes to kernels (a learning rate) are
// recorded as they were: capture again when they change.
#include <functional>
#include <memory>

#include "fovea/core/device.h"

namespace fovea {

class DeviceGraph {
 public:
  DeviceGraph() = default;
  // Records the work f issues on d (a CUDA device); "[graph] ..." on other devices or when f
  // breaks the rules above.
  static DeviceGraph capture(Device d, const std::function<void()>& f);
  // Runs the recorded work on the device's stream, ordered after what was issued before.
  void replay() const;
  bool defined() const { return recording_ != nullptr; }
  Device device() const { return device_; }

 private:
  std::shared_ptr<void> recording_;
  Device device_{};
};

}  // namespace fovea
