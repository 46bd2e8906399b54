// The zoo's resnet, resnext, wide resnet, senet, densenet, shufflenet, xception, inception-resnet families.
#include "fovea/models/registry.h"

namespace fovea::models {

std::vector<ZooEntry> zoo_residual() { return {}; }

}  // namespace fovea::models
