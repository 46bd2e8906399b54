#pragma once
// How much memory a training step takes, without running it: one step (forward, loss,
// backward, optimizer update; twice, so the optimizer's state exists during the second) runs
// on the meta device while backend::MetaMemoryTrace counts every tensor it would allocate.
// The tensors each layer's forward leaves alive for backward are charged to that layer. What
// the trace cannot see: the CPU kernels' scratch space, the data loader's batches in flight and
// the program itself (docs/analysis.md, "Memory").
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fovea/analysis/summary.h"
#include "fovea/nn/module.h"
#include "fovea/optim/optimizer.h"

namespace fovea::analysis {

struct MemoryOptions {
  std::int64_t batch = 64;
  // the optimizer whose state is counted, made for the trainable parameters; null: plain
  // gradient descent without state
  std::function<std::unique_ptr<optim::Optimizer>(const std::vector<Tensor>& params)> optimizer{};
  // the training loss of (model, logits, labels); null: cross-entropy
  std::function<Tensor(const nn::Module&, const Tensor&, const Tensor&)> loss{};
};

struct LayerMemory {
  std::string name, type;  // as in LayerRow
  int depth = 0;
  bool leaf = false;
  Shape output{};              // with the batch dim
  std::int64_t saved = 0;      // bytes its forward leaves alive for backward, its children's included
  std::int64_t params = 0;     // bytes of its parameters and buffers
  std::int64_t grads = 0;      // bytes of its parameters' gradients
  std::int64_t optimizer = 0;  // bytes of the optimizer's state for its parameters
};

struct MemoryEstimate {
  Shape input;  // (C,H,W)
  std::int64_t batch = 0;
  std::string optimizer{};           // its name, "" without one
  std::vector<LayerMemory> rows{};   // pre-order, the network first
  std::int64_t params = 0;           // parameters and buffers
  std::int64_t grads = 0;            // the gradients a step leaves (one per trainable parameter)
  std::int64_t optimizer_state = 0;  // after an update
  std::int64_t saved = 0;            // alive when the forward pass and loss are done: what backward needs
  std::int64_t batch_bytes = 0;      // the images and labels (within `saved`)
  std::int64_t peak = 0;             // the most alive at once during a step, everything included
  // what `peak` is made of: the parameters and buffers, then
  std::string peak_phase{};           // "forward", "backward" or "update": where it was reached
  std::int64_t peak_activations = 0;  // what the forward pass made that was still alive
  std::int64_t peak_gradients = 0;    // gradients and backward's temporaries
  std::int64_t peak_optimizer = 0;    // the optimizer's state and temporaries
  std::int64_t inference_peak = 0;    // the most alive in an eval-mode forward pass without gradients
};

// m must live on the meta device (build it under DefaultDeviceGuard(kMeta)); it is left in the
// mode it was in, with no gradients.
MemoryEstimate estimate_memory(nn::Module& m, const Shape& input_chw, const MemoryOptions& o = {});

std::string format_memory(const MemoryEstimate& e, Format f, int max_depth = -1);

}  // namespace fovea::analysis
