#pragma once
// Training steps replayed as a CUDA graph (RunConfig::cuda_graph, `fovea train --cuda-graph`,
// docs/gpu.md). Each batch is copied into input tensors that stay on the device; the whole step
// (forward, loss, backward, SGD update, the count of correct predictions) is recorded once and
// replayed, so a small network's step costs one launch instead of a hundred. A step is recorded
// again when the learning rates change (they are recorded as they were: a per-step schedule
// gains nothing); a batch of another shape (an epoch's last) runs eagerly, as does the first
// (cuDNN's algorithm search, momentum buffers). When the step cannot be recorded (dropout draws
// its masks on the host), training goes on eagerly and note() says why.
#include <functional>
#include <string>
#include <vector>

#include "fovea/backend/graph.h"
#include "fovea/core/tensor.h"
#include "fovea/optim/optimizer.h"

namespace fovea::train {

class StepGraph {
 public:
  struct Out {
    Tensor loss;     // () the batch's mean loss
    Tensor correct;  // () i64: how many predictions were right
    Tensor grad_sq;  // () f32: the sum of the squared gradients (inf or NaN: they blew up)
  };
  // step: the whole training step on (images, labels) on the device, returning its outputs.
  using Step = std::function<Out(const Tensor& images, const Tensor& labels)>;

  StepGraph(Device device, optim::Optimizer& optimizer, Step step);

  // One step on this batch (host or device tensors); the outputs are ready to read.
  Out run(const Tensor& images, const Tensor& labels);
  // Why steps run eagerly, when they stopped being recorded ("" while they are).
  const std::string& note() const { return note_; }
  // How many steps were replayed and recorded.
  std::int64_t replays() const { return replays_; }
  std::int64_t recordings() const { return recordings_; }

 private:
  std::vector<double> learning_rates() const;

  Device device_;
  optim::Optimizer& optimizer_;
  Step step_;
  Tensor images_, labels_;  // the recorded step's inputs, refilled per batch
  DeviceGraph graph_;
  Out out_;  // the recorded step's outputs
  std::vector<double> recorded_lrs_;
  bool warm_ = false;
  std::string note_;
  std::int64_t replays_ = 0, recordings_ = 0;
};

}  // namespace fovea::train
