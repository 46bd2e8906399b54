#include "fovea/train/step_graph.h"

#include "fovea/core/error.h"

namespace fovea::train {

StepGraph::StepGraph(Device device, optim::Optimizer& optimizer, Step step)
    : device_(device), optimizer_(optimizer), step_(std::move(step)) {}

std::vector<double> StepGraph::learning_rates() const {
  std::vector<double> lrs;
  for (const auto& g : optimizer_.param_groups()) lrs.push_back(g.lr);
  return lrs;
}

StepGraph::Out StepGraph::run(const Tensor& images, const Tensor& labels) {
  const bool fits = !images_.defined() || (images.shape() == images_.shape() && labels.shape() == labels_.shape());
  if (!note_.empty() || !fits) return step_(images.to(device_), labels.to(device_));
  if (!images_.defined()) {
    images_ = empty(images.shape(), {.dtype = images.dtype(), .device = device_});
    labels_ = empty(labels.shape(), {.dtype = labels.dtype(), .device = device_});
  }
  images_.copy_(images);
  labels_.copy_(labels);
  if (!warm_) {
    warm_ = true;
    return step_(images_, labels_);
  }
  const std::vector<double> lrs = learning_rates();
  if (!graph_.defined() || lrs != recorded_lrs_) {
    try {
      graph_ = DeviceGraph::capture(device_, [&] { out_ = step_(images_, labels_); });
    } catch (const Error& e) {
      graph_ = DeviceGraph();
      note_ = e.what();
      return step_(images_, labels_);
    }
    recorded_lrs_ = lrs;
    ++recordings_;
  }
  graph_.replay();
  ++replays_;
  return out_;
}

}  // namespace fovea::train
