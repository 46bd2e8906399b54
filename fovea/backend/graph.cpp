#include "fovea/backend/graph.h"

#include "fovea/backend/backend.h"

namespace fovea {

DeviceGraph DeviceGraph::capture(Device d, const std::function<void()>& f) {
  DeviceGraph g;
  g.recording_ = backend::backend_for(d).capture_graph(d, f);
  g.device_ = d;
  return g;
}

void DeviceGraph::replay() const {
  if (!recording_) fail("graph", "replay of a graph that was never captured");
  backend::backend_for(device_).replay_graph(recording_, device_);
}

}  // namespace fovea
