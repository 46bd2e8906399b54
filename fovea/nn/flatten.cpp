#include "fovea/nn/flatten.h"

namespace fovea::nn {

std::string Flatten::extra_repr() const { return fmt::format("start_dim={}, end_dim={}", o_.start, o_.end); }

}  // namespace fovea::nn
