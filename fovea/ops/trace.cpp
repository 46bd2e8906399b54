#include "fovea/ops/trace.h"

namespace fovea::trace {

Sink*& current_sink() {
  thread_local Sink* s = nullptr;
  return s;
}

void record(std::string type, std::vector<Tensor> inputs, const Tensor& output, Attrs attrs) {
  if (Sink* s = current_sink()) s->record({std::move(type), std::move(inputs), output, std::move(attrs)});
}

}  // namespace fovea::trace
