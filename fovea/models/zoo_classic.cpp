// The zoo's alexnet, zfnet, vgg, googlenet, squeezenet, mobilenet families.
#include "fovea/models/registry.h"

namespace fovea::models {

std::vector<ZooEntry> zoo_classic() { return {}; }

}  // namespace fovea::models
